"""One SGD Step from the Training page shows on its plots."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from gui.plot_widgets import FEW_POINTS, PEAK_BINS_PER_PIXEL, downsample_to_pixels, titled_plot


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
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)  # a second step
    qtbot.waitUntil(lambda: len(state.history) == 2, timeout=30_000)
    panel.redraw()
    (left, right), _ = panel.loss_plot.getPlotItem().viewRange()
    assert right > 2  # the newest point is not on the right edge either
    pen = panel.loss_curve.opts["pen"].color()
    assert panel.loss_curve.opts["symbolBrush"].color() == pen
    # the seed chain's layers hold one weight each: no std, so no ratio, and the keys say so
    ratio_title = panel.ratio_plot.getPlotItem().chainlab_title
    assert "layer 0*" in ratio_title
    assert "a single weight: no ratio" in ratio_title
    assert "*" not in panel.weight_plot.getPlotItem().chainlab_title
    shown = [curve for curve in panel.layer_curves["output"] if curve.isVisible()]
    assert shown
    assert all(curve.opts["symbol"] == "o" for curve in shown)
    # NaN ratios get no dot (pyqtgraph's dots at NaN crash its PNG export)
    assert all(curve.opts["symbol"] is None for curve in panel.layer_curves["ratio"])
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


def test_a_weight_flipping_every_step_stays_drawn_over_a_long_run(qtbot, window) -> None:
    """Weights alternating between two norms each step (a 2-wide layer oscillating at
    lr 0.1) drew nothing past the point where they began: pyqtgraph's 5 bins a pixel
    made sub-pixel zigzags that Qt's aliased rasteriser drops."""
    panel = window.training
    window.show_page("training")
    panel.resize(1000, 700)
    steps = np.arange(1, 12_001, dtype=float)
    flipping = np.where(steps % 2 == 0, 0.0786, 0.0835)
    settles = 0.08 + 0.3 * np.exp(-steps / 300)
    layer0 = np.where(steps < 5_000, settles, flipping)
    nan = np.full_like(steps, np.nan)
    # step, loss, ratios (2 layers), weight norms, output norms, swamped shares
    rows = np.column_stack([steps, 0.9 + 0 * steps, nan, nan, layer0, 1.5 + 0 * steps,
                            nan, nan, nan, nan])
    panel.table.extend(rows)
    panel.redraw()
    image = panel.weight_plot.grab().toImage()  # grab() paints the plot as it is now
    curve = panel.layer_curves["weight"][0]
    colour = curve.opts["pen"].color()
    view = panel.weight_plot.getPlotItem().getViewBox()
    box = view.mapRectToScene(view.boundingRect()).toRect()
    columns = set()
    for x in range(box.left(), box.right()):
        for y in range(box.top(), box.bottom()):
            pixel = image.pixelColor(x, y)
            if abs(pixel.red() - colour.red()) + abs(pixel.green() - colour.green()) \
                    + abs(pixel.blue() - colour.blue()) < 60:
                columns.add(x)
    # the curve fills every pixel column from step 1 to 12 000 (its x range is 0.8 of
    # the view's: it grows by a quarter when outgrown)
    left = view.mapViewToScene(pg.Point(1, 0)).x()
    right = view.mapViewToScene(pg.Point(12_000, 0)).x()
    wanted = set(range(int(left) + 2, int(right) - 1))
    assert len(wanted & columns) >= 0.97 * len(wanted)


def test_pixel_downsampling_sets_every_curve_and_passes_over_scatters(qtbot) -> None:
    plot = titled_plot("t", "step", "loss")
    qtbot.addWidget(plot)
    curve = plot.plot([1.0, 2.0], [3.0, 4.0])
    plot.addItem(pg.ScatterPlotItem([1.0], [2.0]))  # no downsampling options of its own
    downsample_to_pixels(plot)
    assert curve.opts["autoDownsampleFactor"] == PEAK_BINS_PER_PIXEL
    later = plot.plot([1.0, 2.0], [1.0, 1.0])  # a curve added afterwards: call it again
    downsample_to_pixels(plot)
    assert later.opts["autoDownsampleFactor"] == PEAK_BINS_PER_PIXEL
