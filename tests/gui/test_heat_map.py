"""A heat map drawn from the engine's description: ticks are the axis values, each cell
has its label, the PNG is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from engine.core.plots import HeatMapPlot, LinePlot, Series, SmallMultiples
from gui.export import export_svg
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
    image = next(i for i in item.items if isinstance(i, pg.ImageItem) and i.image.ndim == 2)
    assert np.allclose(image.getLevels(), (np.log10(2e-3), np.log10(0.6)))


def test_a_cell_without_a_value_is_grey_not_the_ramps_darkest(qtbot, tmp_path: Path) -> None:
    plot = HeatMapPlot("h", "ratio (mean over seeds)", "activation", "depth", ("tanh", "relu"),
                       ("2", "5"), np.array([[1.6e-6, 0.6], [0.9, np.nan]]),
                       (("1.6e-06", "0.6"), ("0.9", "…")), log=True)
    render_plot_png(plot, tmp_path / "h.png")
    image = QImage(str(tmp_path / "h.png"))
    widget = heat_map_widget(plot)
    qtbot.addWidget(widget)
    widget.resize(900, 560)  # as render_plot_png draws it, so positions map alike
    widget.show()
    qtbot.waitExposed(widget)
    view = widget.getPlotItem().vb

    def colour(x: float, y: float) -> tuple[int, int, int]:
        # beside the label, inside the cell; widget pixels scaled to the PNG's
        point = widget.mapFromScene(view.mapViewToScene(QPointF(x, y)))
        scale = image.width() / widget.width()
        pixel = image.pixelColor(round(point.x() * scale), round(point.y() * scale))
        return pixel.red(), pixel.green(), pixel.blue()

    darkest = colour(-0.4, -0.4)  # 1.6e-6: the bottom of the ramp
    pending = colour(0.6, 0.6)
    assert darkest[2] > darkest[1] + 40  # viridis' dark purple
    assert max(pending) - min(pending) < 8
    assert min(pending) > 180
    assert max(pending) < 240
    labels = [i.toPlainText() for i in widget.getPlotItem().items if isinstance(i, pg.TextItem)]
    assert "…" in labels


def test_a_map_of_cells_none_of_which_has_run_is_grey(qtbot, tmp_path: Path) -> None:
    plot = HeatMapPlot("h", "ratio (mean over seeds)", "a", "b", ("x", "y"), ("1", "2"),
                       np.full((2, 2), np.nan), (("…", "…"), ("…", "…")), log=True)
    render_plot_png(plot, tmp_path / "h.png")
    image = QImage(str(tmp_path / "h.png"))
    middle = image.pixelColor(image.width() // 3, image.height() // 3)  # inside a cell
    assert (middle.red(), middle.green(), middle.blue()) == (217, 217, 217)


def test_a_narrow_range_is_coloured_in_the_metrics_own_units(qtbot) -> None:
    plot = HeatMapPlot("h", "Final loss (mean over seeds)", "a", "b", ("x", "y"), ("1", "2"),
                       np.array([[0.66, 0.67], [0.675, 0.68]]),
                       (("0.66", "0.67"), ("0.675", "0.68")), log=True)
    widget = heat_map_widget(plot)
    qtbot.addWidget(widget)
    image = next(i for i in widget.getPlotItem().items
                 if isinstance(i, pg.ImageItem) and i.image.ndim == 2)
    assert np.allclose(image.getLevels(), (0.66, 0.68))  # not log10: -0.18 ... -0.17


def test_rendered_to_png(qtbot, tmp_path: Path) -> None:
    render_plot_png(PLOT, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_small_multiples_rendered_to_png(qtbot, tmp_path: Path) -> None:
    panel = LinePlot("a", "activation=tanh", "step", "loss",
                     (Series("seed 0", np.arange(3.0), np.array([1.0, 0.5, 0.2])),), log_y=True)
    render_plot_png(SmallMultiples("m", "Loss curves", (panel, panel), 2), tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_svg_has_the_cells_labels_and_the_grey_of_a_missing_cell(qtbot, tmp_path: Path
                                                                      ) -> None:
    plot = HeatMapPlot("h", "ratio (mean over seeds)", "activation", "depth", ("tanh", "relu"),
                       ("2", "5"), np.array([[0.3, 0.6], [2e-3, np.nan]]),
                       (("0.3", "0.6"), ("0.002", "failed")), log=True)
    widget = heat_map_widget(plot)
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    export_svg(widget, tmp_path / "h.svg")
    document = (tmp_path / "h.svg").read_text()
    texts = re.findall(r"<text [^>]*>([^<]*)</text>", document)
    assert {"0.3", "0.6", "0.002", "failed"} <= set(texts)
    assert document.count("<image") >= 3  # the grey under the cells, the cells, the bar
