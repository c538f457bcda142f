"""The chain drawn as one graphics item: a row of layer boxes joined by edges.

One item paints every node itself, and only those in the exposed rectangle, so a
600-layer chain costs what the visible dozen cost: no item per node to create on a
rebuild, no text to re-lay out for nodes off screen on every pass. The node texts come
from a callback at paint time; edges are coloured and sized by the gradient through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsObject,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

NODE_W, NODE_H, GAP = 112, 70, 26
PITCH = NODE_W + GAP
COLOURS = {"input": "#eeeeee", "linear": "#dbe9f6", "norm": "#e5f5e0",
           "activation": "#fdeccf", "residual": "#efe3f7"}
SKIP = QColor("#6a3d9a")  # a residual block's identity path
SKIP_DROP = 9  # how far below the nodes the identity path runs
SELECTED = QColor("#6a3d9a")


@dataclass
class NodeLook:
    """How the pass wants the nodes drawn: the current one, its colour, the edges."""

    current: int = -1  # layer index; -1: none
    current_colour: QColor = field(default_factory=lambda: QColor("#2ca02c"))
    edge_shares: tuple[float, ...] = ()  # per edge: log-scaled gradient in [0, 1], or NaN


class ChainItem(QGraphicsObject):
    """Nodes -1 (the input) .. n-1 (the layers). Signals: clicked(int) with the layer;
    context_requested(int, QPoint) for a right click on a layer (the screen position)."""

    clicked = Signal(int)
    context_requested = Signal(int, QPoint)

    def __init__(self, text_of: Callable[[int], tuple[str, str]]) -> None:
        super().__init__()
        self.text_of = text_of  # index → (title, body)
        self.kinds: list[str] = []
        self.look = NodeLook()
        self.selected = -1
        self.title_font = QFont("Sans", 9, QFont.Weight.Bold)
        self.body_font = QFont("Sans", 8)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_layers(self, kinds: list[str]) -> None:
        self.prepareGeometryChange()
        self.kinds = kinds
        self.update()

    def set_look(self, look: NodeLook, selected: int) -> None:
        self.look, self.selected = look, selected
        self.update()

    def node_rect(self, index: int) -> QRectF:
        return QRectF((index + 1) * PITCH, 0, NODE_W, NODE_H)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -4, (len(self.kinds) + 1) * PITCH + 4, NODE_H + 8 + SKIP_DROP)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        exposed = option.exposedRect
        first = max(-1, math.floor(exposed.left() / PITCH) - 2)
        last = min(len(self.kinds) - 1, math.ceil(exposed.right() / PITCH))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index in range(first, last + 1):
            self._paint_edge(painter, index)
            self._paint_node(painter, index)

    def _paint_edge(self, painter: QPainter, index: int) -> None:
        if index < 0:
            return
        # edge `index` carries the output of layer index-1 (the input for index 0)
        share = self.look.edge_shares[index] if index < len(self.look.edge_shares) \
            else math.nan
        x = (index + 1) * PITCH
        if math.isfinite(share):
            pen = QPen(QColor.fromHsvF(0.6 * (1 - share), 0.85, 0.85), 1 + 7 * share)
        else:
            pen = QPen(QColor("#bbbbbb"), 1, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawLine(QPointF(x - GAP, NODE_H / 2), QPointF(x, NODE_H / 2))

    @staticmethod
    def _paint_skip(painter: QPainter, rect: QRectF) -> None:
        """The identity path x around the block, joining its output at a ⊕: the route
        the gradient takes past every layer."""
        middle, low = NODE_H / 2, rect.bottom() + SKIP_DROP
        start, end = rect.left() - GAP / 2, rect.right() + GAP / 2
        path = QPainterPath(QPointF(start, middle))
        path.lineTo(start, low)
        path.lineTo(end, low)
        path.lineTo(end, middle + 5)
        painter.setPen(QPen(SKIP, 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.setBrush(QBrush(QColor("#ffffff")))
        painter.drawEllipse(QPointF(end, middle), 5, 5)
        painter.drawLine(QPointF(end - 3, middle), QPointF(end + 3, middle))
        painter.drawLine(QPointF(end, middle - 3), QPointF(end, middle + 3))

    def _paint_node(self, painter: QPainter, index: int) -> None:
        rect = self.node_rect(index)
        kind = "input" if index < 0 else self.kinds[index]
        selected = index == self.selected and index >= 0
        if index == self.look.current:
            pen = QPen(self.look.current_colour, 4)
        elif selected:
            pen = QPen(SELECTED, 3)
        else:
            pen = QPen(QColor("#888888"), 1)
        painter.setPen(pen)
        painter.setBrush(QBrush(QColor(COLOURS.get(kind, "#ffffff"))))
        painter.drawRoundedRect(rect, 4, 4)
        if kind == "residual":
            self._paint_skip(painter, rect)
        if selected and index != self.look.current:
            painter.setPen(QPen(SELECTED, 1))
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 3, 3)
        title, body = self.text_of(index)
        painter.setPen(QColor("#111111"))
        painter.setFont(self.title_font)
        painter.drawText(rect.adjusted(6, 3, -4, 0), Qt.AlignmentFlag.AlignLeft, title)
        painter.setFont(self.body_font)
        painter.drawText(rect.adjusted(6, 20, -4, -2), Qt.AlignmentFlag.AlignLeft, body)

    def node_at(self, position: QPointF) -> int | None:
        index = math.floor(position.x() / PITCH) - 1
        if 0 <= index < len(self.kinds) and self.node_rect(index).contains(position):
            return index
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        index = self.node_at(event.pos())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(index)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        index = self.node_at(event.pos())
        if index is not None:
            self.context_requested.emit(index, event.screenPos())
