"""Accumulation: adding a small value N times (or summing a random vector) in float16,
bfloat16, float32 and float64, plain versus Kahan versus torch's own sum, against the
exact result (:mod:`engine.numbers.accumulation`, computed off the GUI thread).

Colour is the dtype, line style the method; errors are relative, on log axes; where a
sum was exact its curve has a gap.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.numbers.accumulation import (
    DTYPES,
    METHODS,
    AccumulationResult,
    RandomSumResult,
    SumCurve,
    random_vector_sum,
    repeated_addition,
)
from gui.background import BackgroundTask
from gui.plot_widgets import set_keys, titled_plot

DTYPE_COLOURS = {"float16": "#d62728", "bfloat16": "#ff7f0e", "float32": "#1f77b4",
                 "float64": "#2ca02c"}
METHOD_STYLES = {"plain": Qt.PenStyle.SolidLine, "kahan": Qt.PenStyle.DashLine,
                 "pairwise": Qt.PenStyle.DotLine}
REPEATED, RANDOM = "add one value N times", "sum N random values in [0, 1)"
TITLE = "Relative error of the sum (solid: plain loop, dashed: Kahan, dotted: torch.sum)"


class AccumulationPage(QWidget):
    """Controls, the error plot, and a table of the sums at the largest N."""

    def __init__(self) -> None:
        super().__init__()
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_result)
        self.task.failed.connect(self._on_failed)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.mode_box = QComboBox()
        self.mode_box.addItems([REPEATED, RANDOM])
        self.value_edit = QLineEdit("0.1")
        self.value_edit.setToolTip("The exact value added: 0.1, 1e-3, 1/3, …")
        self.n_spin = QSpinBox()
        self.n_spin.setRange(10, 100_000)
        self.n_spin.setValue(10_000)
        self.n_spin.setPrefix("N = ")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        self.seed_spin.setPrefix("seed ")
        self.compute_button = QPushButton("Compute")
        self.compute_button.clicked.connect(self.compute)
        self.mode_box.currentTextChanged.connect(self._on_mode)
        # the button first: the fields after it change with the mode, the button stays put
        for widget in (self.mode_box, self.compute_button, self.value_edit, self.n_spin,
                       self.seed_spin):
            row.addWidget(widget)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.plot = titled_plot(TITLE, "N (terms)", "relative error", name="accumulation",
                                log_y=True, log_x=True)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {
            (dtype, method): self.plot.plot([], [], connect="finite", pen=pg.mkPen(
                DTYPE_COLOURS[dtype], width=2, style=METHOD_STYLES[method]))
            for dtype in DTYPES for method in METHODS}
        set_keys(self.plot, TITLE, [(d, DTYPE_COLOURS[d]) for d in DTYPES])
        layout.addWidget(self.plot, 1)
        self.table_caption = QLabel("Sums at the largest N")
        layout.addWidget(self.table_caption)
        self.table = QTableWidget(len(DTYPES), len(METHODS))
        self.table.setHorizontalHeaderLabels(["plain loop", "Kahan", "torch.sum"])
        self.table.setVerticalHeaderLabels(list(DTYPES))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(self.table.verticalHeader().length()
                                  + self.table.horizontalHeader().height() + 4)
        layout.addWidget(self.table)
        self.result: AccumulationResult | RandomSumResult | None = None
        self._on_mode(REPEATED)

    def _on_mode(self, mode: str) -> None:
        if self.result is not None:  # the curves shown belong to the other mode
            self.result = None
            for curve in self.curves.values():
                curve.setData([], [])
            self.table.clearContents()
            self.status.setText("Press Compute.")
        self.value_edit.setVisible(mode == REPEATED)
        self.n_spin.setVisible(mode == RANDOM)
        self.seed_spin.setVisible(mode == RANDOM)

    def compute(self) -> None:
        if self.mode_box.currentText() == REPEATED:
            text = self.value_edit.text().strip()
            try:
                repeated_addition(text, counts=(1,))  # checks the text now, not on the worker
            except (ValueError, ZeroDivisionError):
                self.status.setText(f"⚠ not a number: {text!r} (try 0.1, 1e-3 or 1/3)")
                return
            self.status.setText(f"adding {text} up to 10⁶ times in four dtypes …")
            self.task.start(lambda: repeated_addition(text))
        else:
            n, seed = self.n_spin.value(), self.seed_spin.value()
            self.status.setText(f"summing {n} random values in four dtypes …")
            self.task.start(lambda: random_vector_sum(
                n, generator=torch.Generator().manual_seed(seed)))

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"failed: {message}")

    def show_result(self, result: AccumulationResult | RandomSumResult) -> None:
        self.result = result
        for shown_curve in result.curves:
            errors = np.asarray(shown_curve.error_vs_exact, dtype=float)
            shown = np.where(errors > 0, errors, np.nan)  # exact: a gap (no log of 0)
            self.curves[(shown_curve.dtype, shown_curve.method)].setData(
                np.asarray(shown_curve.counts, dtype=float), shown)
        self.plot.enableAutoRange()
        for row, dtype in enumerate(DTYPES):
            for column, method in enumerate(METHODS):
                curve = next((c for c in result.curves
                              if c.dtype == dtype and c.method == method), None)
                self.table.setItem(row, column, _sum_item(curve))
        self.table_caption.setText(f"Sums at N = {_grouped(result.counts[-1])} (the "
                                   "tooltip holds the relative error)")
        self.status.setText(_summary(result))


def _sum_item(curve: SumCurve | None) -> QTableWidgetItem:
    if curve is None or not curve.sums:
        return QTableWidgetItem("—")
    text = repr(curve.sums[-1])  # every digit the dtype's sum has, read back as float64
    if curve.limit is not None:
        text += f"   (stopped at N = {_grouped(curve.counts[-1])})"
    item = QTableWidgetItem(text)
    item.setToolTip(f"relative error {curve.error_vs_exact[-1]:.3g}")
    return item


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _summary(result: AccumulationResult | RandomSumResult) -> str:
    overflowed = sorted({c.dtype for c in result.curves
                         if any(not np.isfinite(s) for s in c.sums)})
    overflow = (f" In {', '.join(overflowed)} some sums overflowed (inf; Kahan's "
                "correction then becomes inf − inf = nan): the total exceeds the largest "
                "value the format holds (float16: 65504)." if overflowed else "")
    return _explanation(result) + overflow


def _explanation(result: AccumulationResult | RandomSumResult) -> str:
    if isinstance(result, AccumulationResult):
        stored = ", ".join(f"{dtype} {error:.2g}" for dtype, error
                           in zip(result.dtypes, result.representation_error, strict=True))
        return (f"{result.value_text} itself is stored with a relative error of: {stored}. "
                "A plain running sum also loses the low bits of every addition once the "
                "sum is large: in float16 it stops growing where half a gap between "
                "neighbours exceeds the value. A gap in a curve: the sum was exact there.")
    return (f"{result.n} uniform values; the error is against the exact sum of the values "
            "as each dtype stores them.")
