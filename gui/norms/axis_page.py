"""Axis: which entries of a (batch × features) tensor one normalisation averages over.

Click an entry of the small batch: the entries whose statistics normalise it light up
(:func:`engine.data.norm_axis.axis_mask`: a column for batch norm, a row for the rest),
with those statistics and the engine's output there. Below, batch norm's two special
cases computed by the engine and by torch: a batch of one sample in training mode, and
training versus eval mode on the same batch.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.specs import NORM_KINDS
from engine.data.norm_axis import (
    AXIS_TEXT,
    axis_mask,
    batch_of_one,
    entry_view,
    example_batch,
    train_vs_eval,
)

BATCH, FEATURES = 4, 6
LABELS = {"batch": "batch", "layer": "layer", "rms": "RMS", "l1": "L1", "l2": "L2"}


class AxisGrid(QWidget):
    """The batch drawn as cells (samples down, features across); a click selects a cell.

    Signals
    -------
    cell_clicked(int, int) : the row and column a person clicked.
    """

    cell_clicked = Signal(int, int)
    CELL_W, CELL_H, MARGIN = 74, 34, 70

    def __init__(self, values: np.ndarray) -> None:
        super().__init__()
        self.values = values
        self.cells_on = np.zeros(values.shape, dtype=bool)
        self.selected = (0, 0)
        rows, columns = values.shape
        self.setFixedSize(self.MARGIN + columns * self.CELL_W + 4,
                          self.MARGIN // 2 + rows * self.CELL_H + 4)

    def cell_rect(self, row: int, column: int) -> QRectF:
        return QRectF(self.MARGIN + column * self.CELL_W, self.MARGIN // 2 + row * self.CELL_H,
                      self.CELL_W - 2, self.CELL_H - 2)

    def set_highlight(self, mask: np.ndarray, selected: tuple[int, int]) -> None:
        self.cells_on, self.selected = mask, selected
        self.update()

    def highlighted(self) -> list[tuple[int, int]]:
        return [(int(r), int(c)) for r, c in zip(*np.nonzero(self.cells_on), strict=True)]

    def mousePressEvent(self, event: QMouseEvent) -> None:
        rows, columns = self.values.shape
        for row in range(rows):
            for column in range(columns):
                if self.cell_rect(row, column).contains(event.position()):
                    self.cell_clicked.emit(row, column)
                    return

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rows, columns = self.values.shape
        painter.setPen(QColor("#444"))
        for column in range(columns):
            rect = self.cell_rect(0, column).translated(0, -self.MARGIN // 2 + 4)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"feature {column}")
        for row in range(rows):
            rect = QRectF(2, self.cell_rect(row, 0).top(), self.MARGIN - 6, self.CELL_H - 2)
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             f"sample {row}")
        for row in range(rows):
            for column in range(columns):
                rect = self.cell_rect(row, column)
                colour = QColor("#ffcf70") if self.cells_on[row, column] else QColor("#eef1f5")
                painter.fillRect(rect, colour)
                pen = QColor("#d62728") if (row, column) == self.selected else QColor("#aab")
                painter.setPen(pen)
                painter.drawRect(rect)
                painter.setPen(QColor("#111"))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                                 f"{self.values[row, column]:+.2f}")
        painter.end()


class AxisPage(QWidget):
    """A norm choice, the clickable batch, the statistics of the clicked entry, and batch
    norm's batch-of-one and train-versus-eval numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.values = example_batch(BATCH, FEATURES)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.kind_buttons: dict[str, QRadioButton] = {}
        group = QButtonGroup(self)
        row.addWidget(QLabel("Click an entry of the batch. Normalise with"))
        for kind in NORM_KINDS:
            button = QRadioButton(LABELS[kind])
            group.addButton(button)
            button.toggled.connect(lambda on, kind=kind: self._on_kind_toggled(on, kind))
            self.kind_buttons[kind] = button
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        top = QHBoxLayout()
        self.grid = AxisGrid(self.values)
        self.grid.cell_clicked.connect(self._on_cell_clicked)
        top.addWidget(self.grid)
        self.entry_text = QLabel()
        self.entry_text.setWordWrap(True)
        self.entry_text.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.entry_text, 1)
        layout.addLayout(top)
        self.one_text = QLabel()
        self.one_text.setWordWrap(True)
        self.one_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.one_text)
        layout.addWidget(QLabel("<b>Training vs eval mode</b> on the batch above (max "
                                "|difference| of the outputs; eval uses running "
                                "statistics, only batch norm has any)"))
        self.mode_table = QTableWidget(len(NORM_KINDS), 3)
        self.mode_table.setHorizontalHeaderLabels(
            ["norm", "fresh running stats", "after 10 tracked steps"])
        self.mode_table.verticalHeader().setVisible(False)
        layout.addWidget(self.mode_table, 1)
        self.kind = "batch"
        self.cell = (1, 2)
        self._fill_batch_of_one()
        self._fill_modes()
        self.kind_buttons["batch"].setChecked(True)

    def _on_kind_toggled(self, on: bool, kind: str) -> None:
        if on:
            self.set_kind(kind)

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self._show()

    def _on_cell_clicked(self, row: int, column: int) -> None:
        self.cell = (row, column)
        self._show()

    def _show(self) -> None:
        row, column = self.cell
        self.grid.set_highlight(axis_mask(self.kind, BATCH, FEATURES, row, column), self.cell)
        view = entry_view(self.kind, self.values, row, column)
        stats = "<br>".join(f"{name}: {value:.4g}" for name, value in view.statistics)
        self.entry_text.setText(
            f"<b>{LABELS[self.kind]} norm</b> normalises {AXIS_TEXT[self.kind]}.<br><br>"
            f"Entry (sample {row}, feature {column}) = {view.value:.4g}; over the "
            f"{view.count} highlighted entries<br>{stats}<br>"
            f"output there (weight 1, bias 0): <b>{view.output:.4g}</b>")

    def _fill_batch_of_one(self) -> None:
        report = batch_of_one(self.values[:1])
        values = ", ".join(f"{v:.4g}" for v in report.engine_eval[0])
        self.one_text.setText(
            "<b>A batch of one sample, batch norm in training mode.</b> One sample has no "
            "variance over the batch to divide by.<br>"
            f"Chain Lab's engine: <tt>{report.engine_training}</tt><br>"
            f"torch.nn.BatchNorm1d: <tt>{report.torch_training}</tt><br>"
            "In eval mode both use the running statistics (fresh: mean 0, variance 1) and "
            f"return x / √(1 + eps) = {values} (torch: "
            f"{', '.join(f'{v:.4g}' for v in report.torch_eval[0])}).")

    def _fill_modes(self) -> None:
        for row, kind in enumerate(NORM_KINDS):
            result = train_vs_eval(kind, self.values, tracked_steps=10)
            cells = (LABELS[kind], f"{result.max_difference_fresh:.4g}",
                     f"{result.max_difference_tracked:.4g}")
            for column, text in enumerate(cells):
                self.mode_table.setItem(row, column, QTableWidgetItem(text))
        self.mode_table.resizeColumnsToContents()
