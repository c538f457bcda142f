"""The data items of a plot as SVG elements in page coordinates.

A curve is one ``<path>`` (thinned to the page's pixels, split at NaN/inf), its symbols
``<circle>``/``<rect>``; bars are ``<rect>``; the area between two curves one filled
path; a heat map an embedded PNG (:mod:`gui.svg_images`); a reference line a ``<line>``.
Curves are read from the data they were given (``getOriginalDataset``), mapped to log10
where the plot is in log mode as pyqtgraph does, so pyqtgraph's own on-screen
downsampling and clipping never reach the file.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem

from gui.svg_clip import OUTLINE_MARGIN, line_data, polygon_data
from gui.svg_images import image_svg, pixmap_svg
from gui.svg_paint import (
    Page,
    drawn,
    fill,
    log_mapped,
    map_points,
    num,
    stroke,
    thin,
    visible_runs,
)


def data_item_svg(item: QGraphicsItem, page: Page, view: QRectF) -> list[str]:
    """The elements that draw ``item`` (none for items Chain Lab's plots do not use)."""
    if not item.isVisible():
        return []
    if isinstance(item, pg.PlotDataItem):
        return curve_svg(item, page, view)
    if isinstance(item, pg.BarGraphItem):
        return bars_svg(item, page, view)
    if isinstance(item, pg.FillBetweenItem):
        return fill_between_svg(item, page, view)
    if isinstance(item, pg.ImageItem):
        return image_svg(item, page)
    if isinstance(item, QGraphicsPixmapItem):  # a ColorBarItem's colour scale
        return pixmap_svg(item, page)
    if isinstance(item, pg.InfiniteLine):
        return infinite_line_svg(item, page)
    return []


TRANSFORMS = ("fftMode", "derivativeMode", "phasemapMode", "subtractMeanMode")


def plotted_data(item: pg.PlotDataItem) -> tuple[np.ndarray, np.ndarray]:
    """The item's data in view coordinates (log10 on log axes), unthinned. A transform
    picked in the plot's menu (FFT, dy/dx…) is pyqtgraph's to compute: then its
    on-screen data, in view coordinates already."""
    if any(item.opts.get(mode) for mode in TRANSFORMS):
        x, y = item.getData()
    else:
        x, y = item.getOriginalDataset()
        if x is not None and y is not None:
            log_x, log_y = item.opts.get("logMode", (False, False))
            x, y = log_mapped(x, log_x), log_mapped(y, log_y)
    if x is None or y is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _breaks(connect: object, count: int) -> np.ndarray | None:
    """Where pyqtgraph's ``connect`` option leaves a gap after point i (non-finite points
    always break the line, whatever the option)."""
    if isinstance(connect, np.ndarray) and connect.shape == (count,):
        return ~connect.astype(bool)
    if isinstance(connect, str) and connect == "pairs":
        return np.arange(count) % 2 == 1
    return None


def stepped(mode: object, x: np.ndarray, y: np.ndarray, baseline: float | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """The corner points PlotCurveItem draws for a ``stepMode`` curve ("center": x holds
    the len(y) + 1 edges; "left"/"right": each y holds from its x to the next, or back)."""
    if mode in ("center", True):
        edges = x
    elif mode == "right":
        edges = np.concatenate([x, x[-1:]])
    elif mode == "left":
        edges = np.concatenate([x[:1], x])
    else:
        return x, y
    if len(edges) != len(y) + 1:
        return np.zeros(0), np.zeros(0)
    if baseline is None:
        return np.repeat(edges, 2)[1:-1], np.repeat(y, 2)
    # with a fill level, pyqtgraph closes the steps down to it at both ends
    return np.repeat(edges, 2), np.concatenate([[baseline], np.repeat(y, 2), [baseline]])


def curve_svg(item: pg.PlotDataItem, page: Page, view: QRectF) -> list[str]:
    x, y = plotted_data(item)
    opts = item.opts
    level = opts.get("fillLevel")
    numeric_level = float(level) if isinstance(level, int | float) else None
    if opts.get("stepMode"):
        x, y = stepped(opts["stepMode"], x, y, numeric_level)
    if x.size == 0 or x.shape != y.shape:
        return []
    t = page.transform(item)
    px, py = map_points(t, x, y)
    pieces = visible_runs(px, py, _breaks(opts.get("connect"), len(px)), view)
    elements = []
    if pieces and opts.get("fillBrush") is not None and level is not None:
        elements.append(_area(pieces, x, (px, py), numeric_level, t, opts["fillBrush"], view))
    pen = pg.mkPen(opts["pen"])
    lines = [i for i in pieces if len(i) > 1]  # a lone point draws nothing in Qt either
    if lines and drawn(pen):
        data = "".join(line_data(px[i], py[i], view) for i in lines)
        if data:
            elements.append(f'<path d="{data}" fill="none"{stroke(pen)}/>')
    if opts.get("symbol") is not None:
        elements += symbols_svg(item, px, py, view)
    if elements and item.opacity() < 1:  # the plot menu's Alpha
        elements = [f'<g opacity="{item.opacity():.3g}">', *elements, "</g>"]
    return elements


def _area(pieces: list[np.ndarray], x: np.ndarray, page_xy: tuple[np.ndarray, np.ndarray],
          level: float | None, t: QTransform, brush: object, view: QRectF) -> str:
    """The fill under a curve: each piece closed along the fill level (or on itself for
    ``fillLevel="enclosed"``)."""
    data = []
    px, py = page_xy
    for indices in pieces:
        ends_x, ends_y = px[indices], py[indices]
        if level is not None:
            base_x, base_y = map_points(t, x[indices[[-1, 0]]], np.full(2, level))
            ends_x, ends_y = np.concatenate([ends_x, base_x]), np.concatenate([ends_y, base_y])
        data.append(polygon_data(ends_x, ends_y, view))
    return f'<path d="{"".join(data)}"{fill(pg.mkBrush(brush))} stroke="none"/>'


def symbols_svg(item: pg.PlotDataItem, px: np.ndarray, py: np.ndarray, view: QRectF
                ) -> list[str]:
    """One symbol per distinct position inside the view, in one group with the common
    pen and brush (per-point brushes, a list as pyqtgraph takes them, set each fill)."""
    opts = item.opts
    size = float(opts.get("symbolSize", 10))
    brushes = opts.get("symbolBrush")
    per_point = isinstance(brushes, list | np.ndarray) and len(brushes) == len(px)
    shown = np.isfinite(px) & np.isfinite(py) & (px >= view.left() - size) \
        & (px <= view.right() + size) & (py >= view.top() - size) \
        & (py <= view.bottom() + size)
    keys = np.round(np.column_stack([px, py]) * 10)
    seen: set[tuple[float, float]] = set()
    square = opts.get("symbol") == "s"
    group = f'<g{stroke(pg.mkPen(opts.get("symbolPen")))}' + \
        ("" if per_point else fill(pg.mkBrush(brushes))) + ">"
    elements = [group]
    for index in np.flatnonzero(shown).tolist():
        key = (float(keys[index, 0]), float(keys[index, 1]))
        if key in seen:
            continue
        seen.add(key)
        colour = fill(pg.mkBrush(brushes[index])) if per_point else ""
        x, y = px[index], py[index]
        if square:
            elements.append(f'<rect x="{num(x - size / 2)}" y="{num(y - size / 2)}" '
                            f'width="{num(size)}" height="{num(size)}"{colour}/>')
        else:
            elements.append(f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(size / 2)}"'
                            f'{colour}/>')
    return [*elements, "</g>"] if len(elements) > 1 else []


def _bar_edges(opts: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Left, bottom, right, top of each bar from the options BarGraphItem documents
    (x/x0/x1/width and y/y0/y1/height), as BarGraphItem itself resolves them."""
    def get(key: str) -> np.ndarray | None:
        value = opts.get(key)
        return None if value is None else np.asarray(value, dtype=float)

    x, x0, x1, width = get("x"), get("x0"), get("x1"), get("width")
    y, y0, y1, height = get("y"), get("y0"), get("y1"), get("height")
    if x0 is None:
        if width is None:
            return (np.zeros(0),) * 4
        x0 = x1 - width if x1 is not None else (x - width / 2 if x is not None else None)
        if x0 is None:
            return (np.zeros(0),) * 4
    if width is None:
        if x1 is None:
            return (np.zeros(0),) * 4
        width = x1 - x0
    if y0 is None:
        if height is not None and y1 is not None:
            y0 = y1 - height
        elif height is not None and y is not None:
            y0 = y - height / 2
        else:
            y0 = np.zeros(1)
    if height is None:
        if y1 is None:
            return (np.zeros(0),) * 4
        height = y1 - y0
    left, right, bottom, top = np.broadcast_arrays(x0, x0 + width, y0, y0 + height)
    return (np.minimum(left, right), np.minimum(bottom, top), np.maximum(left, right),
            np.maximum(bottom, top))


def bars_svg(item: pg.BarGraphItem, page: Page, view: QRectF) -> list[str]:
    left, bottom, right, top = (np.atleast_1d(a) for a in _bar_edges(item.opts))
    if left.size == 0:
        return []
    ax, ay = map_points(page.transform(item), left, bottom)
    bx, by = map_points(page.transform(item), right, top)
    # cut to just beyond the view as areas are (gui.svg_clip): exact for rectangles
    margin = OUTLINE_MARGIN
    ax, bx = (np.clip(a, view.left() - margin, view.right() + margin) for a in (ax, bx))
    ay, by = (np.clip(a, view.top() - margin, view.bottom() + margin) for a in (ay, by))
    pens, brushes = item.opts.get("pens"), item.opts.get("brushes")
    shared = ("" if pens else stroke(pg.mkPen(item.opts.get("pen")))) + \
        ("" if brushes else fill(pg.mkBrush(item.opts.get("brush"))))
    elements = [f"<g{shared}>"]
    for i in range(left.size):
        corners = (ax[i], ay[i], bx[i], by[i])
        if not np.all(np.isfinite(corners)):
            continue
        own = (stroke(pg.mkPen(pens[i])) if pens else "") + \
            (fill(pg.mkBrush(brushes[i])) if brushes else "")
        elements.append(f'<rect x="{num(min(ax[i], bx[i]))}" y="{num(min(ay[i], by[i]))}" '
                        f'width="{num(abs(bx[i] - ax[i]))}" height="{num(abs(by[i] - ay[i]))}"'
                        f"{own}/>")
    return [*elements, "</g>"]


def fill_between_svg(item: pg.FillBetweenItem, page: Page, view: QRectF) -> list[str]:
    """The band as polygons: the first curve forward, the second back, over each run
    where both are finite; each edge thinned to the pixels like a curve."""
    if item.path().isEmpty():  # as on screen: curves without a pen give no band
        return []
    first, second = item.curves or (None, None)
    if not (isinstance(first, pg.PlotDataItem) and isinstance(second, pg.PlotDataItem)):
        return []
    (x1, y1), (x2, y2) = plotted_data(first), plotted_data(second)
    if x1.size == 0 or x1.shape != x2.shape:
        return []
    ax, ay = map_points(page.transform(first), x1, y1)
    bx, by = map_points(page.transform(second), x2, y2)
    both = np.where(np.isfinite(bx) & np.isfinite(by), 1.0, np.nan)
    data = []
    for run in visible_runs(ax, ay * both, None, view):
        indices = np.arange(run[0], run[-1] + 1)
        upper = indices[thin(ax[indices], ay[indices])]
        lower = indices[thin(bx[indices], by[indices])][::-1]
        data.append(polygon_data(np.concatenate([ax[upper], bx[lower]]),
                                 np.concatenate([ay[upper], by[lower]]), view,
                                 OUTLINE_MARGIN if drawn(item.pen()) else 0.0))
    if not data:
        return []
    return [f'<path d="{"".join(data)}" fill-rule="evenodd"{fill(item.brush())}'
            f'{stroke(item.pen())}/>']


def infinite_line_svg(item: pg.InfiniteLine, page: Page) -> list[str]:
    """The line across the view: pyqtgraph draws it along the item's own x axis over the
    view's extent mapped into the item."""
    extent = item.viewRect()
    pen = item.pen
    if extent is None or not drawn(pen):
        return []
    t = page.transform(item)
    start, end = t.map(pg.QtCore.QPointF(extent.left(), 0)), \
        t.map(pg.QtCore.QPointF(extent.right(), 0))
    return [f'<line x1="{num(start.x())}" y1="{num(start.y())}" x2="{num(end.x())}" '
            f'y2="{num(end.y())}"{stroke(pen)}/>']
