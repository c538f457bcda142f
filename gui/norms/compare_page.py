"""Without vs with: the chain with no norms beside the chain with one kind of norm after
every hidden linear layer (first inside every residual block), same linear weights, same
batch (:func:`engine.data.norms_lab.side_by_side`, computed off the GUI thread).

Per block: mean ± std of the linear outputs (pre-norm) and of what the nonlinearity
receives (post-norm), a residual block's input and what its branch receives, and the
gradient flow ‖dL/dW‖ and ‖dL/da‖ as log bars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data.norms_lab import NormProfile, SideBySide, side_by_side
from gui.background import BackgroundTask
from gui.norms.subject import Subject
from gui.plot_widgets import LogBars, log_floor, set_keys, titled_plot

NORM_CHOICES = (("none", None), ("batch", "batch"), ("layer", "layer"), ("RMS", "rms"),
                ("L1", "l1"), ("L2", "l2"))
WITHOUT, WITH = "#1f77b4", "#d62728"
COLUMNS = ("block", "pre std w/o", "pre std with", "post mean with", "post std with",
           "‖dL/dW‖ w/o", "‖dL/dW‖ with", "‖dL/da‖ w/o", "‖dL/da‖ with")


class MeanStdPlot:
    """Two series of mean ± std per block, without (left) and with (right) norms."""

    def __init__(self, title: str, name: str) -> None:
        self.title = title
        self.widget = titled_plot(title, "block", "value", name=name, integer_x=True,
                                  keys=(("without norms", WITHOUT), ("with norms", WITH)))
        self.items = []
        for colour, offset in ((WITHOUT, -0.15), (WITH, 0.15)):
            bars = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0),
                                   pen=pg.mkPen(colour, width=1.5), beam=0.12)
            points = pg.ScatterPlotItem(size=6, brush=colour, pen=None)
            self.widget.addItem(bars)
            self.widget.addItem(points)
            self.items.append((bars, points, offset))

    def set_series(self, series: list[tuple[np.ndarray, np.ndarray]]) -> None:
        for (bars, points, offset), (mean, std) in zip(self.items, series, strict=True):
            x = np.arange(len(mean)) + offset
            bars.setData(x=x, y=mean, height=2 * std)
            points.setData(x=x, y=mean)
        self.widget.enableAutoRange()


class ComparePage(QWidget):
    """A norm switch for the whole chain and the two chains' numbers side by side.

    Signals
    -------
    norm_chosen_for_chain(str) : "apply to the app's chain" was pressed with this kind
        ("none" for removing every norm).
    """

    norm_chosen_for_chain = Signal(str)

    def __init__(self, subject: Callable[[], Subject]) -> None:
        super().__init__()
        self.subject = subject
        self.result: SideBySide | None = None
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_result)
        self.task.failed.connect(self._on_failed)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.norm_box = QComboBox()
        for label, _kind in NORM_CHOICES:
            self.norm_box.addItem(label)
        self.norm_box.setCurrentText("layer")
        self.norm_box.currentIndexChanged.connect(lambda _index: self.compute())
        self.apply_button = QPushButton("Use this norm in the app's chain")
        self.apply_button.setToolTip("Put this norm after every hidden linear layer of the "
                                     "window's chain, or first inside every residual block "
                                     "(\"none\" removes every norm)")
        self.apply_button.clicked.connect(
            lambda: self.norm_chosen_for_chain.emit(self.kind() or "none"))
        row.addWidget(QLabel("norm for the whole chain"))
        row.addWidget(self.norm_box)
        row.addWidget(self.apply_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        grid = QGridLayout()
        self.pre_plot = MeanStdPlot("Linear outputs (pre-norm): mean ± std", "norms_pre")
        self.post_plot = MeanStdPlot("Nonlinearity inputs (post-norm): mean ± std",
                                     "norms_post")
        self.weight_plot = titled_plot("‖dL/dW‖ per block", "block", "‖dL/dW‖",
                                       log_axis=True, name="norms_grad_weight",
                                       integer_x=True,
                                       keys=(("without", WITHOUT), ("with", WITH)))
        self.act_plot = titled_plot("‖dL/da‖ per block (a: the block's output)", "block",
                                    "‖dL/da‖", log_axis=True, name="norms_grad_activation",
                                    integer_x=True,
                                    keys=(("without", WITHOUT), ("with", WITH)))
        self.bars = {name: (LogBars(plot, "without", WITHOUT, -0.2),
                            LogBars(plot, "with", WITH, 0.2))
                     for name, plot in (("weight", self.weight_plot),
                                        ("activation", self.act_plot))}
        for n, widget in enumerate((self.pre_plot.widget, self.post_plot.widget,
                                    self.weight_plot, self.act_plot)):
            grid.addWidget(widget, n // 2, n % 2)
        layout.addLayout(grid, 3)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 1)

    def plots(self) -> list[pg.PlotWidget]:
        return [self.pre_plot.widget, self.post_plot.widget, self.weight_plot, self.act_plot]

    def kind(self) -> str | None:
        return NORM_CHOICES[self.norm_box.currentIndex()][1]

    def compute(self) -> None:
        subject, kind = self.subject(), self.kind()
        self.status.setText(f"computing {subject.name} with {kind or 'no'} norms …")
        self.task.start(lambda: side_by_side(
            subject.network, kind, subject.dataset, subject.loss, subject.dtype,
            subject.seed, subject.task.batch_size))

    def _on_failed(self, message: str) -> None:
        self.result = None
        self.status.setText(f"cannot compare: {message}")

    def show_result(self, result: SideBySide) -> None:
        self.result = result
        without, normed = result.without, result.with_norm
        residual = (" A residual block's pre-norm numbers are its input x (the residual "
                    "stream), its post-norm ones what its branch receives (norm(x) with "
                    "norms, x without)." if without.residual.any() else "")
        self.status.setText(
            f"{self.subject().name}: one training-mode pass on a batch of {result.batch}, "
            f"the same linear weights on both sides. Loss without {without.loss:.4g}, "
            f"with {result.kind or 'no'} norms {normed.loss:.4g}.{residual}")
        self.pre_plot.set_series([(without.pre_mean, without.pre_std),
                                  (normed.pre_mean, normed.pre_std)])
        self.post_plot.set_series([(without.post_mean, without.post_std),
                                   (normed.post_mean, normed.post_std)])
        for name, field in (("weight", "grad_weight"), ("activation", "grad_activation")):
            values = [getattr(p, field) for p in (without, normed)]
            floor = log_floor(*values)
            for bars, value in zip(self.bars[name], values, strict=True):
                bars.set_values(np.arange(len(value)), value, floor)
        for plot, title in ((self.weight_plot, "‖dL/dW‖ per block"),
                            (self.act_plot, "‖dL/da‖ per block (a: the block's output)")):
            set_keys(plot, title, (("without", WITHOUT), (f"with {result.kind}", WITH)))
            plot.enableAutoRange()
        self._fill_table(without, normed)

    def _fill_table(self, without: NormProfile, normed: NormProfile) -> None:
        columns = (without.pre_std, normed.pre_std, normed.post_mean, normed.post_std,
                   without.grad_weight, normed.grad_weight, without.grad_activation,
                   normed.grad_activation)
        self.table.setRowCount(len(without.pre_std))
        for row in range(len(without.pre_std)):
            label = f"{row} (residual)" if normed.residual[row] else f"{row}"
            if row == len(without.pre_std) - 1:
                label += " (output)"
            self.table.setItem(row, 0, QTableWidgetItem(label))
            for column, values in enumerate(columns, start=1):
                self.table.setItem(row, column, QTableWidgetItem(f"{values[row]:.4g}"))
        self.table.resizeColumnsToContents()
