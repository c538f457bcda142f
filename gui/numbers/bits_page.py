"""Bits: one value in every format side by side, as clickable bit rows.

Type a number (decimal, 1e-3, 0x1.8p3, inf, nan) and every format shows the pattern it
stores, the exact stored value and the rounding error; click a bit in any row and that
pattern's exact value becomes the number every row shows. The selected row's details
(fields, exact value, error, ULP, neighbours) are written out below, and the float32
pattern is also read as an int32 (the same 32 bits). Every figure is an
:mod:`engine.numbers.reading` reading.
"""

from __future__ import annotations

from fractions import Fraction
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QScrollArea,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.numbers.exact import rounded_decimal
from engine.numbers.formats import FORMATS, FloatFormat, IntFormat, NumberError, get_format
from engine.numbers.limits import limits
from engine.numbers.reading import Reading, decode, encode
from gui.numbers.bit_row import BitRow

ROW_FORMATS = ("float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2",
               "int64", "int32", "int16", "int8", "uint8", "ga4")
SHOWN_DIGITS = 22  # the table elides long exact values; the details show every digit


def bit_fields(name: str) -> list[str]:
    fmt = FORMATS[name]
    if isinstance(fmt, FloatFormat):
        return ["sign"] + ["exponent"] * fmt.exponent_bits + ["mantissa"] * fmt.mantissa_bits
    if isinstance(fmt, IntFormat):
        return (["sign"] if fmt.signed else []) + ["value"] * (fmt.bits - fmt.signed)
    return ["sign"] + ["exponent"] * fmt.exponent_bits


def elide(text: str, digits: int = SHOWN_DIGITS) -> str:
    """``text`` if it fits, else its first digits; a tiny or huge number rounded to 10
    significant digits ("1.401298464e-45" rather than "0.000…", which hides the digits
    that matter). The tooltip has them all."""
    if len(text) <= digits:
        return text
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text[:digits - 1] + "…"
    if value and (abs(value) < Fraction(1, 10**4) or abs(value) >= 10**digits):
        return rounded_decimal(value, 10) + " …"  # leading zeros would hide every digit
    return text[:digits - 1] + "…"


# formats of each width, for "the same bits read as" (a pattern means different numbers)
SAME_WIDTH = {64: ("float64", "int64"), 32: ("float32", "int32"),
              16: ("float16", "bfloat16", "int16"),
              8: ("float8_e4m3fn", "float8_e5m2", "int8", "uint8"), 4: ("ga4",)}


class BitsPage(QWidget):
    """Every format's reading of one value; ``show_value(text, fmt, source)`` from outside
    (the chain view's "Show bits")."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        top = QGridLayout()
        self.value_edit = QLineEdit("0.1")
        self.value_edit.setToolTip("A decimal (0.1, -3.4e38), hexadecimal float (0x1.8p3), "
                                   "integer of any size, inf or nan")
        self.value_edit.returnPressed.connect(self._on_text_entered)
        self.value_edit.editingFinished.connect(self._on_text_entered)
        self.source_label = QLabel("")
        top.addWidget(QLabel("Number:"), 0, 0)
        top.addWidget(self.value_edit, 0, 1)
        top.addWidget(self.source_label, 1, 1)
        layout.addLayout(top)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        for column, title in enumerate(("format", "bits (click to flip)", "stored exactly",
                                        "error (stored − typed)")):
            header = QLabel(f"<b>{title}</b>")
            grid.addWidget(header, 0, column)
        self.selectors: dict[str, QRadioButton] = {}
        self.rows: dict[str, BitRow] = {}
        self.stored_labels: dict[str, QLabel] = {}
        self.error_labels: dict[str, QLabel] = {}
        for line, name in enumerate(ROW_FORMATS, start=1):
            selector = QRadioButton(name if name != "ga4" else "ga4 (GA code, α = 1)")
            selector.toggled.connect(partial(self._on_selector_toggled, name))
            fields = bit_fields(name)
            row = BitRow(len(fields), fields, cell=15)
            row.bits_changed.connect(lambda bits, n=name: self.set_pattern(n, int(bits)))
            stored, error = QLabel(), QLabel()
            for label in (stored, error):
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.selectors[name], self.rows[name] = selector, row
            self.stored_labels[name], self.error_labels[name] = stored, error
            for column, widget in enumerate((selector, row, stored, error)):
                grid.addWidget(widget, line, column)
        grid.setColumnStretch(2, 1)
        grid.setColumnStretch(3, 1)
        grid.setRowStretch(len(ROW_FORMATS) + 1, 1)  # rows at the top, space below
        table = QWidget()
        table.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidget(table)
        scroll.setWidgetResizable(True)
        layout.addWidget(scroll, 3)
        self.same_bits = QLabel()
        self.same_bits.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.same_bits.setWordWrap(True)
        layout.addWidget(self.same_bits)
        self.details = QTextBrowser()
        layout.addWidget(self.details, 2)
        self.readings: dict[str, Reading | None] = {}
        self.problems: dict[str, str] = {}
        self.selected = "float32"
        self.selectors["float32"].setChecked(True)
        self.set_text("0.1")

    # -- what the rows show ----------------------------------------------------------------

    def set_text(self, text: str) -> bool:
        """Encode ``text`` in every format; False (and a message) when it is not a number
        in any of them."""
        self.value_edit.setText(text)
        readings: dict[str, Reading | None] = {}
        problems: dict[str, str] = {}
        for name in ROW_FORMATS:
            try:
                readings[name] = encode(name, text)
            except NumberError as error:
                readings[name], problems[name] = None, str(error)
        if all(reading is None for reading in readings.values()):
            self.source_label.setText(f"⚠ {problems[ROW_FORMATS[0]]}")
            return False
        self.readings, self.problems = readings, problems
        self._refresh()
        return True

    def set_pattern(self, name: str, bits: int) -> None:
        """Flip to ``bits`` in format ``name``: its exact value becomes the number shown."""
        reading = decode(name, bits)
        self.source_label.setText(f"the value of {name} pattern {reading.hex}")
        self.selectors[name].setChecked(True)
        self.set_text(reading.stored_decimal)
        self.source_label.setText(f"the value of {name} pattern {reading.hex}")

    def show_value(self, text: str, fmt: str, source: str) -> None:
        """A value from elsewhere in the app (its exact text) in its own format."""
        self.set_text(text)
        if fmt in self.selectors:
            self.selectors[fmt].setChecked(True)
        self.source_label.setText(f"from {source} ({fmt})")

    def _on_text_entered(self) -> None:
        text = self.value_edit.text().strip()
        changed = text and (not self.readings or text != self._shown_text())
        if changed and self.set_text(text):
            self.source_label.setText("")

    def _shown_text(self) -> str:
        reading = next((r for r in self.readings.values() if r is not None), None)
        return "" if reading is None or reading.input is None else reading.input

    def _refresh(self) -> None:
        for name in ROW_FORMATS:
            reading = self.readings.get(name)
            row, stored, error = (self.rows[name], self.stored_labels[name],
                                  self.error_labels[name])
            if reading is None:
                row.set_bits(None)
                stored.setText(f"<i>{_short_problem(self.problems.get(name, ''))}</i>")
                stored.setToolTip(self.problems.get(name, ""))
                error.setText("")
                continue
            row.set_bits(reading.bits)
            text = reading.stored_decimal
            if reading.wrapped:
                text += "  (wrapped)"
            elif _saturated(reading):
                text += "  (saturated)"
            stored.setText(elide(text))
            stored.setToolTip(reading.stored_decimal)
            error_text = reading.error_decimal
            error.setText("" if error_text is None else elide(error_text, 18))
            error.setToolTip(error_text or "")
        self._show_details(self.selected)

    def _show_same_bits(self) -> None:
        reading = self.readings.get(self.selected)
        if reading is None:
            self.same_bits.setText("")
            return
        others = [name for name in SAME_WIDTH[reading.width] if name != reading.format]
        if not others:
            self.same_bits.setText("")
            return
        readings = ", ".join(f"as {name} {elide(decode(name, reading.bits).stored_decimal)}"
                             for name in others)
        self.same_bits.setText(
            f"The same {reading.width} bits {reading.hex} ({reading.format} "
            f"{elide(reading.stored_decimal)}) read {readings}. A float is not a hash of "
            "the number: its bits are a sign, a power of two and a binary fraction.")

    def _on_selector_toggled(self, name: str, on: bool) -> None:
        if on:
            self._show_details(name)

    def _show_details(self, name: str) -> None:
        self.selected = name
        self._show_same_bits()
        reading = self.readings.get(name)
        if reading is None:
            self.details.setHtml(f"<p><b>{name}</b>: {self.problems.get(name, '')}</p>")
            return
        self.details.setHtml(details_html(reading))


def _saturated(reading: Reading) -> bool:
    """A finite input beyond a saturating format's range, stored as its largest value
    (float8_e4m3fn has no infinity: torch's cast clamps to ±448)."""
    fmt = get_format(reading.format)
    given = reading.input_value
    if not isinstance(fmt, FloatFormat) or fmt.has_infinity or given is None:
        return False
    largest = limits(fmt).max
    return given.kind == "infinity" or (given.fraction is not None
                                        and abs(given.fraction) > largest)


def _short_problem(message: str) -> str:
    if "integers only" in message or "not an integer" in message:
        return "holds integers only"
    return elide(message, 30)


def details_html(reading: Reading) -> str:
    """Everything a reading says, as the details box shows it."""
    fmt = get_format(reading.format)
    rows = [("bits", f"<code>{_grouped_bits(reading)}</code> = {reading.hex}")]
    if isinstance(fmt, FloatFormat) and reading.exponent is not None:
        rows += [("sign", str(reading.sign)),
                 ("exponent", f"field {reading.exponent_bits} → {reading.exponent} "
                              f"(bias {reading.bias})"),
                 ("mantissa", f"{reading.mantissa_bits}"),
                 ("value", _formula(reading))]
    elif isinstance(fmt, IntFormat):
        rows.append(("encoding", "two's complement: the top bit weighs −2^"
                     f"{fmt.bits - 1}" if fmt.signed else "plain binary (unsigned)"))
        if reading.wrapped:
            rows.append(("overflow", f"the input lies outside {fmt.min} … {fmt.max}; "
                         f"wrapping modulo 2^{fmt.bits} gives {reading.wrapped_value}, "
                         f"a saturating conversion {reading.saturated}"))
    elif reading.exponent is not None:
        rows.append(("value", f"(−1)^{reading.sign} · α · 2^{reading.exponent}"))
    rows += [("class", reading.kind), ("stored exactly", reading.stored_decimal)]
    if reading.error_decimal is not None:
        rows.append(("error", reading.error_decimal))
    if reading.relative_error_decimal is not None:
        relative = reading.relative_error_decimal
        rows.append(("relative error", relative if relative == "0"
                     else relative + " (rounded to 17 digits)"))
    if reading.ulp_decimal is not None:
        rows.append(("ULP here", reading.ulp_decimal))
    for label, value in (("next below", reading.next_down), ("next above", reading.next_up)):
        rows.append((label, "none" if value is None else value.decimal))
    body = "".join(f"<tr><td><b>{label}</b></td><td style='padding-left:8px'>{value}</td>"
                   "</tr>" for label, value in rows)
    return f"<h3>{reading.format}</h3><table>{body}</table>"


def _grouped_bits(reading: Reading) -> str:
    fields = bit_fields(reading.format)
    text, last = "", fields[0]
    for bit, field in zip(reading.bit_string, fields, strict=True):
        if field != last:
            text += " "
            last = field
        text += bit
    return text


def _formula(reading: Reading) -> str:
    if reading.kind in ("infinity", "nan", "zero"):
        return reading.kind
    lead = "1" if reading.kind == "normal" else "0"
    return (f"(−1)^{reading.sign} × 2^{reading.exponent} × {lead}.{reading.mantissa_bits}"
            "<sub>2</sub>")
