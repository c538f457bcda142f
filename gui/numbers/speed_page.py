"""Speed: "are ints faster?" measured on this machine, not asserted. Element-wise add
and matrix product per dtype (:func:`engine.numbers.speed.measure_arithmetic`, run off
the GUI thread), each with its size, time, throughput and the ratio to float32, and the
device, torch version and thread count it was measured with."""

from __future__ import annotations

import torch
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.numbers.speed import SpeedEntry, SpeedReport, measure_arithmetic
from gui.background import BackgroundTask

COLUMNS = ("operation", "dtype", "size", "median time", "throughput", "vs float32", "note")
INTRO = ("Whether integer arithmetic is faster depends on the operation and the hardware. "
         "On a CPU, torch multiplies float matrices with a tuned BLAS but integer matrices "
         "with plain loops; an element-wise add is limited by memory, so narrower types "
         "win there. Measure rather than assume; timings on a busy machine vary: compare "
         "dtypes within one run.")


class SpeedPage(QWidget):
    """A Measure button, the device choice, and the measured table."""

    def __init__(self) -> None:
        super().__init__()
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_report)
        self.task.failed.connect(self._on_failed)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.device_box = QComboBox()
        self.device_box.addItem("cpu")
        if torch.cuda.is_available():
            self.device_box.addItem("cuda")
        self.measure_button = QPushButton("Measure on this machine")
        # not connected directly: clicked(bool) would land in budget_s
        self.measure_button.clicked.connect(lambda: self.measure())
        row.addWidget(QLabel("device"))
        row.addWidget(self.device_box)
        row.addWidget(self.measure_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.environment = QLabel("Not measured yet (takes about 3 s).")
        self.environment.setWordWrap(True)
        layout.addWidget(self.environment)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        layout.addWidget(self.table, 1)
        self.report: SpeedReport | None = None

    def measure(self, budget_s: float = 2.5) -> None:
        device = self.device_box.currentText()
        self.measure_button.setEnabled(False)
        self.environment.setText(f"measuring on {device} …")
        self.task.start(lambda: measure_arithmetic(device, budget_s=budget_s))

    def _on_failed(self, message: str) -> None:
        self.measure_button.setEnabled(True)
        self.environment.setText(f"failed: {message}")

    def show_report(self, report: SpeedReport) -> None:
        self.report = report
        self.measure_button.setEnabled(True)
        self.environment.setText(
            f"Measured on {report.device} ({report.device_name}), torch "
            f"{report.torch_version}, {report.threads} thread(s), in "
            f"{report.elapsed_s:.1f} s.")
        self.table.setRowCount(len(report.entries))
        for row, entry in enumerate(report.entries):
            cells = (entry.operation, entry.dtype, _size(entry), *_timing(entry, report),
                     entry.note)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(entry.note or text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()


def _size(entry: SpeedEntry) -> str:
    return f"{entry.size}×{entry.size}" if entry.operation == "matmul" else f"{entry.size:,}"


def _timing(entry: SpeedEntry, report: SpeedReport) -> tuple[str, str, str]:
    if not entry.supported:
        return "unsupported", "—", "—"
    reference = report.entry(entry.operation, "float32")
    ratio = (f"{entry.throughput / reference.throughput:.2f}×"
             if reference.supported and reference.throughput > 0 else "—")
    return (f"{entry.median_s * 1e3:.3g} ms", f"{entry.throughput:.3g} {entry.unit}",
            ratio)
