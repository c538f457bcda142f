"""Integers: the ranges, two's complement bit by bit, and overflow wrapping (as torch
computes it) beside a saturating adder. Figures from :mod:`engine.numbers`."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.numbers.formats import FORMATS, IntFormat, NumberError
from engine.numbers.int_arithmetic import add
from engine.numbers.reading import decode, encode
from gui.numbers.bit_row import BitRow
from gui.numbers.bits_page import bit_fields

INTS = ("int8", "int16", "int32", "int64", "uint8")


def grouped(number: int) -> str:
    return f"{number:,}".replace(",", " ")


class IntegersPage(QWidget):
    """Ranges table; a two's complement explorer; a + b with overflow."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.addWidget(self._ranges())
        layout.addWidget(self._explorer())
        layout.addWidget(self._adder())
        layout.addStretch(1)
        self.show_twos_complement()
        self.compute_sum()

    def _ranges(self) -> QTableWidget:
        table = QTableWidget(len(INTS), 3)
        table.setHorizontalHeaderLabels(["min", "max", "values"])
        table.setVerticalHeaderLabels(list(INTS))
        for row, name in enumerate(INTS):
            fmt = FORMATS[name]
            assert isinstance(fmt, IntFormat)
            for column, number in enumerate((fmt.min, fmt.max, 1 << fmt.bits)):
                item = QTableWidgetItem(grouped(number))
                item.setToolTip(("2^" + str(fmt.bits)) if column == 2 else str(number))
                table.setItem(row, column, item)
        table.resizeColumnsToContents()
        table.setMaximumHeight(table.verticalHeader().length() + 30)
        self.ranges = table
        return table

    def _explorer(self) -> QGroupBox:
        group = QGroupBox("Two's complement: the top bit weighs −2^(n−1), the others +2^k")
        column = QVBoxLayout(group)
        row = QHBoxLayout()
        self.explore_format = QComboBox()
        self.explore_format.addItems(list(INTS))
        self.explore_format.currentTextChanged.connect(self._on_explore_format)
        self.explore_value = QLineEdit("-5")
        self.explore_value.editingFinished.connect(self.show_twos_complement)
        row.addWidget(self.explore_format)
        row.addWidget(self.explore_value)
        column.addLayout(row)
        self.explore_rows: dict[str, BitRow] = {}
        for name in INTS:
            bits = BitRow(FORMATS[name].width, bit_fields(name), 15)  # int64: two lines
            bits.bits_changed.connect(lambda text, n=name: self._on_bits_clicked(n, int(text)))
            bits.setVisible(name == "int8")
            self.explore_rows[name] = bits
            column.addWidget(bits)
        self.explore_text = QLabel()
        self.explore_text.setWordWrap(True)
        column.addWidget(self.explore_text)
        return group

    def _adder(self) -> QGroupBox:
        group = QGroupBox("Overflow: a + b in a fixed width")
        form = QFormLayout(group)
        self.sum_format = QComboBox()
        self.sum_format.addItems(list(INTS))
        self.sum_format.setCurrentText("int32")
        self.a_edit, self.b_edit = QLineEdit("2147483647"), QLineEdit("1")
        for widget in (self.a_edit, self.b_edit):
            widget.editingFinished.connect(self.compute_sum)
        self.sum_format.currentTextChanged.connect(lambda _: self.compute_sum())
        self.sum_text = QLabel()
        self.sum_text.setWordWrap(True)
        form.addRow("format", self.sum_format)
        form.addRow("a", self.a_edit)
        form.addRow("b", self.b_edit)
        form.addRow(self.sum_text)
        return group

    def _on_explore_format(self, name: str) -> None:
        for format_name, bits in self.explore_rows.items():
            bits.setVisible(format_name == name)
        self.show_twos_complement()

    def _on_bits_clicked(self, name: str, bits: int) -> None:
        self.explore_value.setText(decode(name, bits).stored_decimal)
        self.show_twos_complement()

    def show_twos_complement(self) -> None:
        name = self.explore_format.currentText()
        fmt = FORMATS[name]
        assert isinstance(fmt, IntFormat)
        try:
            reading = encode(name, self.explore_value.text().strip())
        except NumberError as error:
            self.explore_text.setText(f"⚠ {error}")
            self.explore_rows[name].set_bits(None)
            return
        self.explore_rows[name].set_bits(reading.bits)
        terms = [f"−2^{fmt.bits - 1}" if fmt.signed and k == fmt.bits - 1 else f"2^{k}"
                 for k in range(fmt.bits - 1, -1, -1) if reading.bits >> k & 1]
        sum_text = " + ".join(terms).replace("+ −", "− ") or "0"
        wrapped = (f"  ({self.explore_value.text().strip()} is outside {fmt.min} … "
                   f"{fmt.max}: it wraps to {reading.wrapped_value}; a saturating "
                   f"conversion gives {reading.saturated})") if reading.wrapped else ""
        self.explore_text.setText(f"{reading.hex} = {sum_text} = {reading.stored_decimal}"
                                  f"{wrapped}")

    def compute_sum(self) -> None:
        try:
            result = add(self.sum_format.currentText(), self.a_edit.text().strip(),
                         self.b_edit.text().strip())
        except NumberError as error:
            self.sum_text.setText(f"⚠ {error}")
            return
        if result.overflowed:
            verdict = (f"overflow: the exact sum {grouped(result.exact)} does not fit. "
                       f"Wrapping (two's complement, what torch computed: "
                       f"<b>{grouped(result.torch_result)}</b>) gives "
                       f"{grouped(result.wrapped)}; a saturating adder would give "
                       f"{grouped(result.saturated)}.")
        else:
            verdict = (f"{grouped(result.a)} + {grouped(result.b)} = "
                       f"<b>{grouped(result.torch_result)}</b> (torch), exact: it fits.")
        self.sum_text.setText(verdict)
