"""Path data cut to the view, for renderers without clip paths and for points far
outside it.

Every plot's data sit in a ``<clipPath>`` of the view, but QtSvg ignores clip paths, and
a value of 1e30 in a plot zoomed to 0…1 lands 1e32 pixels off the page, past what
renderers that draw in fixed point hold (cairo: rsvg-convert, Inkscape): they draw the
visible part of such a line in the wrong place. So lines and areas are cut exactly at
the view's edge (Liang-Barsky for lines, Sutherland-Hodgman for areas), or for outlined
areas a little beyond it, where their outline cannot show.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from gui.svg_paint import polyline

OUTLINE_MARGIN = 8.0  # pixels beyond the view: an outline cut there stays hidden


def _box(view: QRectF, margin: float) -> tuple[float, float, float, float]:
    return (view.left() - margin, view.top() - margin, view.right() + margin,
            view.bottom() + margin)


def _inside(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = box
    return bool(np.all((x >= left) & (x <= right) & (y >= top) & (y <= bottom)))


def line_data(x: np.ndarray, y: np.ndarray, view: QRectF) -> str:
    """Path data of a connected line, without its stretches outside the view."""
    box = _box(view, 0.0)
    if _inside(x, y, box):
        return polyline(x, y)
    pieces: list[list[tuple[float, float]]] = []
    for x0, y0, x1, y1 in zip(x[:-1].tolist(), y[:-1].tolist(), x[1:].tolist(),
                              y[1:].tolist(), strict=True):
        segment = _clip_segment(x0, y0, x1, y1, box)
        if segment is None:
            continue
        start, end = segment
        if not pieces or pieces[-1][-1] != start:
            pieces.append([start])
        pieces[-1].append(end)
    return "".join(polyline(np.array([p[0] for p in piece]), np.array([p[1] for p in piece]))
                   for piece in pieces)


def _clip_segment(x0: float, y0: float, x1: float, y1: float,
                  box: tuple[float, float, float, float]
                  ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Liang-Barsky; a cut end lies exactly on the box edge that cut it."""
    left, top, right, bottom = box
    dx, dy = x1 - x0, y1 - y0
    enter, leave = 0.0, 1.0
    enter_edge: tuple[int, float] | None = None
    leave_edge: tuple[int, float] | None = None
    for p, q, edge in ((-dx, x0 - left, (0, left)), (dx, right - x0, (0, right)),
                       (-dy, y0 - top, (1, top)), (dy, bottom - y0, (1, bottom))):
        if p == 0:
            if q < 0:
                return None
        elif p < 0 and q / p > enter:
            enter, enter_edge = q / p, edge
        elif p > 0 and q / p < leave:
            leave, leave_edge = q / p, edge
    if enter > leave:
        return None
    return (_along((x0, y0), (x1, y1), enter, enter_edge),
            _along((x0, y0), (x1, y1), leave, leave_edge))


def _along(start: tuple[float, float], end: tuple[float, float], share: float,
           edge: tuple[int, float] | None) -> tuple[float, float]:
    """The point ``share`` of the way from start to end, counted from the nearer end (a
    huge far end would swamp the near one in floating point), snapped onto ``edge``."""
    if edge is None:
        return start if share == 0 else end
    if share <= 0.5:
        point = [start[0] + share * (end[0] - start[0]), start[1] + share * (end[1] - start[1])]
    else:
        rest = 1 - share
        point = [end[0] - rest * (end[0] - start[0]), end[1] - rest * (end[1] - start[1])]
    point[edge[0]] = edge[1]
    return point[0], point[1]


def polygon_data(x: np.ndarray, y: np.ndarray, view: QRectF, margin: float = 0.0) -> str:
    """Path data of a closed area, cut to the view grown by ``margin`` (an area with an
    outline: :data:`OUTLINE_MARGIN`, so the cut edge is not outlined in sight)."""
    box = _box(view, margin)
    if not _inside(x, y, box):
        points = list(zip(x.tolist(), y.tolist(), strict=True))
        for edge in range(4):
            points = _cut(points, edge, box)
        if len(points) < 3:
            return ""
        x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return polyline(x, y) + "Z"


def _cut(points: list[tuple[float, float]], edge: int, box: tuple[float, float, float, float]
         ) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the polygon on the inner side of one edge of the box."""
    axis, limit, low = edge % 2, box[edge], edge < 2  # left, top: keep >=; right, bottom: <=

    def keeps(point: tuple[float, float]) -> bool:
        return point[axis] >= limit if low else point[axis] <= limit

    kept: list[tuple[float, float]] = []
    for index, current in enumerate(points):
        previous = points[index - 1]
        if keeps(current) != keeps(previous):
            share = (limit - previous[axis]) / (current[axis] - previous[axis])
            kept.append(_along(previous, current, share, (axis, limit)))
        if keeps(current):
            kept.append(current)
    return kept
