"""Draw the engine's plot descriptions (:mod:`engine.core.plots`) as pyqtgraph widgets,
and render them to PNG for headless runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg

from engine.core.plots import BoundaryPlot, LinePlot
from gui.boundary_view import BoundaryView
from gui.export import export_png

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def plot_widget_for(plot: LinePlot | BoundaryPlot) -> pg.PlotWidget:
    if isinstance(plot, BoundaryPlot):
        view = BoundaryView(plot.title, plot.name)
        classes = plot.values.shape[-1] if plot.values.ndim == 3 else 2
        view.show_data(plot.points, plot.labels, classes)
        low, high = float(np.nanmin(plot.values)), float(np.nanmax(plot.values))
        view.show_values(plot.values, plot.extent, probabilities=low >= 0 and high <= 1)
        x0, x1, y0, y1 = plot.extent
        view.widget.getPlotItem().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        return view.widget
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(plot.title, color="k")
    item.setLabel("bottom", plot.x_label)
    item.setLabel("left", plot.y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    item.addLegend(offset=(-10, 10))
    item.setLogMode(y=plot.log_y)
    for number, series in enumerate(plot.series):
        color = PALETTE[number % len(PALETTE)]
        y = np.asarray(series.y, dtype=float)
        if plot.log_y:
            y = np.where(y > 0, y, np.nan)  # log of 0 or negative has no place on the axis
        if not np.isfinite(y).any():  # e.g. the gradients of a run that blew up
            item.plot([], [], name=f"{series.label} (no finite values)")
            continue
        if series.style == "bars":
            item.plot(series.x, y, pen=None, symbol="s", symbolBrush=color, symbolSize=7,
                      name=series.label)
        else:
            item.plot(series.x, y, pen=pg.mkPen(color, width=2), name=series.label,
                      connect="finite")
    if plot.reference_y is not None:
        item.addLine(y=np.log10(plot.reference_y) if plot.log_y else plot.reference_y,
                     pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
    return widget


def render_plot_png(plot: LinePlot | BoundaryPlot, path: Path) -> None:
    """Headless: draw an engine plot description and save it as PNG."""
    widget = plot_widget_for(plot)
    widget.resize(900, 560)
    try:
        export_png(widget, path, width=900)
    finally:
        widget.deleteLater()
