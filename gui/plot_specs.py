"""Draw the engine's plot descriptions (:mod:`engine.core.plots`) as pyqtgraph widgets,
and render them to PNG for headless runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from engine.core.plots import BoundaryPlot, HeatMapPlot, LinePlot, Series, SmallMultiples
from gui.boundary_view import BoundaryView
from gui.export import export_layout_png, export_png
from gui.plot_widgets import LogAxis, titled_plot

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def plot_widget_for(plot: LinePlot | BoundaryPlot | HeatMapPlot) -> pg.PlotWidget:
    if isinstance(plot, HeatMapPlot):
        return heat_map_widget(plot)
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
        elif series.style == "points":
            item.plot(series.x, y, pen=None, symbol="o", symbolBrush=colour, symbolPen=None,
                      symbolSize=9, name=series.label)
        else:
            item.plot(series.x, y, pen=pg.mkPen(colour, width=2), connect="finite",
                      name=series.label)
    if plot.x_ticks:  # categories: their names, and half a category either side
        item.getAxis("bottom").setTicks([list(enumerate(plot.x_ticks))])
        item.setXRange(-0.5, len(plot.x_ticks) - 0.5, padding=0)
    if plot.reference_y is not None:
        item.addLine(y=np.log10(plot.reference_y) if plot.log_y else plot.reference_y,
                     pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
    return widget


MISSING_GREY = (217, 217, 217, 255)  # a cell with no value: no colour of the ramp's


def heat_map_widget(plot: HeatMapPlot) -> pg.PlotWidget:
    """Cells coloured by value (viridis; log10 when ``plot.log`` and the values span a
    decade or more), each labelled with its text, the axes ticked with the axis values, a
    colour bar on the right. A cell without a value (NaN) is light grey, never a colour
    of the ramp, and keeps its label ("…", "failed")."""
    widget = titled_plot(plot.title, plot.x_label, plot.y_label, name=plot.name)
    item = widget.getPlotItem()
    values = np.asarray(plot.values, dtype=float)
    # log colours only when the values span a decade: a narrower range reads better in
    # the metric's own units than as log10 ticks that differ in the third digit
    log = plot.log and _decades(values) >= 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = np.where(values > 0, np.log10(values), np.nan) if log else values
    finite = shown[np.isfinite(shown)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    rect = pg.QtCore.QRectF(-0.5, -0.5, len(plot.x_ticks), len(plot.y_ticks))
    missing = ~np.isfinite(shown)
    grey = np.zeros((*shown.shape, 4), dtype=np.uint8)
    grey[missing] = MISSING_GREY
    # (x, y, RGBA) for pyqtgraph; fixed levels: auto levels of an all-grey image are one
    # value, and pyqtgraph draws that black
    background = pg.ImageItem(grey.transpose(1, 0, 2), levels=(0, 255))
    background.setRect(rect)
    background.setZValue(-1)
    item.addItem(background)
    image = pg.ImageItem(shown.T, levels=(low, high))  # NaN cells transparent: grey shows
    ramp = pg.colormap.get("viridis")
    image.setLookupTable(ramp.getLookupTable(nPts=256))
    image.setRect(rect)
    item.addItem(image)
    for row, texts in enumerate(plot.cell_text):
        for column, text in enumerate(texts):
            if not text:
                continue
            level = (shown[row, column] - low) / (high - low) if np.isfinite(
                shown[row, column]) else 1.0  # on grey: black
            label = pg.TextItem(text, color="k" if level > 0.6 else "w", anchor=(0.5, 0.5))
            label.setPos(column, row)
            item.addItem(label)
    item.getAxis("bottom").setTicks([list(enumerate(plot.x_ticks))])
    item.getAxis("left").setTicks([list(enumerate(plot.y_ticks))])
    item.showGrid(x=False, y=False)
    item.setRange(xRange=(-0.5, len(plot.x_ticks) - 0.5),
                  yRange=(-0.5, len(plot.y_ticks) - 0.5), padding=0)
    metric = plot.title.split(" (")[0]
    bar = pg.ColorBarItem(values=(low, high), colorMap=ramp, interactive=False,
                          label=f"log₁₀ {metric}" if log else metric)
    bar.setImageItem(image, insert_in=item)
    return widget


def _decades(values: np.ndarray) -> float:
    """How many powers of ten the positive finite values span (0 for none)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return float(np.log10(positive.max() / positive.min())) if positive.size else 0.0


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


AXIS_WIDTH = 62  # pixels of a small multiple's left axis: its label and tick text


def render_small_multiples(plot: SmallMultiples, path: Path) -> None:
    """Each panel a small plot, ``plot.columns`` a row, under one title; saved as PNG."""
    layout = pg.GraphicsLayoutWidget()
    layout.setBackground("w")
    labels = [series.label for series in plot.panels[0].series] if plot.panels else []
    keys = "&nbsp;&nbsp;".join(f'<span style="color:{colour}">■</span>&nbsp;{label}'
                               for label, colour in zip(labels, _colours(len(labels)),
                                                        strict=True))
    layout.addLabel(f"{plot.title}<br><span style='font-size:9pt'>{keys}</span>", row=0,
                    col=0, colspan=plot.columns, color="k", size="11pt")
    for number, panel in enumerate(plot.panels):
        item = layout.addPlot(row=1 + number // plot.columns, col=number % plot.columns,
                              axisItems={"left": LogAxis("left")} if panel.log_y else None)
        item.setTitle(panel.title, color="k", size="8pt")
        item.setLogMode(y=panel.log_y)
        item.setLabel("bottom", panel.x_label)
        item.setLabel("left", panel.y_label)
        # room for the widest tick text ("0.668"): an axis sized by its first layout is
        # too narrow for a narrow range's labels, and pyqtgraph then draws none of them
        item.getAxis("left").setWidth(AXIS_WIDTH)
        for side in ("left", "bottom"):
            item.getAxis(side).enableAutoSIPrefix(False)  # "loss (x0.001)" misleads
        for series, colour in zip(panel.series, _colours(len(panel.series)), strict=True):
            y = np.asarray(series.y, dtype=float)
            if panel.log_y:
                y = np.where(y > 0, y, np.nan)
            item.plot(series.x, y, pen=pg.mkPen(colour, width=1.5), connect="finite")
    rows = 1 + (len(plot.panels) - 1) // plot.columns
    layout.resize(300 * plot.columns, 40 + 220 * rows)
    layout.show()
    QApplication.processEvents()
    try:
        export_layout_png(layout, path, width=300 * plot.columns)
    finally:
        layout.deleteLater()


def render_plot_png(plot: LinePlot | BoundaryPlot | HeatMapPlot | SmallMultiples,
                    path: Path) -> None:
    """Headless: draw an engine plot description and save it as PNG."""
    if isinstance(plot, SmallMultiples):
        render_small_multiples(plot, path)
        return
    widget = plot_widget_for(plot)
    widget.resize(900, 560)
    widget.show()  # laid out as on screen: the title's rich text gets its height
    QApplication.processEvents()
    try:
        export_png(widget, path, width=900)
    finally:
        widget.deleteLater()
