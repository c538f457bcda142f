"""A pyqtgraph plot as a clean SVG 1.1 document, written element by element.

Qt's QSvgGenerator records what the scene paints: cosmetic pens under a scaling
transform (hundreds of pixels wide outside Qt) and every line piece of every curve
(megabytes). Here each part of the plot is written in page pixels instead: the axes from
the ticks and labels the AxisItems compute for the screen (log axes included), the
title and labels from their text documents (coloured spans become ``<tspan fill>``), the
data items from :mod:`gui.svg_items`, clipped to the view box (and cut to it, for
renderers without clip paths: :mod:`gui.svg_clip`). Text is placed by its anchor and
baseline, so it lines up whatever fonts the renderer has.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPen,
    QTextCharFormat,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsTextItem

from gui.svg_items import data_item_svg
from gui.svg_paint import (
    Page,
    attribute,
    colour,
    degrees,
    drawn,
    fill,
    num,
    stroke,
    text,
)

AXES = ("left", "bottom", "right", "top")


def plot_svg(item: pg.PlotItem, title: str, description: str) -> str:
    """The whole document for ``item`` at its size on screen, with the plots inside its
    layout (a ColorBarItem is a small PlotItem beside the view)."""
    if item.scene() is not None:
        # Auto-ranging waits for a paint: a plot in a hidden tab may never have had one.
        item.scene().prepareForPaint()
    bounds = item.sceneBoundingRect()
    page = Page(bounds.topLeft(), max(1.0, round(bounds.width())),
                max(1.0, round(bounds.height())))
    dpi = _dpi(item)
    width, height = num(page.width), num(page.height)
    family = QFont().family()
    families = f"'{family}', sans-serif" if family.lower() != "sans-serif" else family
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
             f' version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
             f' font-family="{attribute(families)}">',
             f"<title>{text(title)}</title>", f"<desc>{text(description)}</desc>",
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    parts += _plot_parts(item, page, dpi, "view")
    inner = [child for child in item.childItems()
             if isinstance(child, pg.PlotItem) and child.isVisible()]
    for number, plot in enumerate(inner, start=2):
        parts += _plot_parts(plot, page, dpi, f"view{number}")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _plot_parts(item: pg.PlotItem, page: Page, dpi: float, clip: str) -> list[str]:
    """Grid, data clipped to the view box, axes, legend and title of one plot item."""
    box = item.getViewBox()
    view = page.rect(box)
    area = (f'x="{num(view.x())}" y="{num(view.y())}" width="{num(view.width())}" '
            f'height="{num(view.height())}"')
    parts = [f'<defs><clipPath id="{clip}"><rect {area}/></clipPath></defs>']
    if box.background.isVisible():
        parts.append(f"<rect {area}{fill(box.background.brush())}/>")
    grids, lines, labels = _axes(item, page, dpi)
    items = sorted(box.addedItems, key=lambda added: added.zValue())  # stable: adding order
    # a TextItem in the data (a heat map's cell labels) is drawn as text, as on screen
    data = [element for added in items for element in (
        text_item_svg(added.textItem, page, "start", dpi) if isinstance(added, pg.TextItem)
        else data_item_svg(added, page, view))]
    parts += grids
    parts += [f'<g clip-path="url(#{clip})">', *data, "</g>"] if data else []
    parts += lines + labels
    parts += legend_svg(item.legend, page, dpi)
    if item.titleLabel.isVisible():
        parts += text_item_svg(item.titleLabel.item, page, "middle", dpi)
    return parts


def _dpi(item: pg.PlotItem) -> float:
    views = item.scene().views() if item.scene() is not None else []
    return float(views[0].logicalDpiY()) if views else 96.0


def _font_px(font: QFont, dpi: float) -> float:
    return float(font.pixelSize()) if font.pixelSize() > 0 else font.pointSizeF() * dpi / 72


def _axes(item: pg.PlotItem, page: Page, dpi: float
          ) -> tuple[list[str], list[str], list[str]]:
    """(grid lines, axis lines and ticks, tick values and axis labels) of the shown axes."""
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    grids: list[str] = []
    lines: list[str] = []
    labels: list[str] = []
    try:
        for name in AXES:
            axis = item.getAxis(name)
            if not axis.isVisible():
                continue
            painter.setFont(QFont())
            specs = axis.generateDrawSpecs(painter)  # what AxisItem.paint draws
            if specs is not None:
                (pen, start, end), ticks, values = specs
                to_page = page.transform(axis)
                segments = _segments(to_page.map(start), to_page.map(end))
                lines.append(f'<path d="{segments}"{stroke(pen)} shape-rendering="crispEdges"/>')
                ticks_svg = _tick_paths([(p, to_page.map(a), to_page.map(b)) for p, a, b in ticks])
                (grids if axis.grid is not False else lines).extend(ticks_svg)
                font = axis.style["tickFont"] or painter.font()
                labels += _tick_values(values, to_page, font, axis.textPen().color(), dpi)
            if axis.label.isVisible():
                labels += text_item_svg(axis.label, page, "middle", dpi)
    finally:
        painter.end()
    return grids, lines, labels


def _segments(start: QPointF, end: QPointF) -> str:
    return f"M{num(start.x())} {num(start.y())}L{num(end.x())} {num(end.y())}"


def _tick_paths(ticks: Sequence[tuple[QPen, QPointF, QPointF]]) -> list[str]:
    """One path per pen (major ticks, minor ticks: pyqtgraph fades each level)."""
    by_pen: dict[str, list[str]] = {}
    for pen, start, end in ticks:
        by_pen.setdefault(stroke(pen), []).append(_segments(start, end))
    return [f'<path d="{"".join(d)}"{attrs} shape-rendering="crispEdges"/>'
            for attrs, d in by_pen.items()]


def _tick_values(values: Sequence[tuple[QRectF, int, str]], to_page: QTransform,
                 font: QFont, ink: QColor, dpi: float) -> list[str]:
    """Tick labels at the rectangles the axis computed, anchored as Qt aligns them."""
    if not values:
        return []
    metrics = QFontMetricsF(font)
    elements = [f'<g font-size="{num(_font_px(font, dpi))}" fill="{colour(ink)}">']
    for rect, flags, label in values:
        box = to_page.mapRect(rect)
        align = Qt.AlignmentFlag(int(flags))  # pyqtgraph hands back a plain int
        if align & Qt.AlignmentFlag.AlignLeft:
            x, anchor = box.left(), "start"
        elif align & Qt.AlignmentFlag.AlignRight:
            x, anchor = box.right(), "end"
        else:
            x, anchor = box.center().x(), "middle"
        if align & Qt.AlignmentFlag.AlignTop:
            y = box.top() + metrics.ascent()
        elif align & Qt.AlignmentFlag.AlignBottom:
            y = box.bottom() - metrics.descent()
        else:
            y = box.center().y() + (metrics.ascent() - metrics.descent()) / 2
        elements.append(f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}">'
                        f"{text(label)}</text>")
    return [*elements, "</g>"]


def _style(char_format: QTextCharFormat, base: QFont, ink: QColor, dpi: float
           ) -> dict[str, str]:
    font = char_format.font().resolve(base)
    brush = char_format.foreground()
    shade = brush.color() if brush.style() != Qt.BrushStyle.NoBrush else ink
    style = {"font-size": num(_font_px(font, dpi)), "fill": colour(shade)}
    if font.bold():
        style["font-weight"] = "bold"
    if font.italic():
        style["font-style"] = "italic"
    return style


def _attrs(style: dict[str, str]) -> str:
    return "".join(f' {key}="{value}"' for key, value in style.items())


def text_item_svg(item: QGraphicsTextItem, page: Page, anchor: str, dpi: float) -> list[str]:
    """A (rich) text item, one ``<text>`` per line, anchored at the line's start or
    middle on its baseline; runs in another colour, size or weight become tspans."""
    if not item.isVisible() or not item.toPlainText().strip():
        return []
    item.boundingRect()  # lays the document out
    document = item.document()
    to_page = page.transform(item)
    angle = degrees(to_page)
    elements = []
    block = document.begin()
    while block.isValid():
        layout, content = block.layout(), block.text()
        ranges = block.textFormats()  # copies: a range's format dies with the range
        formats = [(r.start, r.start + r.length, QTextCharFormat(r.format)) for r in ranges] \
            or [(0, len(content), QTextCharFormat())]
        for number in range(layout.lineCount()):
            line = layout.lineAt(number)
            start, stop = line.textStart(), line.textStart() + line.textLength()
            runs = _runs(content, formats, start, stop)
            if not runs:
                continue
            x = layout.position().x() + line.x()
            if anchor == "middle":
                x += line.naturalTextWidth() / 2
            point = to_page.map(QPointF(x, layout.position().y() + line.y() + line.ascent()))
            styles = [_style(f, document.defaultFont(), item.defaultTextColor(), dpi)
                      for _, f in runs]
            turn = f' transform="rotate({num(angle)} {num(point.x())} {num(point.y())})"' \
                if abs(angle) > 0.05 else ""
            body = "".join(
                text(words) if style == styles[0] else
                f"<tspan{_attrs({k: v for k, v in style.items() if styles[0].get(k) != v})}>"
                f"{text(words)}</tspan>"
                for (words, _), style in zip(runs, styles, strict=True))
            # preserve: rsvg drops a space that starts a tspan, even a no-break one
            elements.append(f'<text x="{num(point.x())}" y="{num(point.y())}"{turn} '
                            f'text-anchor="{anchor}"{_attrs(styles[0])} xml:space="preserve">'
                            f"{body}</text>")
        block = block.next()
    return elements


def _runs(content: str, formats: list[tuple[int, int, QTextCharFormat]], start: int,
          stop: int) -> list[tuple[str, QTextCharFormat]]:
    """The line's text [start, stop) in runs of one format, spaces plain (no-break ones
    from ``&nbsp;`` too), without the spaces at either end of the line."""
    runs = [(content[max(a, start):min(b, stop)].replace("\u2028", "").replace("\xa0", " "),
             f) for a, b, f in formats if a < stop and b > start]
    while runs and not runs[0][0].strip():
        runs.pop(0)
    while runs and not runs[-1][0].strip():
        runs.pop()
    if runs:
        runs[0] = (runs[0][0].lstrip(), runs[0][1])
        runs[-1] = (runs[-1][0].rstrip(), runs[-1][1])
    return runs


def legend_svg(legend: pg.LegendItem | None, page: Page, dpi: float) -> list[str]:
    """The legend's frame, and for each entry its sample and label, as ItemSample paints."""
    if legend is None or legend.scene() is None or not legend.isVisible():
        return []
    to_page = page.transform(legend)
    elements = []
    if legend.frame:
        box = to_page.mapRect(legend.boundingRect())
        elements.append(f'<rect x="{num(box.x())}" y="{num(box.y())}" width="{num(box.width())}"'
                        f' height="{num(box.height())}"{fill(legend.opts["brush"])}'
                        f'{stroke(legend.opts["pen"])}/>')
    for sample, label in legend.items:
        if sample.isVisible() and sample.item.isVisible():
            elements += _sample_svg(sample, page)
            elements += text_item_svg(label.item, page, "start", dpi)
    return elements


def _sample_svg(sample: pg.ItemSample, page: Page) -> list[str]:
    shown, opts = sample.item, sample.item.opts
    to_page = page.transform(sample)
    elements = []
    pen = pg.mkPen(opts.get("pen"))
    if not isinstance(shown, pg.ScatterPlotItem) and drawn(pen):
        line = _segments(to_page.map(QPointF(0, 11)), to_page.map(QPointF(20, 11)))
        elements.append(f'<path d="{line}"{stroke(pen)}/>')
    if opts.get("symbol") is not None:
        symbol = shown.scatter.opts if isinstance(shown, pg.PlotDataItem) else opts
        centre = to_page.map(QPointF(10, 10))
        elements.append(f'<circle cx="{num(centre.x())}" cy="{num(centre.y())}" '
                        f'r="{num(float(symbol["size"]) / 2)}"{stroke(pg.mkPen(symbol["pen"]))}'
                        f'{fill(pg.mkBrush(symbol["brush"]))}/>')
    if isinstance(shown, pg.BarGraphItem):
        box = to_page.mapRect(QRectF(2, 2, 18, 18))
        elements.append(f'<rect x="{num(box.x())}" y="{num(box.y())}" width="{num(box.width())}"'
                        f' height="{num(box.height())}"{fill(pg.mkBrush(opts.get("brush")))}'
                        f"{stroke(pen)}/>")
    return elements
