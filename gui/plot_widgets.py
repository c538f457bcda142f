"""Plot widgets shared by the panels: a log-scale bar chart, export menus, a redraw timer.

Plot items are created once and updated with ``setData``/``setOpts``; panels mark
themselves dirty and a ~30 Hz timer redraws only what changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer

from gui.export_menu import install_export_menu

REDRAW_INTERVAL_MS = 33  # at most ~30 redraws a second


def depth_colour(position: int, count: int) -> pg.QtGui.QColor:
    """Shallow layers blue, deep layers red, as one reads a makemore histogram."""
    share = position / max(count - 1, 1)
    return pg.QtGui.QColor.fromHsvF(0.66 * (1 - share), 0.8, 0.85)


class LogAxis(pg.AxisItem):
    """An axis for data plotted as log10 values: ticks read 1e-3, 1e0, 1e2."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [f"1e{round(v)}" if abs(v - round(v)) < 1e-6 else "" for v in values]


def titled_plot(title: str, x_label: str = "", y_label: str = "", log_axis: bool = False,
                name: str = "") -> pg.PlotWidget:
    axis = {"left": LogAxis("left")} if log_axis else {}
    widget = pg.PlotWidget(background="w", axisItems=axis)
    item = widget.getPlotItem()
    item.setTitle(title, color="k", size="10pt")
    if x_label:
        item.setLabel("bottom", x_label)
    if y_label:
        item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    for side in ("left", "bottom"):
        item.getAxis(side).enableAutoSIPrefix(False)  # "(x0.001)" on an axis misleads
    widget.setMinimumSize(220, 140)
    widget.export_name = name or title.lower().replace(" ", "_")
    install_export_menu(widget)
    return widget


class LogBars:
    """Bars whose heights are log10 of positive values, drawn on a :class:`LogAxis` plot.

    Non-positive and non-finite values draw no bar. ``table()`` returns the raw values
    for CSV/SVG export.
    """

    def __init__(self, widget: pg.PlotWidget, label: str, colour: str, offset: float = 0.0,
                 width: float = 0.4) -> None:
        self.label, self.offset, self.width = label, offset, width
        self.item = pg.BarGraphItem(x=[], height=[], width=width, brush=colour, name=label)
        widget.addItem(self.item)
        self.x = np.zeros(0)
        self.values = np.zeros(0)

    def set_values(self, x: np.ndarray, values: np.ndarray, floor: float) -> None:
        self.x, self.values = np.asarray(x, dtype=float), np.asarray(values, dtype=float)
        ok = np.isfinite(self.values) & (self.values > 0)
        logs = np.log10(self.values[ok])
        self.item.setOpts(x=self.x[ok] + self.offset, y0=np.full(logs.size, floor),
                          y1=logs, height=None, width=self.width)


def log_floor(*arrays: np.ndarray) -> float:
    values = np.concatenate([np.asarray(a, dtype=float).reshape(-1) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    return math.floor(np.log10(values.min())) - 0.5 if values.size else -1.0


class RedrawTimer(QObject):
    """Redraws dirty parts of a panel on a timer, one part per tick.

    ``parts`` are callables, each updating one plot. Qt repaints everything made dirty
    since the last frame in one go, so updating one plot per tick keeps any single
    event-loop iteration down to one plot's paint while a worker competes for the CPU.
    A part is redrawn at most every ``len(parts) × REDRAW_INTERVAL_MS``.
    """

    def __init__(self, parts: Callable[[], None] | Sequence[Callable[[], None]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._parts = [parts] if callable(parts) else list(parts)
        self._dirty = [False] * len(self._parts)
        self._next = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timeout)
        self._timer.start()

    def mark_dirty(self, part: int | None = None) -> None:
        if part is None:
            self._dirty = [True] * len(self._parts)
        else:
            self._dirty[part] = True

    def flush(self) -> None:
        """Redraw every dirty part now."""
        for index, part in enumerate(self._parts):
            if self._dirty[index]:
                self._dirty[index] = False
                part()

    def _on_timeout(self) -> None:
        for offset in range(len(self._parts)):
            index = (self._next + offset) % len(self._parts)
            if self._dirty[index]:
                self._dirty[index] = False
                self._next = index + 1
                self._parts[index]()
                return


class GrowingTable:
    """Rows appended in amortised O(1) (capacity doubles); ``view()`` shows the filled part."""

    def __init__(self, columns: int) -> None:
        self._data = np.full((256, columns), np.nan)
        self.size = 0

    def extend(self, rows: list[list[float]] | np.ndarray) -> None:
        rows = np.asarray(rows, dtype=float).reshape(-1, self._data.shape[1])
        needed = self.size + len(rows)
        if needed > len(self._data):
            grown = np.full((max(needed, 2 * len(self._data)), self._data.shape[1]), np.nan)
            grown[:self.size] = self._data[:self.size]
            self._data = grown
        self._data[self.size:needed] = rows
        self.size = needed

    def view(self) -> np.ndarray:
        return self._data[:self.size]
