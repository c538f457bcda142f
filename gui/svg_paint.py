"""The small pieces an SVG page is written from: numbers, colours, pens as attributes,
points mapped from an item onto the page, and polylines thinned to the page's pixels.

Coordinates are page pixels rounded to 0.1: finer than any screen or print shows, and
short. Strokes are plain ``stroke-width`` values in page units, never scaled by a
transform, so every renderer draws them as thin as Qt does.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem

# XML 1.0 forbids most control characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: str) -> str:
    """``value`` as XML character data."""
    return escape(_NOT_XML.sub("", value))


def attribute(value: str) -> str:
    """``value`` inside a double-quoted XML attribute."""
    return text(value).replace('"', "&quot;").replace("\n", "&#10;")


def num(value: float) -> str:
    """A coordinate or length: at most one decimal, no trailing ``.0``."""
    formatted = f"{value:.1f}"
    if formatted.endswith(".0"):
        formatted = formatted[:-2]
    return "0" if formatted == "-0" else formatted


@dataclass(frozen=True)
class Page:
    """Where the plot sits in its scene: page (0, 0) is the plot's top left corner."""

    origin: QPointF
    width: float
    height: float

    def transform(self, item: QGraphicsItem) -> QTransform:
        """Item coordinates → page coordinates."""
        return item.sceneTransform() * QTransform.fromTranslate(-self.origin.x(),
                                                                -self.origin.y())

    def rect(self, item: QGraphicsItem) -> QRectF:
        return item.sceneBoundingRect().translated(-self.origin.x(), -self.origin.y())


def map_points(transform: QTransform, x: np.ndarray, y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """``transform`` applied to arrays of points (an affine map, as every plot item's)."""
    t = transform
    return (t.m11() * x + t.m21() * y + t.dx(), t.m12() * x + t.m22() * y + t.dy())


def colour(value: QColor) -> str:
    return value.name(QColor.NameFormat.HexRgb)


def _alpha(name: str, value: QColor) -> str:
    return f' {name}="{value.alphaF():.3g}"' if value.alpha() < 255 else ""


def fill(brush: QBrush | None) -> str:
    """``fill`` attributes of a brush; gradients and patterns fall back to their colour."""
    if brush is None or brush.style() == pg.QtCore.Qt.BrushStyle.NoBrush:
        return ' fill="none"'
    return f' fill="{colour(brush.color())}"{_alpha("fill-opacity", brush.color())}'


_CAPS = {pg.QtCore.Qt.PenCapStyle.FlatCap: "butt", pg.QtCore.Qt.PenCapStyle.RoundCap: "round",
         pg.QtCore.Qt.PenCapStyle.SquareCap: "square"}
_JOINS = {pg.QtCore.Qt.PenJoinStyle.BevelJoin: "bevel",
          pg.QtCore.Qt.PenJoinStyle.RoundJoin: "round"}


def drawn(pen: QPen | None) -> bool:
    return pen is not None and pen.style() != pg.QtCore.Qt.PenStyle.NoPen \
        and pen.color().alpha() > 0


def stroke(pen: QPen | None) -> str:
    """``stroke`` attributes of a pen. Plot pens are cosmetic: their width is in pixels,
    which is what a page unit is here (a width of 0 is Qt's one-pixel line)."""
    if pen is None or not drawn(pen):
        return ' stroke="none"'
    width = pen.widthF() or 1.0
    parts = [f' stroke="{colour(pen.color())}"', _alpha("stroke-opacity", pen.color())]
    if width != 1.0:
        parts.append(f' stroke-width="{num(width)}"')
    if pen.style() != pg.QtCore.Qt.PenStyle.SolidLine:
        dashes = " ".join(num(d * width) for d in pen.dashPattern())
        if dashes:
            parts.append(f' stroke-dasharray="{dashes}"')
    parts.append(f' stroke-linecap="{_CAPS.get(pen.capStyle(), "butt")}"')
    join = _JOINS.get(pen.joinStyle())
    if join:
        parts.append(f' stroke-linejoin="{join}"')
    return "".join(parts)


def polyline(x: np.ndarray, y: np.ndarray) -> str:
    """Path data for one connected run of page points; repeats after rounding dropped."""
    words: list[str] = []
    last = ""
    for a, b in zip(x.tolist(), y.tolist(), strict=True):
        point = f"{num(a)} {num(b)}"
        if point != last:
            words.append(point)
            last = point
    if len(words) == 1:
        words.append(words[0])  # a lone point still shows as a dot with a round/square cap
    return "M" + words[0] + "L" + " ".join(words[1:])


def runs(keep: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in ``keep``."""
    edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def thin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of a connected run of page points that draw the same line at pixel
    resolution: per pixel column, the lowest and the highest point, in their order
    (pyqtgraph's "peak" downsampling), so a one-sample spike survives."""
    count = len(x)
    if count <= 4:
        return np.arange(count)
    column = np.floor(x).astype(np.int64)
    starts = np.flatnonzero(np.concatenate([[True], column[1:] != column[:-1]]))
    if 2 * len(starts) >= count:
        return np.arange(count)
    ends = np.concatenate([starts[1:], [count]]) - 1
    group = np.repeat(np.arange(len(starts)), np.diff(np.concatenate([starts, [count]])))
    by_height = np.lexsort((y, group))  # each group's slots keep their place, sorted by y
    return np.unique(np.concatenate([by_height[starts], by_height[ends], [0, count - 1]]))


def visible_runs(x: np.ndarray, y: np.ndarray, breaks: np.ndarray | None, view: QRectF
                 ) -> list[np.ndarray]:
    """Index arrays of the connected pieces of a page-space line: split at non-finite
    points and where ``breaks`` is True (no segment from i to i + 1), without the points
    far left or right of ``view`` (the clip hides them; one beyond each edge is kept so
    lines still reach the edge), each thinned to the pixels."""
    finite = np.isfinite(x) & np.isfinite(y)
    inside = finite & (x >= view.left() - 1) & (x <= view.right() + 1)
    near = inside.copy()
    near[1:] |= inside[:-1]
    near[:-1] |= inside[1:]
    keep = near & finite
    pieces: list[np.ndarray] = []
    cuts = np.flatnonzero(breaks[:-1]) + 1 if breaks is not None else np.zeros(0, int)
    for start, stop in runs(keep):
        inner = cuts[np.searchsorted(cuts, start, "right"):np.searchsorted(cuts, stop)]
        bounds = [start, *inner.tolist(), stop]
        for low, high in itertools.pairwise(bounds):
            indices = np.arange(low, high)
            pieces.append(indices[thin(x[indices], y[indices])])
    return pieces


def log_mapped(values: np.ndarray, log: bool) -> np.ndarray:
    """Data as pyqtgraph plots it: log10 in log mode, zeros and negatives dropped (NaN)."""
    values = np.asarray(values, dtype=float)
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        mapped = np.log10(values)
    return np.where(np.isfinite(mapped), mapped, np.nan)


def degrees(transform: QTransform) -> float:
    return math.degrees(math.atan2(transform.m12(), transform.m11()))
