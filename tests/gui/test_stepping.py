"""Stepping through the seed example with the toolbar, sliders and the builder."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from engine.core.layers import Activation
from gui.chain_rule_text import fmt
from tests.gui.conftest import choose, click_action


def test_step_forward_and_backward_show_the_chain_rule(qtbot, window) -> None:
    for expected in range(1, 5):
        click_action(qtbot, window, "Step forward")
        assert window.state.pass_.forward_done == expected
    assert "forward 4/4" in window.chain_view.phase_label.text()
    assert window.state.pass_.loss is not None
    for _ in range(3):
        click_action(qtbot, window, "Step backward")
    # the current layer is the first tanh: dL/dz = dL/da × f'(z) with the engine's numbers
    record = window.state.pass_.record(1)
    upstream, local, product = (float(record.grad_output[0, 0]), float(record.local[0, 0]),
                                float(record.grad_input[0, 0]))
    assert local == pytest.approx(1 - math.tanh(3.3) ** 2, rel=1e-12)
    # the views redraw at display rate: wait for the frame, as a person does
    qtbot.waitUntil(lambda: "Layer 1" in window.chain_view.details.toPlainText(),
                    timeout=2000)
    text = window.chain_view.details.toPlainText()
    assert f"dL/dz0 = dL/da × f′(z) = {fmt(upstream)} × {fmt(local)} = {fmt(product)}" in text
    assert "= 0.01558 × 0.005427 = 8.457e−05" in text
    assert "backward 3/4" in window.phase_label.text()


def test_the_chain_rule_on_screen_stays_true_after_other_passes(qtbot, window) -> None:
    """Issue 8: after "Quantisation error of the chain" the chain view read
    0.01558 × 0.01621 = 8.457e−05: the report's passes had rewritten the layer's f'(z)."""
    for _ in range(4):
        click_action(qtbot, window, "Step forward")
    for _ in range(3):
        click_action(qtbot, window, "Step backward")
    qtbot.waitUntil(lambda: "= 0.01558 × 0.005427 = 8.457e−05"
                    in window.chain_view.details.toPlainText(), timeout=2000)
    shown = window.chain_view.details.toPlainText()
    before = [t.clone() for _, t in window.state.chain.parameters()]
    qtbot.mouseClick(window.evolution.quantise_button, Qt.MouseButton.LeftButton)
    assert "4-bit grid" in window.evolution.quantisation_status.text()
    window.chain_view.select_layer(1)  # redraws the details from the pass as it is now
    assert window.chain_view.details.toPlainText() == shown
    record = window.state.pass_.record(1)
    assert record.grad_input[0, 0] == record.grad_output[0, 0] * record.local[0, 0]
    after = [t for _, t in window.state.chain.parameters()]
    assert all(a.equal(b) for a, b in zip(before, after, strict=True))


def test_backward_before_forward_is_a_message_not_a_crash(qtbot, window) -> None:
    click_action(qtbot, window, "Reset")
    click_action(qtbot, window, "Step forward")
    with qtbot.waitSignal(window.state.message_posted, timeout=1000) as blocker:
        click_action(qtbot, window, "Step backward")
    assert "finish the forward pass first" in blocker.args[0]
    assert window.state.pass_.backward_done == 0
    assert "finish the forward pass first" in window.statusBar().currentMessage()
    # once the person does as asked, the refusal goes: it would contradict the pass
    click_action(qtbot, window, "Step forward")
    assert window.statusBar().currentMessage() == ""
    # ... and a full pass (F5, a slider) does the same; other messages stay
    click_action(qtbot, window, "Reset")
    click_action(qtbot, window, "Step forward")
    click_action(qtbot, window, "Step backward")
    assert "finish the forward pass first" in window.statusBar().currentMessage()
    click_action(qtbot, window, "Full pass")
    assert window.statusBar().currentMessage() == ""
    # past the loss Step forward begins a new pass, and says so
    click_action(qtbot, window, "Step forward")
    assert window.state.pass_.forward_done == 1
    assert window.statusBar().currentMessage().startswith("a new pass from the input")
    window.statusBar().showMessage("GA run 1 ended: PSO chosen")  # not a refusal: it stays
    click_action(qtbot, window, "Step forward")
    assert window.statusBar().currentMessage() == "GA run 1 ended: PSO chosen"


def test_dragging_a_slider_recomputes_live(qtbot, window) -> None:
    click_action(qtbot, window, "Full pass")
    before = float(window.state.pass_.loss)
    slider = window.inputs.sliders[0].slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: float(window.state.pass_.inputs[0, 0]) != 10.0, timeout=2000)
    assert window.state.pass_.phase == "done"
    assert float(window.state.pass_.loss) != before
    shown = window.inputs.sliders[0].field.value()
    assert float(window.state.pass_.inputs[0, 0]) == pytest.approx(shown)


def test_global_activation_switch_flips_every_layer(qtbot, window) -> None:
    builder = window.builder
    builder.repeat_depth.setValue(30)
    qtbot.mouseClick(builder.repeat_button, Qt.MouseButton.LeftButton)
    kinds = {layer.kind for layer in window.state.chain.layers if isinstance(layer, Activation)}
    assert kinds == {"tanh"}
    choose(qtbot, builder.global_activation, "relu")
    kinds = {layer.kind for layer in window.state.chain.layers if isinstance(layer, Activation)}
    assert kinds == {"relu"}
    assert len(window.state.chain.layers) == 61
    assert builder.layer_list.count() == 61
    assert "activation: relu" in builder.layer_list.item(1).text()
    assert window.state.dirty


def test_builder_adds_removes_and_reorders(qtbot, window) -> None:
    builder = window.builder
    builder.layer_list.setCurrentRow(1)
    qtbot.mouseClick(builder.add_norm, Qt.MouseButton.LeftButton)
    types = [layer.type for layer in window.state.chain.layers]
    assert types == ["linear", "activation", "norm", "linear", "activation"]
    assert builder.layer_list.currentRow() == 2
    qtbot.mouseClick(builder.up_button, Qt.MouseButton.LeftButton)
    assert [layer.type for layer in window.state.chain.layers][1] == "norm"
    choose(qtbot, builder.editor.norm_box, "rms")
    assert window.state.chain.layers[1].kind == "rms"
    qtbot.mouseClick(builder.remove_button, Qt.MouseButton.LeftButton)
    assert [layer.type for layer in window.state.chain.layers] == [
        "linear", "activation", "linear", "activation"]


def test_preset_deep_sigmoid_shows_vanishing_gradients(qtbot, window) -> None:
    window.training.samples_spin.setValue(64)
    choose(qtbot, window.training.dataset_box, "circle")
    builder = window.builder
    choose(qtbot, builder.preset_box, "Deep sigmoid, 30 layers, default init")
    qtbot.mouseClick(builder.preset_button, Qt.MouseButton.LeftButton)
    assert builder.preset_box.currentIndex() == -1  # "Presets…" again, naming no chain
    window.gradients.redraw()
    assert "vanishing" in window.gradients.summary.text()
    bars = window.gradients.weight_bars
    assert len(bars.values) == 31
    assert bars.values[0] < bars.values[-1] * 1e-3


def test_batch_norm_on_the_one_sample_of_the_seed_says_why_on_the_page_and_in_evolution(
        qtbot, window) -> None:
    builder = window.builder
    choose(qtbot, builder.preset_box, "Deep tanh + batch norm, 30 layers")
    qtbot.mouseClick(builder.preset_button, Qt.MouseButton.LeftButton)
    click_action(qtbot, window, "Full pass")
    window.chain_view.redraw()
    text = window.chain_view.phase_label.text()
    assert "⚠ batch norm needs a batch of at least 2 samples" in text
    assert "the data has one sample; generate or load more on the Training page" in text
    # the page keeps saying it (a status-bar message goes after a few seconds)
    window.statusBar().clearMessage()
    window.show_page("gradients")
    window.show_page("chain")
    window.chain_view.redraw()
    assert "⚠ batch norm needs" in window.chain_view.phase_label.text()
    # evolution refuses it too, rather than scoring every individual alike
    with qtbot.waitSignal(window.state.evolution.message_posted, timeout=10_000) as said:
        qtbot.mouseClick(window.evolution.start_button, Qt.MouseButton.LeftButton)
    assert said.args[0].startswith("cannot evolve: batch norm needs a batch of at least 2")
    qtbot.waitUntil(lambda: window.state.slot.running == "", timeout=10_000)
    assert window.state.evolution.history == []
    # with more samples the pass runs and the warning goes
    window.training.samples_spin.setValue(32)
    choose(qtbot, window.training.dataset_box, "circle")
    click_action(qtbot, window, "Full pass")
    window.chain_view.redraw()
    assert "⚠" not in window.chain_view.phase_label.text()
