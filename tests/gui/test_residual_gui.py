"""Residual blocks and the whole-chain norm switch in the window, as a person uses them:
build with "Repeat a block", step and read the chain rule, compare with the plain twin."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.core.specs import LinearSpec, NormSpec, ResidualSpec
from tests.gui.conftest import choose


def build_residual(qtbot, window, depth: int = 10) -> None:
    builder = window.builder
    if not builder.repeat_group.isVisible():
        qtbot.mouseClick(builder.repeat_toggle, Qt.MouseButton.LeftButton)
    # the group's buttons have a size once its layout has run: a click before hits nothing
    qtbot.waitUntil(lambda: not builder.repeat_button.rect().isEmpty()
                    and builder.repeat_residual.width() > 20, timeout=5_000)
    builder.repeat_depth.setValue(depth)
    builder.repeat_width.setValue(8)
    choose(qtbot, builder.repeat_activation, "tanh")
    qtbot.mouseClick(builder.repeat_residual, Qt.MouseButton.LeftButton)
    assert builder.repeat_residual.isChecked()
    qtbot.mouseClick(builder.repeat_button, Qt.MouseButton.LeftButton)


def test_repeat_a_block_builds_residual_blocks(qtbot, window) -> None:
    build_residual(qtbot, window)
    layers = window.state.network.layers
    assert sum(isinstance(spec, ResidualSpec) for spec in layers) == 10
    assert "residual x + f(x)" in window.builder.layer_list.item(1).text()
    choose(qtbot, window.builder.global_activation, "relu")
    inner = [s.kind for spec in window.state.network.layers if isinstance(spec, ResidualSpec)
             for s in spec.layers if s.type == "activation"]
    assert inner == ["relu"] * 10  # the switch reaches into the blocks


def test_the_chain_rule_of_a_residual_block_adds_both_paths(qtbot, window) -> None:
    build_residual(qtbot, window, depth=3)
    window.full_pass_action.trigger()
    chain = window.chain_view
    chain.select_layer(2)
    record = window.state.pass_.record(2)
    text = chain.details.toPlainText()
    assert "identity path" in text
    upstream, through = record.grad_output[0, 0], record.inner[0].grad_input[0, 0]
    assert abs(upstream + through - record.grad_input[0, 0]) < 1e-12  # the engine's sum
    assert f"= {chain_fmt(record.grad_input[0, 0])}" in text


def chain_fmt(value: float) -> str:
    from gui.chain_rule_text import fmt

    return fmt(float(value))


def test_plain_and_residual_twins_side_by_side(qtbot, window) -> None:
    build_residual(qtbot, window, depth=20)
    window.show_page("gradients")
    panel = window.gradients
    view = panel.residual_view
    with qtbot.waitSignal(view.task.done, timeout=60_000):
        panel.right_tabs.setCurrentWidget(view)
    plain, residual = view.profiles
    assert len(plain.weight_grads) == len(residual.weight_grads) == 22
    assert residual.first_last_ratio > 100 * plain.first_last_ratio
    assert "plain" in view.summary.text()
    x, _y = view.curves["residual"].getData()
    assert len(x) == 22


def test_one_switch_sets_every_norm(qtbot, window) -> None:
    builder = window.builder
    choose(qtbot, builder.preset_box, "Deep tanh, 30 layers, default init")
    qtbot.mouseClick(builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, builder.global_norm, "rms")
    layers = window.state.network.layers
    linear = [i for i, spec in enumerate(layers) if isinstance(spec, LinearSpec)]
    assert all(isinstance(layers[i + 1], NormSpec) and layers[i + 1].kind == "rms"
               for i in linear[:-1])
    choose(qtbot, builder.global_norm, "none")
    assert not any(isinstance(spec, NormSpec) for spec in window.state.network.layers)


def test_training_a_residual_chain_plots_every_linear_layer(qtbot, window) -> None:
    build_residual(qtbot, window, depth=3)
    panel = window.training
    for _ in range(3):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    paths = [path for path, _ in window.state.chain.linear_layers()]
    assert paths == ["0", "1.body.0", "2.body.0", "3.body.0", "4"]
    assert len(window.state.history[-1].update_ratios) == len(paths)
    panel.redraw()
    data = panel.table.view()
    assert data.shape == (3, 2 + 4 * len(paths))
    np_rows = data[:, 2 + 2 * len(paths):2 + 3 * len(paths)]  # output norms, per linear layer
    assert (np_rows > 0).all()
    header, _rows = panel._layer_table(0)
    assert header == ["step", *(f"layer_{p}" for p in paths)]


def test_all_norms_reaches_into_residual_blocks(qtbot, window) -> None:
    build_residual(qtbot, window, depth=4)
    builder = window.builder
    assert builder.global_norm.currentText() == "none"
    choose(qtbot, builder.global_norm, "rms")
    blocks = [spec for spec in window.state.network.layers if isinstance(spec, ResidualSpec)]
    assert all(isinstance(b.layers[0], NormSpec) and b.layers[0].kind == "rms"
               for b in blocks)
    assert not any(isinstance(spec, NormSpec) for spec in window.state.network.layers)
    choose(qtbot, builder.global_norm, "none")
    assert not any(isinstance(s, NormSpec) for b in window.state.network.layers
                   if isinstance(b, ResidualSpec) for s in b.layers)


def test_the_norm_switch_shows_the_chains_norm(qtbot, window) -> None:
    builder = window.builder
    choose(qtbot, builder.preset_box, "Deep tanh + layer norm, 30 layers")
    qtbot.mouseClick(builder.preset_button, Qt.MouseButton.LeftButton)
    assert builder.global_norm.currentText() == "layer"
