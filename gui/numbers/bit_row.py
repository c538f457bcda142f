"""A row of clickable bits, coloured by field (sign, exponent, mantissa), as float.exposed
draws them. One widget paints all cells: 64 buttons per row would be 700 widgets."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

FIELD_COLOURS = {"sign": QColor("#f4c7c3"), "exponent": QColor("#c6e7c6"),
                 "mantissa": QColor("#c9daf8"), "value": QColor("#e6e6e6")}
FIELD_NAMES = {"sign": "sign", "exponent": "exponent", "mantissa": "mantissa",
               "value": "value"}


class BitRow(QWidget):
    """``width`` bits, most significant first, in lines of at most ``per_line`` cells (a
    64-bit pattern as two lines of 32 keeps its cells as large as a float32's on a laptop
    screen). ``fields`` names each bit's field; a click flips that bit and emits
    ``bits_changed(new_bits)`` (the owner decides what it means).

    Bits are passed as a Python int, so 64-bit patterns need no special care; the signal
    carries them as a decimal string (Qt's int is 32-bit).
    """

    bits_changed = Signal(str)

    def __init__(self, width: int, fields: list[str], cell: int = 16,
                 per_line: int = 32) -> None:
        super().__init__()
        assert len(fields) == width
        self.width_bits, self.fields, self.cell = width, fields, cell
        self.per_line = min(per_line, width)
        self.lines = -(-width // self.per_line)
        self.bits = 0
        self.enabled_bits = True
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self._tooltip())

    def sizeHint(self) -> QSize:
        return QSize(self.per_line * self.cell + 1, self.lines * (self.cell + 2) + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def set_bits(self, bits: int | None) -> None:
        """Show ``bits``; None greys the row out (the value has no pattern here)."""
        self.enabled_bits = bits is not None
        self.bits = bits or 0
        self.update()

    def bit(self, position: int) -> int:
        """Bit ``position`` counted from the left (0 = most significant)."""
        return (self.bits >> (self.width_bits - 1 - position)) & 1

    def cell_rect(self, position: int) -> QRectF:
        """Where bit ``position`` (0 = most significant) is drawn."""
        line, column = divmod(position, self.per_line)
        return QRectF(column * self.cell, 2 + line * (self.cell + 2), self.cell - 1,
                      self.cell)

    def position_at(self, x: float, y: float) -> int | None:
        column, line = int(x // self.cell), int((y - 2) // (self.cell + 2))
        if not (0 <= column < self.per_line and 0 <= line < self.lines):
            return None
        position = line * self.per_line + column
        return position if position < self.width_bits else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = self.position_at(event.position().x(), event.position().y())
        if position is None or event.button() != Qt.MouseButton.LeftButton:
            return
        flipped = self.bits ^ (1 << (self.width_bits - 1 - position))
        self.bits_changed.emit(str(flipped))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        font = painter.font()
        font.setPixelSize(max(8, self.cell - 5))
        painter.setFont(font)
        for position in range(self.width_bits):
            rect = self.cell_rect(position)
            colour = FIELD_COLOURS[self.fields[position]] if self.enabled_bits \
                else QColor("#f2f2f2")
            painter.fillRect(rect, colour)
            painter.setPen(QColor("#888888"))
            painter.drawRect(rect)
            if self.enabled_bits:
                painter.setPen(QColor("#000000"))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(self.bit(position)))
        painter.end()

    def _tooltip(self) -> str:
        spans: list[str] = []
        start = 0
        for position in range(1, self.width_bits + 1):
            if position == self.width_bits or self.fields[position] != self.fields[start]:
                count = position - start
                spans.append(f"{FIELD_NAMES[self.fields[start]]}: {count} bit"
                             + ("s" if count > 1 else ""))
                start = position
        return "Click a bit to flip it.  " + ", ".join(spans)
