"""A linear layer's weight matrix and bias as an editable table.

Rows are output units, columns the inputs and then the bias. Typing a number sets that
parameter through the state (an edit: training restarts from the new weights); a cell's
context menu shows its bits in the Numbers lab. Large layers show their first
``MAX_SHOWN`` rows and columns.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAX_SHOWN = 64
MIN_COLUMN_PX = 60


class WeightsTable(QWidget):
    """Signals: edited(name, index tuple, value); bits_requested(name, index tuple,
    value) from a cell's context menu ("Show bits")."""

    edited = Signal(str, tuple, float)
    bits_requested = Signal(str, tuple, float)

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel()
        self.table = QTableWidget()
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        self._showing = False
        self.shape: tuple[int, int] = (0, 0)
        self._weight, self._bias = np.zeros((0, 0)), np.zeros(0)  # what the cells show

    def show_layer(self, index: int, weight: np.ndarray, bias: np.ndarray) -> None:
        """Fill the table with ``weight`` (out, in) and ``bias`` (out,) of layer ``index``."""
        rows, columns = weight.shape
        shown_rows, shown_columns = min(rows, MAX_SHOWN), min(columns, MAX_SHOWN)
        clipped = "" if (rows, columns) == (shown_rows, shown_columns) else \
            f" (first {shown_rows} × {shown_columns} shown)"
        self.caption.setText(f"Layer {index}: W ({rows} × {columns}) and b{clipped}. "
                             "Type a number to set it.")
        self._showing = True
        self._weight, self._bias = weight.copy(), bias.copy()
        if (self.table.rowCount(), self.table.columnCount()) != (shown_rows,
                                                                  shown_columns + 1):
            self.table.setRowCount(shown_rows)
            self.table.setColumnCount(shown_columns + 1)
            self.table.setHorizontalHeaderLabels(
                [f"x{k}" for k in range(shown_columns)] + ["bias"])
            self.table.setVerticalHeaderLabels([f"y{j}" for j in range(shown_rows)])
        longest = ""
        for j in range(shown_rows):
            for k in range(shown_columns + 1):
                value = float(bias[j]) if k == shown_columns else float(weight[j, k])
                text = self._set_cell(j, k, value)
                longest = max(longest, text, key=len)
        # columns as wide as the longest value: one cut to "0.299915429…" cannot be read
        # against the 8 digits a lesson quotes (a float64 repr is up to ~24 characters)
        width = max(self.table.fontMetrics().horizontalAdvance(longest + "0") + 12,
                    MIN_COLUMN_PX)
        for column in range(shown_columns + 1):
            if self.table.columnWidth(column) != width:
                self.table.setColumnWidth(column, width)
        self.shape = (shown_rows, shown_columns)
        self._showing = False

    def _set_cell(self, row: int, column: int, value: float) -> str:
        text = repr(value)
        item = self.table.item(row, column)
        if item is None:
            self.table.setItem(row, column, QTableWidgetItem(text))
        elif item.text() != text and not self.table.isPersistentEditorOpen(item):
            item.setText(text)
        return text

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._showing:
            return
        row, column = item.row(), item.column()
        try:
            value = float(item.text())
        except ValueError:
            self._refuse(item, f"{item.text()!r} is not a number: the parameter is unchanged")
            return
        if not math.isfinite(value):
            self._refuse(item, "a parameter must be a finite number: it is unchanged")
            return
        if column == self.shape[1]:
            self._bias[row] = value
            self.edited.emit("bias", (row,), value)
        else:
            self._weight[row, column] = value
            self.edited.emit("weight", (row, column), value)

    def cell_parameter(self, row: int, column: int) -> tuple[str, tuple[int, ...], float]:
        """(name, position, value) of the parameter the cell shows."""
        if column == self.shape[1]:
            return "bias", (row,), float(self._bias[row])
        return "weight", (row, column), float(self._weight[row, column])

    def _on_context_menu(self, point: QPoint) -> None:
        item = self.table.itemAt(point)
        if item is None:
            return
        name, position, value = self.cell_parameter(item.row(), item.column())
        menu = QMenu(self)
        label = f"{name}[{', '.join(map(str, position))}]"
        menu.addAction(f"Show bits of {label} = {value!r}",
                       lambda: self.bits_requested.emit(name, position, value))
        menu.exec(self.table.viewport().mapToGlobal(point))

    def _refuse(self, item: QTableWidgetItem, why: str) -> None:
        """Put the parameter's value back in the cell: it must not show what the chain
        does not hold."""
        row, column = item.row(), item.column()
        value = self._bias[row] if column == self.shape[1] else self._weight[row, column]
        self._showing = True
        item.setText(repr(float(value)))
        self._showing = False
        self.caption.setText(why)
