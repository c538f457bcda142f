"""Headless PNGs look like the window's plots: a whole title with its keys, whole-number
ticks for steps and layers, and a deep chain's layers told apart by a colour ramp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from engine.core.plots import LinePlot, Series, SmallMultiples
from gui.plot_specs import plot_widget_for, render_plot_png
from gui.plot_widgets import IntegerAxis


def pixels(path: Path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                              image.bytesPerLine())
    # a copy: the view into the image's memory dies with the image, at this return
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def layers_plot(count: int) -> LinePlot:
    x = np.arange(10.0)
    return LinePlot("update_ratio", "Update ratio", "step", "ratio",
                    tuple(Series(f"layer {2 * k}", x, x + k + 1) for k in range(count)),
                    log_y=True)


def test_the_title_is_drawn_whole_inside_the_png(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "plot.png"
    render_plot_png(layers_plot(2), path)
    image = pixels(path)
    inked_rows = np.flatnonzero((image < 200).any(axis=(1, 2)))
    assert inked_rows[0] >= 2  # a margin above the title: nothing cut at the top edge
    assert image.shape[0] < 700  # the size asked for (900 × 560), not an unlaid-out one


def test_keys_name_the_series_and_steps_are_whole_numbers(qtbot) -> None:
    widget = plot_widget_for(layers_plot(2))
    title = widget.getPlotItem().titleLabel.text
    assert "layer 0" in title
    assert "layer 2" in title
    assert isinstance(widget.getPlotItem().getAxis("bottom"), IntegerAxis)
    names = [item.name() for item in widget.getPlotItem().listDataItems()]
    assert names == ["layer 0", "layer 2"]  # the CSV export's column names


def test_many_layers_get_a_colour_ramp_keyed_at_its_ends(qtbot) -> None:
    widget = plot_widget_for(layers_plot(31))
    title = widget.getPlotItem().titleLabel.text
    assert "layer 0" in title
    assert "layer 60" in title
    assert "layer 2<" not in title
    assert "layer 2&" not in title
    colours = [item.opts["pen"].color().name()
               for item in widget.getPlotItem().listDataItems()]
    assert len(set(colours)) == 31


def test_categories_are_ticked_by_name_and_drawn_as_unjoined_points(qtbot) -> None:
    x = np.arange(3.0)
    plot = LinePlot("sweep_loss", "Final loss", "task.algorithm", "loss",
                    (Series("mean over seeds", x, np.array([0.65, 0.2, 0.45]), "points"),),
                    log_y=True, x_ticks=("ga", "openes", "pso"))
    widget = plot_widget_for(plot)
    qtbot.addWidget(widget)
    item = widget.getPlotItem()
    assert item.getAxis("bottom")._tickLevels[0] == [(0, "ga"), (1, "openes"), (2, "pso")]
    (curve,) = item.listDataItems()
    assert curve.opts["pen"] is None  # nothing joins two categories
    assert curve.opts["symbol"] == "o"
    assert item.viewRange()[0] == [-0.5, 2.5]


def test_small_multiples_label_a_narrow_range_and_title_the_axes(qtbot, tmp_path: Path) -> None:
    x = np.arange(11.0)
    # a GA's best loss (a trial's): its ticks are 0.663, 0.665, ... 0.679
    best = (np.array([0.6794, 0.6742] + [0.6682] * 9),
            np.array([0.6749, 0.6744, 0.6675, 0.6675, 0.6675] + [0.6642] * 6))
    narrow = LinePlot("a", "task.algorithm=ga", "generation", "loss",
                      tuple(Series(f"seed {n}", x, y) for n, y in enumerate(best)), log_y=True)
    wide = LinePlot("b", "task.algorithm=openes", "generation", "loss",
                    (Series("seed 0", x, np.linspace(0.75, 0.6, 11)),), log_y=True)
    path = tmp_path / "m.png"
    render_plot_png(SmallMultiples("m", "Loss curves", (narrow, wide), 2), path)
    image = pixels(path)
    # the leftmost panel's tick numbers and axis title, left of its axis line
    assert (image[80:-40, :40] < 160).any(axis=2).sum() > 50


@pytest.mark.parametrize(("low", "high", "pixels"), [
    (0, 10, 300), (0, 25_000, 250), (0, 25_000, 1200), (3, 7_000_000, 300), (0, 1, 80)])
def test_integer_ticks_are_whole_round_and_leave_room_for_their_labels(
        qtbot, low: int, high: int, pixels: int) -> None:
    axis = IntegerAxis("bottom")
    ((step, ticks),) = axis.tickValues(low, high, pixels)
    assert all(float(t).is_integer() and low <= t <= high for t in ticks)
    digits = str(int(step))
    assert digits[0] in "125"
    assert set(digits[1:]) <= {"0"}
    # each label (about 7 px a digit) with a gap fits the axis's length
    label = max(len(str(int(t))) for t in ticks) * IntegerAxis.DIGIT_PX \
        + IntegerAxis.LABEL_GAP_PX
    assert len(ticks) <= max(2, pixels // label)
    assert 2 <= len(ticks) <= 11
