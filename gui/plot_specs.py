"""Draw the engine's plot descriptions (:mod:`engine.plots`) as pyqtgraph widgets."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.plots import BoundaryPlot, LinePlot

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def boundary_colormap() -> pg.ColorMap:
    """Playground's orange (class 0 / negative) → white → blue (class 1 / positive)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(245, 147, 34), (232, 234, 235), (8, 119, 189)])


def plot_widget_for(plot: LinePlot | BoundaryPlot) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(plot.title, color="k")
    if isinstance(plot, BoundaryPlot):
        _draw_boundary(item, plot)
        return widget
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


def _draw_boundary(item: pg.PlotItem, plot: BoundaryPlot) -> None:
    image = pg.ImageItem(plot.values.T)  # ImageItem's first axis is x
    x0, x1, y0, y1 = plot.extent
    image.setRect(pg.QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
    low, high = float(np.nanmin(plot.values)), float(np.nanmax(plot.values))
    levels = (0.0, 1.0) if low >= 0 and high <= 1 else (-1.0, 1.0)
    image.setLookupTable(boundary_colormap().getLookupTable(nPts=256))
    image.setLevels(levels)
    item.addItem(image)
    positive = plot.labels > 0
    for mask, color in ((positive, "#0877bd"), (~positive, "#f59322")):
        item.plot(plot.points[mask, 0], plot.points[mask, 1], pen=None, symbol="o",
                  symbolSize=6, symbolBrush=color, symbolPen="w")
    item.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
