"""Plot widgets shared by the panels: titled plots with their legend as keys, log and
integer axes, log-scale bars, a frame-rate redraw scheduler, a growing table.

Plot items are created once and updated with ``setData``/``setOpts``; panels mark
themselves dirty and :class:`RedrawTimer` redraws only what changed, at display rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from engine.core.distributions import sticky_range
from gui.export_menu import install_export_menu

FRAME_MS = 16  # at most one redraw per 60 Hz display frame
# Progress curves of a run: 15 frames a second show them growing smoothly and leave the
# interpreter to the worker (every frame the GUI thread paints, the worker waits).
PROGRESS_FRAME_MS = 100
FRAME_BUDGET_MS = 8  # then the rest of the frame is the event loop's
# the tick labels' 8-9 pt font, as the axes below budget their room
TICK_CHARACTER_PX = 7
TICK_LABEL_GAP_PX = 12  # between two labels side by side
FEW_POINTS = 30  # a curve with at most this many points dots each (see show_few_points)


def representative(count: int, at_most: int) -> list[int]:
    """Up to ``at_most`` positions among ``count``, evenly spread, first and last kept."""
    if count <= at_most:
        return list(range(count))
    return sorted({round(k * (count - 1) / (at_most - 1)) for k in range(at_most)})


def depth_colour(position: int, count: int) -> pg.QtGui.QColor:
    """Shallow layers blue, deep layers red, as one reads a makemore histogram."""
    share = position / max(count - 1, 1)
    return pg.QtGui.QColor.fromHsvF(0.66 * (1 - share), 0.8, 0.85)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_power(exponent: int) -> str:
    return f"10{str(exponent).translate(SUPERSCRIPT)}" if exponent not in (0, 1) else \
        ("1" if exponent == 0 else "10")


def log_ticks(low: float, high: float) -> tuple[list[float], list[float]]:
    """(major, minor) tick positions, in log10 units, for the log10 range [low, high]:
    powers of ten over a decade or more, 1-2-5 steps (and finer) within one, so an axis
    always has labelled ticks whatever its range."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [], []
    if high - low >= 1.5:
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10**9)
                    if (high - low) / s <= 7)
        first = math.ceil(low / step) * step
        major = [float(e) for e in range(first, math.floor(high) + 1, step)]
        minor = [e + math.log10(m) for e in range(math.floor(low), math.ceil(high))
                 for m in range(2, 10) if step == 1 and low <= e + math.log10(m) <= high]
        if len(major) >= 3:  # else (1.5 to 2 decades) label 1-2-5 steps, as below
            return major, minor
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9),
                      tuple(m / 10 for m in range(10, 100, 2)),
                      tuple(m / 10 for m in range(10, 100)),
                      tuple(m / 100 for m in range(100, 1000))):
        values = [math.log10(m) + e for e in range(math.floor(low) - 1, math.ceil(high) + 1)
                  for m in mantissas if low <= math.log10(m) + e <= high]
        if len(values) >= 3:
            return values[:: max(1, len(values) // 7)], []
    return [low, (low + high) / 2, high], []


def log_tick_string(value: float, digits: int = 3) -> str:
    """The label of log10 position ``value``: 10ⁿ at a power of ten, else the number to
    ``digits`` significant digits."""
    exponent = round(value)
    if abs(value - exponent) < 1e-9:
        return format_power(exponent)
    return _plain(10.0 ** value, digits)


def _plain(number: float, digits: int) -> str:
    return f"{number:.{digits}g}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


def _scientific(number: float, digits: int) -> str:
    mantissa, exponent = f"{number:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def log_tick_strings(values: Sequence[float]) -> list[str]:
    """Labels for ticks at log10 positions, read as one scale: 10ⁿ when every tick is a
    power of ten; otherwise numbers in one notation throughout ("0.05, 0.1, 0.2", not
    "0.05, 10⁻¹, 0.2"; "5e-5, 1e-4, 2e-4", not "5e-5, 0.0001, 0.0002"), with as many
    significant digits as it takes to tell neighbours apart (a loss held near 1 gave
    "1, 1, 1")."""
    if all(abs(v - round(v)) < 1e-9 for v in values):
        return [format_power(round(v)) for v in values]
    labels: list[str] = []
    for digits in range(3, 12):
        labels = [_plain(10.0 ** v, digits) for v in values]
        if any("e" in label for label in labels):
            labels = [_scientific(10.0 ** v, digits) for v in values]
        if len(set(labels)) == len(labels):
            break
    return labels


class LogAxis(pg.AxisItem):
    """An axis whose coordinates are log10 values (pyqtgraph's log mode, or data plotted
    as log10 such as :class:`LogBars`): labelled ticks at any range, read as numbers."""

    LABEL_HEIGHT_PX = 16  # a label of the tick font, with a gap
    CHARACTER_PX = TICK_CHARACTER_PX

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        low, high = min(minVal, maxVal), max(minVal, maxVal)
        major, minor = log_ticks(low, high)
        labelled = self._spaced(major, (high - low) / max(size, 1.0))
        # a value whose label would not fit keeps its tick, unlabelled
        return [(1.0, labelled), (0.5, sorted([*minor, *set(major) - set(labelled)]))]

    def _spaced(self, values: list[float], per_pixel: float) -> list[float]:
        """The labels that fit without touching ("0.60.70.80.91" where a log axis is
        short), the roundest kept first: 1, 10, … then 2 and 5, then the rest."""
        def roundness(value: float) -> int:
            mantissa = round(10 ** (value - math.floor(value + 1e-9)), 6)
            return 0 if mantissa == 1 else 1 if mantissa in (2, 5) else 2

        def room(value: float) -> float:
            if self.orientation in ("left", "right"):
                return self.LABEL_HEIGHT_PX
            return len(log_tick_string(value)) * self.CHARACTER_PX + TICK_LABEL_GAP_PX

        kept: list[float] = []
        for value in sorted(values, key=roundness):
            if all(abs(value - other) / per_pixel >= (room(value) + room(other)) / 2
                   for other in kept):
                kept.append(value)
        return sorted(kept)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if spacing < 1.0:  # the minor ticks: unlabelled
            return ["" for _ in values]
        return log_tick_strings(values)


KEYS_PER_LINE = 4


def title_with_keys(title: str, keys: Sequence[tuple[str, str]]) -> str:
    """A plot title with its legend as coloured keys under it (at most four a line): the
    legend never covers data. A key without a colour is a note, with no swatch."""
    swatches = [f'<span style="color:{colour}">■</span>&nbsp;{label}' if colour else label
                for label, colour in keys]
    lines = ["&nbsp;&nbsp;".join(swatches[i:i + KEYS_PER_LINE])
             for i in range(0, len(swatches), KEYS_PER_LINE)]
    return "<br>".join([title, *(f'<span style="font-size:8pt">{line}</span>'
                                 for line in lines)])


def set_keys(widget: pg.PlotWidget, title: str, keys: Sequence[tuple[str, str]]) -> None:
    """Set the title (and keys) when they change: laying out the title's rich text costs
    more than drawing a curve."""
    text = title_with_keys(title, keys)
    item = widget.getPlotItem()
    if getattr(item, "chainlab_title", None) != text:
        item.chainlab_title = text
        set_title(item, text)


def set_title(item: pg.PlotItem, text: str, size: str = "10pt") -> None:
    """The plot's title, its row as tall as the text: pyqtgraph fixes it at 30 px, which
    cut the top off a title whose keys take two lines."""
    item.setTitle(text, color="k", size=size)
    height = math.ceil(item.titleLabel.item.boundingRect().height())
    item.titleLabel.setMaximumHeight(max(height, 30))
    item.layout.setRowFixedHeight(0, max(height, 30))


def titled_plot(title: str, x_label: str = "", y_label: str = "", log_axis: bool = False,
                name: str = "", log_y: bool = False, integer_x: bool = False,
                log_x: bool = False, keys: Sequence[tuple[str, str]] = ()) -> pg.PlotWidget:
    """A white plot with a title (and a legend as coloured keys under it), axis labels,
    a light grid, Chain Lab's export menu. ``log_y``: log mode with readable ticks;
    ``log_axis``: the data are already log10 values (bars); ``integer_x``: whole-number
    ticks on x (layers, generations)."""
    axis: dict[str, pg.AxisItem] = {"left": LogAxis("left")} if log_axis or log_y else {}
    if integer_x:
        axis["bottom"] = IntegerAxis("bottom")
    if log_x:
        axis["bottom"] = LogAxis("bottom")
    widget = pg.PlotWidget(background="w", axisItems=axis)
    item = widget.getPlotItem()
    set_title(item, title_with_keys(title, keys))
    if x_label:
        item.setLabel("bottom", x_label)
    if y_label:
        item.setLabel("left", y_label)
    # no grid: pyqtgraph draws it with the axes, so every data update would repaint
    # the axes and their text (most of a live plot's cost)
    for side in ("left", "bottom"):
        item.getAxis(side).enableAutoSIPrefix(False)  # "(x0.001)" on an axis misleads
    if log_y or log_x:
        item.setLogMode(x=log_x, y=log_y)
    widget.setMinimumSize(160, 120)
    widget.export_name = name or title.lower().replace(" ", "_")
    widget.export_title = title  # what File > Export plot lists it as
    install_export_menu(widget)
    return widget


PEAK_BINS_PER_PIXEL = 1.0


def downsample_to_pixels(widget: pg.PlotWidget) -> None:
    """Draw long curves as each pixel column's min and max (peak downsampling, one bin a
    pixel; call it again after adding curves). pyqtgraph's five bins a pixel turn a
    curve that alternates every step into sub-pixel segments, which Qt's aliased
    rasteriser drops: weights flipping between two values each step vanished from the
    plot while their numbers were there."""
    # curve by curve: PlotItem.setDownsampling fails on a plot holding a scatter item
    for curve in widget.getPlotItem().listDataItems():
        if not isinstance(curve, pg.PlotDataItem):
            continue
        if curve.opts["autoDownsampleFactor"] != PEAK_BINS_PER_PIXEL:
            curve.opts["autoDownsampleFactor"] = PEAK_BINS_PER_PIXEL
            curve.setDownsampling(auto=True, method="peak")
            curve.updateItems(styleUpdate=False)


def show_few_points(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """``curve.setData(x, y)``, with each point dotted while there are few: a line
    through one point draws nothing, so a single step would leave the plot blank, and a
    few dots show the steps taken one by one. Points without a finite value are left out
    while dotted: pyqtgraph's dots at NaN crash its PNG export (a segfault in
    ``QGraphicsScene.render``)."""
    few = len(x) <= FEW_POINTS
    if few:
        finite = np.isfinite(y)
        if curve.opts["logMode"][1]:  # log10 of 0 and below is not finite either
            finite &= y > 0
        x, y = x[finite], y[finite]
    curve.setData(x, y)
    few = few and len(x) > 0
    if few:
        colour = pg.mkPen(curve.opts["pen"]).color()
        if curve.opts.get("symbol") is None or \
                pg.mkBrush(curve.opts["symbolBrush"]).color() != colour:
            curve.setSymbolPen(None)
            curve.setSymbolSize(5)
            curve.setSymbolBrush(colour)
            curve.setSymbol("o")
    elif curve.opts.get("symbol") is not None:
        curve.setSymbol(None)


class IntegerAxis(pg.AxisItem):
    """Layer and generation axes: ticks at whole numbers only (no "layer 2.5"), 1, 2, 5,
    10, 20, 50, … apart, as many as fit the axis's length without their labels running
    together ("1000200030004000" on a half-width plot at 1280×800)."""

    LABEL_GAP_PX = TICK_LABEL_GAP_PX
    DIGIT_PX = TICK_CHARACTER_PX

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        low, high = math.ceil(min(minVal, maxVal)), math.floor(max(minVal, maxVal))
        if high < low:
            return []
        digits = max(len(str(low)), len(str(high)))
        fits = max(2, int(size // (digits * self.DIGIT_PX + self.LABEL_GAP_PX))) \
            if self.orientation in ("bottom", "top") else 10
        step = 1
        while (high - low) // step + 1 > min(fits, 11):  # ticks, both ends counted
            step = step * 5 // 2 if str(step).startswith("2") else step * 2
        first = low + (-low) % step
        return [(float(step), [float(v) for v in range(first, high + 1, step)])]


class StickyRanges:
    """A plot's view range that moves only when the data leaves it or shrinks to a small
    part of it (:func:`engine.core.distributions.sticky_range`): a slider's small change
    redraws the curves, not the axes. Double-clicking the plot re-fits it."""

    def __init__(self, widget: pg.PlotWidget) -> None:
        self.view = widget.getPlotItem().getViewBox()
        self.view.disableAutoRange()
        self.x: tuple[float, float] | None = None
        self.y: tuple[float, float] | None = None

    def fit_curves(self, x: np.ndarray, ys: Sequence[np.ndarray], log_y: bool = False) -> None:
        """Fit curves sharing ``x`` (steps, generations: the x range grows by a quarter
        when outgrown, so a run's axes move a handful of times); ``log_y``: log mode."""
        if len(x) == 0:
            return
        first, last = float(np.min(x)), float(np.max(x))
        if self.x is None or last >= self.x[1]:  # the newest point never on the edge
            # the first few points stand off the left edge (their dots would be halved)
            low = first - 0.5 if last - first < FEW_POINTS else first
            self.x = (low, max(1.25 * last, first + 1.0))
            self.view.setRange(xRange=self.x, padding=0)
        values = np.concatenate([np.asarray(y, dtype=float).reshape(-1) for y in ys]) \
            if ys else np.zeros(0)
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log10(values[values > 0])
        self.fit(None, values)

    def fit(self, x: np.ndarray | None, y: np.ndarray | None) -> None:
        """Keep or move the range for data ``x``, ``y`` (NaN/inf ignored)."""
        changed = False
        for axis, data in (("x", x), ("y", y)):
            if data is None:
                continue
            finite = np.asarray(data, dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size == 0:
                continue
            old = getattr(self, axis)
            new = sticky_range(float(finite.min()), float(finite.max()), old)
            if new != old:
                setattr(self, axis, new)
                changed = True
        if changed:
            self.view.setRange(xRange=self.x, yRange=self.y, padding=0)

    def reset(self) -> None:
        self.x = self.y = None


def reset_range(widget: pg.PlotWidget, ranges: StickyRanges | None = None) -> None:
    """A new run's plot: an empty default view (an empty plot would otherwise keep the
    last run's range, e.g. a blown-up loss's 1e10…1e45); then auto-range, or the sticky
    ranges' own fitting, for its data."""
    view = widget.getPlotItem().getViewBox()
    view.setRange(xRange=(0, 1), yRange=(-1, 1), padding=0)
    if ranges is None:
        view.enableAutoRange()
    else:
        ranges.reset()


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
    """Coalesces a panel's redraws to at most one per display frame (16 ms).

    A change is drawn at the next frame: at once when the last frame was long ago, so a
    slider's change shows without waiting for a fixed tick. ``parts`` are callables,
    each updating one plot; within one frame dirty parts are redrawn until
    ``FRAME_BUDGET_MS`` is spent and the rest at the next frame, which keeps each
    event-loop iteration short while a worker competes for the CPU. A hidden panel (a
    page not shown) is not drawn at all: its parts wait, dirty, until it shows.
    """

    def __init__(self, parts: Callable[[], None] | Sequence[Callable[[], None]],
                 panel: QWidget, frame_ms: int = FRAME_MS) -> None:
        super().__init__(panel)
        self._panel = panel
        self._frame_ms = frame_ms
        self._parts = [parts] if callable(parts) else list(parts)
        self._dirty = [False] * len(self._parts)
        self._next = 0
        self._last = 0.0  # perf_counter of the last frame
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_frame)
        panel.installEventFilter(self)

    def mark_dirty(self, part: int | None = None) -> None:
        if part is None:
            self._dirty = [True] * len(self._parts)
        else:
            self._dirty[part] = True
        self._schedule()

    def flush(self) -> None:
        """Redraw every dirty part now (tests, exports), shown or not."""
        for index, part in enumerate(self._parts):
            if self._dirty[index]:
                self._dirty[index] = False
                part()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and any(self._dirty):
            self._schedule()
        return False

    def _schedule(self) -> None:
        if self._timer.isActive() or not self._panel.isVisible():
            return
        wait_ms = (self._last - time.perf_counter()) * 1000 + self._frame_ms
        self._timer.start(int(min(max(wait_ms, 0.0), self._frame_ms)))

    def _on_frame(self) -> None:
        if not self._panel.isVisible():
            return  # drawn when shown (eventFilter)
        started = self._last = time.perf_counter()
        count = len(self._parts)
        for offset in range(count):
            index = (self._next + offset) % count
            if self._dirty[index]:
                self._dirty[index] = False
                self._next = index + 1
                self._parts[index]()
                if (time.perf_counter() - started) * 1000 > FRAME_BUDGET_MS:
                    break
        if any(self._dirty):
            self._schedule()


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
