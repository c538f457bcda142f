"""The live window as a person uses it (issue 10): views that stay true, sliders that
reach the interesting range, a wheel that scrolls, a control for every field, help that
stays open."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from gui.chain_rule_text import fmt
from tests.gui.conftest import choose, click_action


def test_seed_example_slider_reaches_tanh_out_of_saturation(qtbot, window) -> None:
    slider = window.inputs.sliders[0]
    assert slider.low <= -12  # x = 10 sits inside, as does 0.5
    assert slider.high >= 12
    slider.field.setValue(0.5)  # typed, as a person does
    qtbot.waitUntil(lambda: float(window.state.pass_.inputs[0, 0]) == 0.5, timeout=2000)
    # the handle follows the value: 0.5 is in the middle of −12…12, not stuck at an end
    share = slider.slider.value() / slider.slider.maximum()
    assert share == pytest.approx((0.5 - slider.low) / (slider.high - slider.low), abs=1e-3)
    record = window.state.pass_.record(1)  # the first tanh: f'(0.45) is far from 0
    assert record.local[0, 0] == pytest.approx(1 - math.tanh(0.45) ** 2, rel=1e-12)
    slider.field.setValue(50.0)  # beyond the range: the range widens to hold it
    assert slider.high >= 50
    assert 0 < slider.slider.value() < slider.slider.maximum()


def test_the_wheel_scrolls_instead_of_editing_unfocused_numbers(qtbot, window) -> None:
    builder = window.builder
    builder.repeat_toggle.setChecked(True)
    spin = builder.repeat_depth
    before = spin.value()

    def wheel() -> None:
        centre = QPointF(spin.rect().center())
        event = QWheelEvent(centre, QPointF(spin.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(spin, event)

    window.training.lr_spin.setFocus()  # focus elsewhere
    wheel()
    assert spin.value() == before
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    wheel()
    assert spin.value() == before - 1


def test_every_initialiser_parameter_has_a_control(qtbot, window) -> None:
    builder = window.builder
    builder.layer_list.setCurrentRow(0)
    editor = builder.editor
    choose(qtbot, editor.init_box, "uniform")
    assert editor.bound_spin.isVisible()
    assert not editor.std_spin.isVisible()
    editor.bound_spin.setValue(0.25)
    spec = window.state.network.layers[0]
    assert (spec.init.kind, spec.init.a) == ("uniform", 0.25)
    weight = window.state.chain.layers[0].params["weight"]
    assert float(weight.abs().max()) <= 0.25
    choose(qtbot, editor.init_box, "constant")
    editor.constant_weight.setValue(0.7)
    assert float(window.state.chain.layers[0].params["weight"][0, 0]) == pytest.approx(0.7)


def test_a_weight_typed_in_the_table_changes_the_chain_rule(qtbot, window) -> None:
    window.chain_view.select_layer(0)
    table = window.chain_view.weights.table
    assert window.chain_view.weights.isVisible()
    assert table.item(0, 0).text() == "0.3"
    table.item(0, 0).setText("0.05")  # as when a person types into the cell
    assert float(window.state.chain.layers[0].params["weight"][0, 0]) == pytest.approx(0.05)
    z = 0.05 * 10 + 0.3
    record = window.state.pass_.record(1)
    assert record.local[0, 0] == pytest.approx(1 - math.tanh(z) ** 2, rel=1e-12)
    assert window.state.dirty
    bias = float(window.state.chain.layers[0].params["bias"][0])
    table.item(0, 1).setText("not a number")  # the bias column
    assert "not a number" in window.chain_view.weights.caption.text()
    assert table.item(0, 1).text() == repr(bias)  # the cell shows what the chain holds
    table.item(0, 0).setText("inf")
    assert table.item(0, 0).text() == "0.05"


def test_the_weights_table_follows_the_layer_the_details_show(qtbot, window) -> None:
    """With no layer clicked the details show the current layer: its weights too (the
    table stayed hidden until a click)."""
    view = window.chain_view
    window.show_page("chain")
    assert view.selected == -1
    assert "Layer 0" in view.details.toPlainText()
    qtbot.waitUntil(view.weights.isVisible, timeout=5_000)
    view.weights.table.item(0, 0).setText("0.125")  # edits the layer it shows
    assert float(window.state.chain.layers[0].params["weight"][0, 0]) == 0.125
    # a float64 is shown whole, not cut to "0.299915429…" (lesson 7 quotes 8 digits)
    table = view.weights.table
    text = "-0.30000000000000004"  # a float64's shortest repr, 17 digits
    table.item(0, 1).setText(text)

    def whole() -> bool:  # the views redraw at display rate
        return table.item(0, 1).text() == text and \
            table.columnWidth(1) > table.fontMetrics().horizontalAdvance(text) + 6

    qtbot.waitUntil(whole, timeout=5_000)
    window.state.step_forward()  # a new pass: layer 0 again, then the tanh (no table)
    window.state.step_forward()
    qtbot.waitUntil(lambda: "Layer 1" in view.details.toPlainText(), timeout=5_000)
    assert not view.weights.isVisible()
    window.state.step_forward()
    qtbot.waitUntil(lambda: "Layer 2" in view.details.toPlainText(), timeout=5_000)
    assert view.weights.isVisible()
    view.weights.table.item(0, 0).setText("0.5")
    assert float(window.state.chain.layers[2].params["weight"][0, 0]) == 0.5


def test_weight_decay_nesterov_and_precision_reach_the_engine(qtbot, window) -> None:
    panel = window.training
    panel.decay_spin.setValue(0.01)
    panel.nesterov_check.setChecked(True)
    panel.momentum_spin.setValue(0.9)
    settings = window.state.training.settings
    assert (settings.weight_decay, settings.nesterov, settings.momentum) == (0.01, True, 0.9)
    choose(qtbot, window.builder.dtype_box, "float32")
    assert window.state.chain.dtype == torch.float32
    assert window.state.session.dtype == "float32"
    assert float(window.state.chain.layers[0].params["weight"][0, 0]) == \
        pytest.approx(0.3, rel=1e-7)


def test_gradient_views_stay_live_while_training(qtbot, window) -> None:
    window.show_page("gradients")
    panel = window.gradients
    window.training.samples_spin.setValue(64)
    choose(qtbot, window.training.dataset_box, "spiral")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    panel.redraw()
    first = panel.weight_bars.values.copy()
    window.training.steps_spin.setValue(1_000_000)
    window.state.start_training()
    # new bars arrive while the run goes on, from the worker's snapshots
    qtbot.waitUntil(lambda: window.state.is_training() and len(window.state.history) > 50
                    and not np.array_equal(panel.weight_bars.values, first), timeout=20_000)
    assert window.state.is_training()
    window.state.training.pause()


def test_views_are_true_after_reset_and_use_best(qtbot, window) -> None:
    panel = window.training
    panel.samples_spin.setValue(64)
    choose(qtbot, panel.dataset_box, "xor")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, panel.loss_box, "mse")
    panel.lr_spin.setValue(5.0)
    window.show_page("training")
    for _ in range(6):  # the loss climbs to ~1e14
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    panel.redraw()
    panel.loss_plot.getPlotItem().getViewBox().updateAutoRange()  # as a paint would
    _low, high = panel.loss_plot.getPlotItem().getViewBox().viewRange()[1]
    assert high > 10  # log10 units: the axis reaches beyond 1e10
    click_action(qtbot, window, "Reset")
    panel.redraw()
    panel.loss_plot.getPlotItem().getViewBox().updateAutoRange()
    _low, high = panel.loss_plot.getPlotItem().getViewBox().viewRange()[1]
    assert high < 2  # right after Reset, before any step: not the old run's range
    panel.lr_spin.setValue(0.01)
    for _ in range(3):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    panel.redraw()
    panel.loss_plot.getPlotItem().getViewBox().updateAutoRange()
    _low, high = panel.loss_plot.getPlotItem().getViewBox().viewRange()[1]
    # the axis fits the new run (losses near 1), not the 1e14 of the one before Reset
    assert high < 2
    # Use best: the training boundary shows the GA's best network
    evolution = window.evolution
    evolution.population_spin.setValue(20)
    evolution.generations_spin.setValue(2)
    qtbot.mouseClick(evolution.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.state.evolution.is_running(), timeout=20_000)
    best = window.state.evolution.best_chain()
    qtbot.mouseClick(evolution.use_best_button, Qt.MouseButton.LeftButton)
    panel.redraw()
    extent = window.state.boundary_extent()
    grid = torch.tensor(np.array([[extent[0], extent[2]]]), dtype=best.dtype)
    shown = panel.boundary.values
    assert shown is not None
    assert float(shown[0, 0]) == pytest.approx(float(best.infer(grid)[0, 0]), rel=1e-5)


def test_no_minus_zero_in_the_chain_rule() -> None:
    assert fmt(-0.0) == "0"
    assert fmt(-1e-30 * 0) == "0"
    assert fmt(-0.00001) == "−1e−05"


def test_the_clicked_node_is_outlined(qtbot, window) -> None:
    window.chain_view.select_layer(2)
    assert window.chain_view.item.selected == 2
    window.chain_view.select_layer(-1)
    assert window.chain_view.item.selected == -1


def test_the_guide_stays_open_and_follows_the_page(qtbot, window) -> None:
    dock = window.docks["guide"]
    assert not dock.isVisible()
    pages_width = window.pages.width()
    window.toggle_guide()
    assert dock.isVisible()
    # a tab beside the inputs, on top: the pages keep their width
    assert window.docks["inputs"] in window.tabifiedDockWidgets(dock)
    assert not dock.visibleRegion().isEmpty()
    QApplication.processEvents()
    assert window.pages.width() == pages_width
    window.show_page("training")
    assert "Training page" in window.guide.text.toPlainText()
    window.show_page("evolution")
    assert "genetic algorithm" in window.guide.text.toPlainText()
    assert window.isEnabled()  # not a modal box: the window goes on working


@pytest.mark.parametrize(("low", "high"), [(-0.3, 0.1), (-1.05, -0.95), (-40.0, -1.0),
                                           (-3.2, 1.1), (0.2, 0.25), (0.1, 1.65),
                                           (0.6, 2.2)])
def test_log_axes_label_every_range(qtbot, low: float, high: float) -> None:
    """Issue 10: the GA-vs-SGD axis had no tick labels when its range was under a decade."""
    from gui.plot_widgets import LogAxis

    axis = LogAxis("left")
    (spacing, major), _minor = axis.tickValues(low, high, 300)
    labels = [text for text in axis.tickStrings(major, 1.0, spacing) if text]
    assert len(labels) >= 3
    assert all(low - 1e-9 <= v <= high + 1e-9 for v in major)
    for value, text in zip(major, labels, strict=True):  # each label reads its value
        assert math.log10(read_label(text)) == pytest.approx(value, abs=0.02)


def test_a_title_whose_keys_take_two_lines_is_not_cut(qtbot) -> None:
    from gui.plot_widgets import set_keys, titled_plot

    widget = titled_plot("Weight norm ‖W‖", keys=[("layer 0", "#000")])
    qtbot.addWidget(widget)
    keys = [(f"layer {n}", "#000") for n in range(8)]  # four a line: two lines
    set_keys(widget, "Update-to-data ratio std(ΔW)/std(W)", keys)
    item = widget.getPlotItem()
    needed = item.titleLabel.item.boundingRect().height()
    assert needed > 30  # pyqtgraph's fixed row height
    assert item.titleLabel.maximumHeight() >= needed
    assert item.layout.rowMaximumHeight(0) >= needed


@pytest.mark.parametrize(("low", "high"), [(-2e-4, 2e-4), (-1e-6, 1e-6),
                                           (math.log10(0.98), math.log10(1.01)),
                                           (math.log10(0.04), math.log10(0.25)),
                                           (math.log10(4e-5), math.log10(3e-4))])
def test_log_axis_labels_are_distinct_and_of_one_style(qtbot, low: float,
                                                       high: float) -> None:
    """A loss held near 1 read "1, 1, 1"; a 1-2-5 range mixed "0.05, 10⁻¹, 0.2", and one
    around 10⁻⁴ "5e-5, 0.0001, 0.0002"."""
    from gui.plot_widgets import LogAxis

    axis = LogAxis("left")
    (spacing, major), _minor = axis.tickValues(low, high, 400)
    labels = axis.tickStrings(major, 1.0, spacing)
    assert len(labels) >= 3
    assert len(set(labels)) == len(labels), labels
    assert all(label.isascii() for label in labels), labels  # no "10⁻¹" among decimals
    assert len({"e" in label for label in labels}) == 1, labels  # all or none in e-form
    for value, text in zip(major, labels, strict=True):  # each reads its own value
        assert read_label(text) == pytest.approx(10 ** value, rel=(high - low) / 4)


@pytest.mark.parametrize(("orientation", "pixels"), [("left", 150), ("left", 60),
                                                     ("bottom", 200)])
def test_log_axis_labels_never_touch_and_keep_the_roundest(qtbot, orientation: str,
                                                           pixels: int) -> None:
    """0.6, 0.7, 0.8, 0.9 and 1 ran together on a short output-norm axis at 1280x800."""
    from gui.plot_widgets import LogAxis

    axis = LogAxis(orientation)
    low, high = math.log10(0.55), math.log10(3.6)
    (spacing, major), (minor_spacing, minor) = axis.tickValues(low, high, pixels)
    labels = axis.tickStrings(major, 1.0, spacing)
    assert 0.0 in major  # 1, the roundest, is always labelled
    # a value whose label does not fit keeps its (unlabelled) tick: 0.6 ... 0.9, 1, 2, 3
    assert sorted([*major, *minor]) == pytest.approx(
        [math.log10(v) for v in (0.6, 0.7, 0.8, 0.9, 1, 2, 3)])
    assert not any(axis.tickStrings(minor, 1.0, minor_spacing))
    assert len(major) >= 2
    per_pixel = (high - low) / pixels
    pairs = zip(major, labels, strict=True)
    for (a, text_a), (b, text_b) in itertools.pairwise(pairs):
        room = axis.LABEL_HEIGHT_PX if orientation == "left" else \
            (len(text_a) + len(text_b)) / 2 * axis.CHARACTER_PX + 12
        assert (b - a) / per_pixel >= room


def read_label(text: str) -> float:
    """'10⁻³' → 0.001, '10' → 10, '0.005' → 0.005, '2e-5' → 2e-05."""
    superscripts = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    if text.startswith("10") and len(text) > 2 and not text[2:].isascii():
        return 10.0 ** int(text[2:].translate(superscripts))
    return float(text)


def test_the_wheel_still_scrolls_lists(qtbot, window) -> None:
    """The guard must not swallow what lists and tables hand to their scroll bars."""
    window.builder.repeat_toggle.setChecked(True)
    window.builder.repeat_depth.setValue(40)
    window.builder.repeat_button.click()
    assert window.builder.layer_list.count() == 81
    view = window.builder.layer_list
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)  # laid out: 81 rows
    before = bar.value()
    viewport = view.viewport()
    centre = QPointF(viewport.rect().center())
    event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)
    assert bar.value() > before


def test_the_stepping_direction_is_never_cut_at_the_chains_end(qtbot, window) -> None:
    state = window.state
    state.step_forward()  # a new pass
    while state.pass_.forward_done < state.pass_.size:
        state.step_forward()
    view = window.chain_view.view
    qtbot.waitUntil(lambda: view.direction.text() == "loss computed: step backward ←",
                    timeout=5000)  # drawn at the next frame
    assert view.scene().sceneRect().contains(view.direction.sceneBoundingRect())


def test_the_left_docks_never_scroll_sideways(qtbot, window) -> None:
    """A horizontal scroll bar sat under the inputs at 1280x800: the dock's width was
    fixed when the window was built, before the session's sliders (wider) came."""
    from tests.gui.conftest import choose

    window.resize(1280, 800)
    window.training.samples_spin.setValue(200)
    choose(qtbot, window.training.dataset_box, "spiral")  # two sliders, wide ranges
    choose(qtbot, window.builder.preset_box, "Deep tanh, 30 layers, default init")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    window.show_page("training")
    for _ in range(3):  # the layout requests the new sliders posted, and what follows
        QApplication.sendPostedEvents()
        QApplication.processEvents()
    for name in ("builder", "inputs"):
        area = window.docks[name].widget()
        assert area.viewport().width() >= area.widget().minimumSizeHint().width(), name
    assert window.pages.width() >= 900  # the pages keep their room
