"""One SGD Step from the Training page shows on its plots."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.plot_widgets import FEW_POINTS


def test_a_single_step_is_drawn_as_a_point_and_long_runs_as_lines(qtbot, window) -> None:
    panel, state = window.training, window.state
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(state.history) == 1, timeout=30_000)
    panel.redraw()
    # a pen alone draws nothing through one point: the point is dotted
    x, y = panel.loss_curve.getData()
    assert list(x) == [1]
    assert 10 ** y[0] == pytest.approx(state.history[0].loss)  # a log axis
    assert panel.loss_curve.opts["symbol"] == "o"
    assert panel.loss_curve.scatter.data.size == 1
    (left, right), _ = panel.loss_plot.getPlotItem().viewRange()
    assert left < 1 < right
    assert 1 - left >= 0.25 * (right - left)  # off the edge
    pen = panel.loss_curve.opts["pen"].color()
    assert panel.loss_curve.opts["symbolBrush"].color() == pen
    shown = [curve for curve in panel.layer_curves["ratio"] if curve.isVisible()]
    assert shown
    assert all(curve.opts["symbol"] == "o" for curve in shown)
    # past a few points the dots go: lines carry long runs
    panel.steps_spin.setValue(FEW_POINTS + 5)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not state.is_training(), timeout=30_000)
    panel.redraw()
    assert len(state.history) == FEW_POINTS + 5
    assert panel.loss_curve.opts["symbol"] is None
    assert all(curve.opts["symbol"] is None for curve in shown)
    # Reset empties the plot; the next Step dots its point again
    qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not state.history, timeout=30_000)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(state.history) == 1, timeout=30_000)
    panel.redraw()
    assert panel.loss_curve.opts["symbol"] == "o"
