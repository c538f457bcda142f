"""Draw the engine's plot descriptions (:mod:`engine.core.plots`) as pyqtgraph widgets,
and render them to PNG for headless runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from engine.core.plots import BoundaryPlot, LinePlot, Series
from gui.boundary_view import BoundaryView
from gui.export import export_png
from gui.plot_widgets import titled_plot

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
    colours = _colours(len(plot.series))
    keys = [(_key_label(series, plot.log_y), colour)
            for series, colour in zip(plot.series, colours, strict=True)]
    if len(keys) > len(PALETTE):  # a colour ramp: key its ends and middle only
        middle = len(keys) // 2
        keys = [keys[0], keys[middle], keys[-1]]
    widget = titled_plot(plot.title, plot.x_label, plot.y_label, name=plot.name,
                         log_y=plot.log_y, integer_x=plot.integer_x, keys=keys)
    item = widget.getPlotItem()
    for series, colour in zip(plot.series, colours, strict=True):
        y = np.asarray(series.y, dtype=float)
        if plot.log_y:
            y = np.where(y > 0, y, np.nan)  # log of 0 or negative has no place on the axis
        if series.style == "bars":
            item.plot(series.x, y, pen=None, symbol="s", symbolBrush=colour, symbolSize=7,
                      name=series.label)
        else:
            item.plot(series.x, y, pen=pg.mkPen(colour, width=2), connect="finite",
                      name=series.label)
    if plot.reference_y is not None:
        item.addLine(y=np.log10(plot.reference_y) if plot.log_y else plot.reference_y,
                     pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
    return widget


def _colours(count: int) -> list[str]:
    """Distinct colours for a few series; for many (a deep chain's layers) a ramp from
    the first to the last, so that depth reads as colour."""
    if count <= len(PALETTE):
        return list(PALETTE[:count])
    ramp = pg.colormap.get("viridis")
    return [ramp.map(0.9 * k / (count - 1), mode="qcolor").name() for k in range(count)]


def _key_label(series: Series, log_y: bool) -> str:
    y = np.asarray(series.y, dtype=float)
    drawable = np.isfinite(y) & (y > 0) if log_y else np.isfinite(y)
    # e.g. the gradients of a run that blew up: say so rather than draw an empty plot
    return series.label if drawable.any() else f"{series.label} (no finite values)"


def render_plot_png(plot: LinePlot | BoundaryPlot, path: Path) -> None:
    """Headless: draw an engine plot description and save it as PNG."""
    widget = plot_widget_for(plot)
    widget.resize(900, 560)
    widget.show()  # laid out as on screen: the title's rich text gets its height
    QApplication.processEvents()
    try:
        export_png(widget, path, width=900)
    finally:
        widget.deleteLater()
