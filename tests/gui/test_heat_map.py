"""A heat map drawn from the engine's description: ticks are the axis values, each cell
has its label, the PNG is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg

from engine.core.plots import HeatMapPlot, LinePlot, Series, SmallMultiples
from gui.plot_specs import heat_map_widget, render_plot_png

PLOT = HeatMapPlot("h", "ratio (mean over seeds)", "activation", "depth", ("tanh", "relu"),
                   ("2", "5"), np.array([[0.3, 0.6], [2e-3, np.nan]]),
                   (("0.3", "0.6"), ("0.002", "")), log=True)


def test_cells_ticks_and_labels(qtbot) -> None:
    widget = heat_map_widget(PLOT)
    qtbot.addWidget(widget)
    item = widget.getPlotItem()
    labels = sorted(i.toPlainText() for i in item.items if isinstance(i, pg.TextItem))
    assert labels == ["0.002", "0.3", "0.6"]
    assert item.getAxis("bottom")._tickLevels[0] == [(0, "tanh"), (1, "relu")]
    image = next(i for i in item.items if isinstance(i, pg.ImageItem))
    assert np.allclose(image.getLevels(), (np.log10(2e-3), np.log10(0.6)))


def test_rendered_to_png(qtbot, tmp_path: Path) -> None:
    render_plot_png(PLOT, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_small_multiples_rendered_to_png(qtbot, tmp_path: Path) -> None:
    panel = LinePlot("a", "activation=tanh", "step", "loss",
                     (Series("seed 0", np.arange(3.0), np.array([1.0, 0.5, 0.2])),), log_y=True)
    render_plot_png(SmallMultiples("m", "Loss curves", (panel, panel), 2), tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
