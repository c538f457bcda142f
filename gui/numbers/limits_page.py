"""Limits: every format's range and resolution side by side, and common claims about
floats and ints set right with the exact figures (:func:`engine.numbers.limits.limits`,
:func:`engine.numbers.reading.encode`). Cells round to 8 digits; tooltips hold every
digit."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from engine.numbers.exact import decimal_string, rounded_decimal
from engine.numbers.formats import FORMATS, FloatFormat, IntFormat
from engine.numbers.limits import Limits, limits
from engine.numbers.reading import encode

COLUMNS = ("float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2",
           "int64", "int32", "int16", "int8", "uint8", "ga4")
ROWS = (("max", "largest value"), ("min", "most negative value"),
        ("min_normal", "smallest normal > 0"), ("min_subnormal", "smallest value > 0"),
        ("epsilon", "epsilon (gap above 1)"),
        ("max_exact_integer", "every integer exact up to"))


def layout_text(name: str) -> str:
    fmt = FORMATS[name]
    if isinstance(fmt, FloatFormat):
        return f"1 + {fmt.exponent_bits} + {fmt.mantissa_bits} bits, bias {fmt.bias}"
    if isinstance(fmt, IntFormat):
        return f"{fmt.bits} bits, " + ("two's complement" if fmt.signed else "unsigned")
    return "1 + 3 bits: ±α·2^−e"


class LimitsPage(QWidget):
    """The limits table and the corrected claims."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        # a row per format: twelve rows fit a laptop screen better than twelve columns
        self.table = QTableWidget(len(COLUMNS), len(ROWS) + 1)
        self.table.setHorizontalHeaderLabels(["layout", *(label for _, label in ROWS)])
        self.table.setVerticalHeaderLabels(list(COLUMNS))
        self.limits: dict[str, Limits] = {name: limits(name) for name in COLUMNS}
        for row, name in enumerate(COLUMNS):
            self.table.setItem(row, 0, _item(layout_text(name), layout_text(name)))
            values = self.limits[name]
            for column, (field, _label) in enumerate(ROWS, start=1):
                value = getattr(values, field)
                if value is None:
                    self.table.setItem(row, column, _item("—", "does not apply"))
                    continue
                exact = decimal_string(Fraction(value))
                self.table.setItem(row, column, _item(_short(Fraction(value)), exact))
        self.table.resizeColumnsToContents()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        # every row shown, with room for the horizontal scroll bar a narrow window needs
        # (without it the bar took the last row's place and a vertical one appeared)
        self.table.setFixedHeight(self.table.verticalHeader().length()
                                  + self.table.horizontalHeader().height()
                                  + self.table.horizontalScrollBar().sizeHint().height() + 6)
        layout.addWidget(self.table)
        self.claims = QLabel(claims_html(self.limits["float32"]))
        self.claims.setWordWrap(True)
        layout.addWidget(self.claims)
        layout.addStretch(1)

    def cell(self, field: str, name: str) -> QTableWidgetItem | None:
        column = 1 + [f for f, _ in ROWS].index(field)
        return self.table.item(COLUMNS.index(name), column)


def _item(text: str, tooltip: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tooltip)
    return item


def _short(value: Fraction) -> str:
    """Integers in full (grouped by thousands) up to 20 digits; other values to 8
    significant digits, in positional notation between 10^-4 and 10^6."""
    if value.denominator == 1 and abs(value) < 10**20:
        return f"{int(value):,}".replace(",", " ")
    if Fraction(1, 10**4) <= abs(value) < 10**6:
        return f"{float(value):.8g}"
    return rounded_decimal(value, 8)


def claims_html(float32: Limits) -> str:
    """Claims heard about numbers, each with what is true, figures from the engine."""
    largest = decimal_string(float32.max)
    tenth = encode("float32", "0.1").stored_decimal
    past = encode("float32", "16777217").stored_decimal
    wrapped = encode("int32", "2147483648").stored_decimal
    items = [
        ("“The largest float32 is 2<sup>127</sup>.”",
         f"It is (2 − 2<sup>−23</sup>) × 2<sup>127</sup> = {largest} ≈ "
         f"{rounded_decimal(float32.max, 8)}; 2<sup>127</sup> ≈ 1.7 × 10<sup>38</sup> is "
         "only its exponent's power of two."),
        ("“A float is stored as a hash” / “stored as is below some limit”.",
         "It is sign × 2<sup>exponent − bias</sup> × 1.mantissa, binary scientific "
         "notation the processor computes on directly; every result is rounded to the "
         f"nearest value the format holds: 0.1 is stored in float32 as {tenth}."),
        ("“float32 holds every integer up to its maximum.”",
         f"Only up to 2<sup>24</sup> = 16 777 216; 16 777 217 is stored as {past}."),
        ("“An int32 overflow is an error.”",
         "int32 holds −2<sup>31</sup> … 2<sup>31</sup> − 1 exactly and wraps: "
         f"2 147 483 647 + 1 = {wrapped} (see Integers)."),
        ("“Integer arithmetic is faster.”",
         "It depends on the operation and the hardware: measure it (Speed)."),
    ]
    body = "".join(f"<li><b>{claim}</b> {truth}</li>" for claim, truth in items)
    return f"<p><b>Claims, corrected</b></p><ul>{body}</ul>"
