"""The Norms lab panel driven as a person would: switching the chain's norm, training
both chains and scrubbing the timeline, clicking the axis grid, measuring the cost.
Expected numbers come from the engine's functions called here, and masks by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from engine.core.specs import NetworkSpec, repeated_block
from engine.data.covariate_shift import record_covariate_shift
from engine.data.norms_lab import side_by_side
from engine.data.session import GeneratedData, Session
from engine.data.tasks import TrainTask
from gui.norms.subject import CURRENT, PRESET_XAVIER, subject_for
from gui.panels.norms_lab_panel import NormsLabPanel
from gui.state import AppState
from tests.gui.conftest import choose

NETWORK = repeated_block(2, 8, 4, "tanh")


@pytest.fixture
def panel(qtbot):
    session = Session(format="chainlab/1", name="small", dtype="float64", seed=3,
                      network=NETWORK, loss="bce_with_logits",
                      data=GeneratedData(dataset="spiral", samples=40, noise=0.1),
                      task=TrainTask(lr=0.5, batch_size=16))
    state = AppState(session)
    lab = NormsLabPanel(state)
    qtbot.addWidget(lab)
    lab.resize(1000, 700)
    lab.show()
    qtbot.waitExposed(lab)
    qtbot.waitUntil(lambda: lab.compare.result is not None, timeout=30_000)
    yield lab
    lab.stop()


def table_column(table, column: int) -> list[str]:
    return [table.item(row, column).text() for row in range(table.rowCount())]


def test_switching_the_norm_updates_the_side_by_side_numbers(qtbot, panel) -> None:
    page = panel.compare
    state = panel.state
    assert page.result.kind == "layer"  # the default switch
    choose(qtbot, page.norm_box, "batch")
    qtbot.waitUntil(lambda: page.result is not None and page.result.kind == "batch",
                    timeout=30_000)
    expected = side_by_side(NETWORK, "batch", state.dataset, "bce_with_logits", "float64",
                            3, 16)
    assert table_column(page.table, 4) == [f"{v:.4g}" for v in expected.with_norm.post_std]
    assert table_column(page.table, 5) == [f"{v:.4g}" for v in expected.without.grad_weight]
    assert table_column(page.table, 6) == [f"{v:.4g}" for v in expected.with_norm.grad_weight]
    # the plotted means are the engine's too
    _x, y = page.post_plot.items[1][1].getData()
    np.testing.assert_allclose(y, expected.with_norm.post_mean)
    assert page.table.item(4, 0).text() == "4 (output)"
    choose(qtbot, page.norm_box, "none")
    qtbot.waitUntil(lambda: page.result is not None and page.result.kind is None,
                    timeout=30_000)
    assert table_column(page.table, 1) == table_column(page.table, 2)  # nothing differs
    with qtbot.waitSignal(panel.norm_chosen_for_chain, timeout=5_000) as chosen:
        qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["none"]
    assert state.network == NETWORK  # the panel never edits the state


def test_a_residual_chain_gets_its_blocks_own_rows_and_a_norm_inside_each(qtbot) -> None:
    network = repeated_block(2, 8, 3, "tanh", residual=True)  # projection, 3 blocks, output
    session = Session(format="chainlab/1", name="residual", dtype="float64", seed=2,
                      network=network, loss="bce_with_logits",
                      data=GeneratedData(dataset="spiral", samples=40, noise=0.1),
                      task=TrainTask(lr=0.5, batch_size=16))
    lab = NormsLabPanel(AppState(session))
    qtbot.addWidget(lab)
    lab.resize(1000, 700)
    lab.show()
    try:
        page = lab.compare
        qtbot.waitUntil(lambda: page.result is not None, timeout=30_000)
        assert table_column(page.table, 0) == ["0", "1 (residual)", "2 (residual)",
                                               "3 (residual)", "4 (output)"]
        assert "residual stream" in page.status.text()
        expected = side_by_side(network, "layer", lab.state.dataset, "bce_with_logits",
                                "float64", 2, 16)
        # the branch of every block receives a layer-normed x: std 1 over the batch
        assert table_column(page.table, 4) == [f"{v:.4g}" for v in expected.with_norm.post_std]
        assert table_column(page.table, 4)[1:4] == ["1", "1", "1"]
        # the residual stream itself is not normalised: its std is the same on both sides
        # in the first block
        assert table_column(page.table, 1)[1] == table_column(page.table, 2)[1]
        lab.tabs.setCurrentWidget(lab.shift)
        assert lab.shift.block_spin.maximum() == 3  # the projection and the 3 blocks
    finally:
        lab.stop()


def test_covariate_shift_run_fills_the_image_and_the_slider_scrubs(qtbot, panel) -> None:
    page = panel.shift
    panel.tabs.setCurrentWidget(page)
    for spin, value in ((page.steps_spin, 20), (page.every_spin, 5)):
        spin.selectAll()
        qtbot.keyClicks(spin, str(value))
        qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert page.batch_spin.value() == 16  # the session's settings
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=60_000)
    expected = record_covariate_shift(page.config(), panel.state.dataset)
    record = page.record
    assert record.steps.tolist() == [0, 5, 10, 15, 20]
    np.testing.assert_array_equal(record.with_norm.counts, expected.with_norm.counts)
    page.redraw.flush()
    image = page.images["without"].image
    assert image.shape == (41, 5)  # value bins × recorded steps
    np.testing.assert_array_equal(image, expected.without.counts.T)
    assert page.slider.maximum() == 4
    assert page.slider.value() == 4  # follows the run to its end
    page.slider.setFocus()
    qtbot.keyClick(page.slider, Qt.Key.Key_Home)
    page.redraw.flush()
    assert page.slider_label.text() == "step 0"
    _, counts = page.hist_curves[0].getData()
    np.testing.assert_array_equal(counts, expected.without.counts[0])
    qtbot.keyClick(page.slider, Qt.Key.Key_Right)
    qtbot.keyClick(page.slider, Qt.Key.Key_Right)
    page.redraw.flush()
    assert page.slider_label.text() == "step 10"
    _, counts = page.hist_curves[1].getData()
    np.testing.assert_array_equal(counts, expected.with_norm.counts[2])
    assert f"std {expected.with_norm.std[2]:.3g}" in page.step_text.text()
    assert page.cursors[0].value() == 10


def click_cell(qtbot, grid, row: int, column: int) -> None:
    centre = grid.cell_rect(row, column).center().toPoint()
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=centre)


def test_axis_grid_highlights_a_column_for_batch_norm_and_a_row_for_layer_norm(
        qtbot, panel) -> None:
    page = panel.axis
    tab_bar_at = panel.tabs.tabBar().mapTo(panel, panel.tabs.tabBar().rect().topLeft())
    panel.tabs.setCurrentWidget(page)
    # the axis page has its own small batch: the subject is greyed out, not hidden (the
    # tab bar jumped up under the pointer when the row hid)
    assert not panel.subject_box.isEnabled()
    assert "not used here" in panel.subject_note.text()
    panel.layout().activate()  # lay the panel out now, as the next paint would
    assert panel.tabs.tabBar().mapTo(panel, panel.tabs.tabBar().rect().topLeft()) \
        == tab_bar_at
    qtbot.mouseClick(page.kind_buttons["batch"], Qt.MouseButton.LeftButton)
    click_cell(qtbot, page.grid, 2, 3)
    assert page.grid.highlighted() == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert page.grid.selected == (2, 3)
    assert "4 highlighted entries" in page.entry_text.text()
    column = page.values[:, 3]
    assert f"mean: {column.mean():.4g}" in page.entry_text.text()
    qtbot.mouseClick(page.kind_buttons["layer"], Qt.MouseButton.LeftButton)
    assert page.grid.highlighted() == [(2, c) for c in range(6)]
    row = page.values[2]
    normalised = (row[3] - row.mean()) / np.sqrt(row.var() + 1e-5)
    assert f"<b>{normalised:.4g}</b>" in page.entry_text.text()
    click_cell(qtbot, page.grid, 0, 0)
    assert page.grid.highlighted() == [(0, c) for c in range(6)]
    assert "Expected more than 1 value per channel when training" in page.one_text.text()
    assert "BatchTooSmallError" in page.one_text.text()
    assert page.mode_table.item(1, 1).text() == "0"  # layer norm: train = eval


def test_cost_measure_fills_the_table(qtbot, panel) -> None:
    page = panel.cost
    panel.tabs.setCurrentWidget(page)
    assert page.reductions.item(2, 3).text() == "1"  # RMS: one reduction
    assert page.reductions.item(1, 3).text() == "2"  # layer: mean, then variance
    for spin, value in ((page.batch_spin, 8), (page.width_spin, 16)):
        spin.selectAll()
        qtbot.keyClicks(spin, str(value))
    with qtbot.waitSignal(page.task.done, timeout=60_000):
        qtbot.mouseClick(page.measure_button, Qt.MouseButton.LeftButton)
    assert page.timings.rowCount() == 5
    assert table_column(page.timings, 1) == ["nn.BatchNorm1d", "nn.LayerNorm", "nn.RMSNorm",
                                              "F.normalize(p=1)", "F.normalize(p=2)"]
    assert all(text.endswith("µs") for text in table_column(page.timings, 2))
    assert "batch 8 × width 16" in page.environment.text()
    assert "thread" in page.environment.text()
    assert page.measure_button.isEnabled()
    assert page.report.budget_s == 2.5  # the button's default, not clicked's bool


def test_plots_and_subjects(qtbot, panel) -> None:
    plots = panel.plots()
    assert len(plots) == 9
    assert all(isinstance(p, pg.PlotWidget) for p in plots)
    page = panel.compare
    choose(qtbot, panel.subject_box, panel.subject_box.itemText(1))  # the deep preset
    qtbot.waitUntil(lambda: page.result is not None and len(page.result.without.pre_std) == 21,
                    timeout=60_000)
    assert panel.shift.block_spin.maximum() == 19


def test_the_seed_example_session_starts_the_lab_on_a_preset_and_says_why(qtbot) -> None:
    """A chain one unit wide gave every plot std 0 and no gradient with layer norm."""
    lab = NormsLabPanel(AppState())  # the default session: the seed example
    qtbot.addWidget(lab)
    lab.show()
    qtbot.waitUntil(lambda: lab.compare.result is not None, timeout=30_000)
    assert lab.subject_box.currentText() == PRESET_XAVIER
    assert "wider than one unit" in lab.subject_note.text()
    assert max(lab.compare.result.without.pre_std) > 0
    choose(qtbot, lab.subject_box, CURRENT)  # still there for whoever wants it
    assert "nothing to average over" in lab.subject_note.text()
    # the note follows the session: a wide chain needs none, File > New brings it back
    lab.state.set_network(NETWORK)
    assert lab.subject_note.text() == ""
    lab.state.new_session()
    assert "nothing to average over" in lab.subject_note.text()
    lab.stop()


def test_a_residual_chains_inner_layers_count_as_hidden_width() -> None:
    network = NetworkSpec.model_validate({"input_size": 2, "layers": [
        {"type": "residual", "layers": [{"type": "linear", "out_features": 2},
                                        {"type": "activation", "kind": "tanh"}]},
        {"type": "residual", "layers": [{"type": "linear", "out_features": 2}]},
        {"type": "linear", "out_features": 1}]})
    subject = subject_for(CURRENT, AppState())
    assert dataclasses.replace(subject, network=network).widest_hidden() == 2
