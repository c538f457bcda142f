"""Cost: the reductions each norm needs, and its time measured on this machine.

The table of reductions comes from :data:`engine.data.norm_cost.NORM_COSTS`. Measure
times the engine's norm layers and torch's own modules at the batch × width chosen
(:func:`engine.data.norm_cost.measure_all`, off the GUI thread), with the device and
thread count it ran on.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.specs import NORM_KINDS
from engine.data.norm_cost import NORM_COSTS, CostReport, measure_all
from gui.background import BackgroundTask

REDUCTION_COLUMNS = ("norm", "reduces over", "statistics", "reductions", "passes", "note")
TIMING_COLUMNS = ("norm", "torch", "forward engine", "forward torch", "ratio",
                  "fwd+bwd engine", "fwd+bwd torch", "ratio", "calls")


def _microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


class CostPage(QWidget):
    """The reductions table, a batch × width choice, Measure, and the timings table."""

    def __init__(self) -> None:
        super().__init__()
        self.report: CostReport | None = None
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_report)
        self.task.failed.connect(self._on_failed)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>What one forward pass computes</b> on a batch × "
                                "features tensor (passes: reading passes over the data)"))
        self.reductions = QTableWidget(len(NORM_KINDS), len(REDUCTION_COLUMNS))
        self.reductions.setHorizontalHeaderLabels(list(REDUCTION_COLUMNS))
        self.reductions.verticalHeader().setVisible(False)
        for row, kind in enumerate(NORM_KINDS):
            cost = NORM_COSTS[kind]
            cells = (kind, cost.axis, ", ".join(cost.reductions), str(cost.reduction_count),
                     str(cost.passes), cost.note)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.reductions.setItem(row, column, item)
        self.reductions.resizeColumnsToContents()
        self.reductions.setColumnWidth(5, 420)
        layout.addWidget(self.reductions, 1)
        controls = QHBoxLayout()
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(2, 65_536)
        self.batch_spin.setValue(256)
        self.batch_spin.setPrefix("batch ")
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 65_536)
        self.width_spin.setValue(256)
        self.width_spin.setPrefix("width ")
        self.measure_button = QPushButton("Measure engine vs torch")
        # a lambda: clicked's bool would otherwise land in budget_s
        self.measure_button.clicked.connect(lambda: self.measure())
        for widget in (self.batch_spin, self.width_spin, self.measure_button):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout.addLayout(controls)
        self.environment = QLabel("Not measured yet (takes about 3 s). Times on a busy "
                                  "machine vary: compare within one run.")
        self.environment.setWordWrap(True)
        layout.addWidget(self.environment)
        self.timings = QTableWidget(0, len(TIMING_COLUMNS))
        self.timings.setHorizontalHeaderLabels(list(TIMING_COLUMNS))
        self.timings.verticalHeader().setVisible(False)
        self.timings.resizeColumnsToContents()  # the headers whole before any row
        layout.addWidget(self.timings, 1)

    def measure(self, budget_s: float = 2.5) -> None:
        batch, width = self.batch_spin.value(), self.width_spin.value()
        self.measure_button.setEnabled(False)
        self.environment.setText(f"measuring at {batch} × {width} …")
        self.task.start(lambda: measure_all(batch, width, budget_s=budget_s))

    def _on_failed(self, message: str) -> None:
        self.measure_button.setEnabled(True)
        self.environment.setText(f"failed: {message}")

    def show_report(self, report: CostReport) -> None:
        self.report = report
        self.measure_button.setEnabled(True)
        first = report.timings[0]
        self.environment.setText(
            f"Measured at batch {first.batch} × width {first.width}, {report.dtype}, on "
            f"{report.device} ({report.device_name}), {report.threads} thread(s), torch "
            f"{report.torch_version}, in {report.elapsed_s:.1f} s. Median per call; "
            "ratio: engine / torch (below 1: the engine is faster).")
        self.timings.setRowCount(len(report.timings))
        for row, t in enumerate(report.timings):
            cells = (t.kind, t.torch_name, _microseconds(t.engine_forward_s),
                     _microseconds(t.torch_forward_s), f"{t.forward_ratio:.2f}×",
                     _microseconds(t.engine_backward_s), _microseconds(t.torch_backward_s),
                     f"{t.backward_ratio:.2f}×", str(t.repeats))
            for column, text in enumerate(cells):
                self.timings.setItem(row, column, QTableWidgetItem(text))
        self.timings.resizeColumnsToContents()
