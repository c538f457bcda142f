"""Chain view: the chain as a row of layer nodes with their values, and the selected
layer's numbers written out as the chain rule.

During stepping the current layer is highlighted and the direction shown; edges are
coloured and sized by the gradient magnitude flowing through them. Listens to
``chain_changed`` (rebuild nodes) and ``pass_changed`` (update values and colours).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.core.layers import Linear
from engine.core.stats import LayerStats
from engine.core.stepper import Pass
from gui.chain_rule_text import fmt, layer_html
from gui.state import AppState

NODE_W, NODE_H, GAP = 104, 66, 26
MIN_SCALE = 0.55  # below this the node text is unreadable; scroll instead
COLOURS = {"linear": "#dbe9f6", "norm": "#e5f5e0", "activation": "#fdeccf"}
FORWARD, BACKWARD = QColor("#2ca02c"), QColor("#d62728")


class LayerNode(QGraphicsRectItem):
    def __init__(self, index: int, on_click: Callable[[int], None]) -> None:
        super().__init__(0, 0, NODE_W, NODE_H)
        self.index, self._on_click = index, on_click
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.title = QGraphicsSimpleTextItem(self)
        self.title.setFont(QFont("Sans", 9, QFont.Weight.Bold))
        self.title.setPos(6, 4)
        self.body = QGraphicsSimpleTextItem(self)
        self.body.setFont(QFont("Sans", 8))
        self.body.setPos(6, 22)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self._on_click(self.index)


class ChainScene(QGraphicsView):
    layer_clicked = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setMinimumHeight(NODE_H + 60)
        self.nodes: list[LayerNode] = []
        self.edges: list = []
        self.direction = self.scene().addSimpleText("")

    def rebuild(self, labels: list[tuple[str, str]]) -> None:
        scene = self.scene()
        for item in [*self.nodes, *self.edges]:
            scene.removeItem(item)
        self.nodes, self.edges = [], []
        x = 0.0
        input_node = LayerNode(-1, lambda _: None)
        input_node.title.setText("input")
        input_node.setBrush(QBrush(QColor("#eeeeee")))
        self.nodes.append(input_node)
        scene.addItem(input_node)
        for index, (layer_type, title) in enumerate(labels):
            x += NODE_W + GAP
            edge = scene.addLine(x - GAP, NODE_H / 2, x, NODE_H / 2, QPen(QColor("#999"), 1))
            self.edges.append(edge)
            node = LayerNode(index, self.layer_clicked.emit)
            node.setPos(x, 0)
            node.title.setText(title)
            node.setBrush(QBrush(QColor(COLOURS.get(layer_type, "#ffffff"))))
            scene.addItem(node)
            self.nodes.append(node)
        self.direction.setPos(0, NODE_H + 6)
        scene.setSceneRect(QRectF(-10, -10, x + NODE_W + 20, NODE_H + 36))
        self.fit()

    def fit(self) -> None:
        """Show the whole chain when it fits at a readable scale, else scroll along it."""
        rect = self.scene().sceneRect()
        if rect.width() <= 0:
            return
        available = self.viewport().width(), self.viewport().height()
        scale = min(available[0] / rect.width(), available[1] / rect.height(), 1.4)
        scale = max(scale, MIN_SCALE)
        self.resetTransform()
        self.scale(scale, scale)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()

    def centre_on_node(self, index: int) -> None:
        if 0 <= index + 1 < len(self.nodes):
            node = self.nodes[index + 1]
            self.ensureVisible(node, 40, 10)
            self.direction.setPos(node.pos().x(), NODE_H + 6)


class ChainViewPanel(QWidget):
    """The chain drawn as nodes, plus the selected layer's chain-rule details."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.selected = -1
        layout = QVBoxLayout(self)
        self.phase_label = QLabel()
        layout.addWidget(self.phase_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.view = ChainScene()
        self.view.layer_clicked.connect(self.select_layer)
        self.details = QTextBrowser()
        splitter.addWidget(self.view)
        splitter.addWidget(self.details)
        splitter.setSizes([160, 300])
        layout.addWidget(splitter)
        state.chain_changed.connect(self._on_chain_changed)
        state.pass_changed.connect(self._on_pass_changed)
        self._on_chain_changed()

    def _on_chain_changed(self) -> None:
        labels = []
        for layer in self.state.chain.layers:
            if isinstance(layer, Linear):
                labels.append((layer.type, f"linear {layer.in_features}→{layer.out_features_}"))
            else:
                labels.append((layer.type, f"{layer.type}: {layer.kind}"))
        self.view.rebuild(labels)
        if self.selected >= len(labels):
            self.selected = -1
        self._on_pass_changed()

    def select_layer(self, index: int) -> None:
        self.selected = index
        self._on_pass_changed()

    def _on_pass_changed(self) -> None:
        pass_ = self.state.pass_
        nodes = self.view.nodes
        if pass_ is None:
            self.phase_label.setText(self.state.problem or "No pass yet: press Step forward "
                                     "or Full pass.")
            self.details.setHtml("")
            for node in nodes[1:]:
                node.body.setText("")
                node.setPen(QPen(QColor("#888"), 1))
            return
        stats = self.state.pass_stats()
        batch = len(pass_.inputs)
        nodes[0].body.setText(self._values_text(pass_.inputs[0].numpy()) + f"\nbatch {batch}")
        for index, node in enumerate(nodes[1:]):
            output = pass_.outputs[index]
            node.body.setText("" if output is None or index >= len(stats) else
                              self._values_text(output[0].detach().numpy(), stats[index]))
            node.setPen(QPen(QColor("#888"), 1))
        self._colour_edges(stats)
        current, colour, arrow = self._current(pass_)
        if current >= 0:
            nodes[current + 1].setPen(QPen(colour, 4))
            self.view.centre_on_node(current)
        loss = "—" if pass_.loss is None else fmt(float(pass_.loss))
        nonfinite = pass_.first_nonfinite()
        warning = f"   ⚠ {nonfinite.describe()}" if nonfinite else ""
        self.phase_label.setText(f"{arrow}   forward {pass_.forward_done}/{pass_.size}, "
                                 f"backward {pass_.backward_done}/{pass_.size}, "
                                 f"loss {loss}{warning}")
        self.view.direction.setText(arrow if current >= 0 else "")
        index = self.selected if self.selected >= 0 else current
        if 0 <= index < pass_.size:
            self.details.setHtml(layer_html(pass_.record(index), batch))
        else:
            self.details.setHtml("<p>Click a layer to see its numbers and the chain rule.</p>")

    @staticmethod
    def _current(pass_: Pass) -> tuple[int, QColor, str]:
        if pass_.phase == "forward":
            return pass_.forward_done - 1, FORWARD, "→ forward"
        if pass_.backward_done == 0:
            return pass_.size - 1, FORWARD, "loss computed: step backward ←"
        return (pass_.size - pass_.backward_done, BACKWARD,
                "← backward" if pass_.phase == "backward" else "✓ pass complete")

    @staticmethod
    def _values_text(values: np.ndarray, stats: LayerStats | None = None) -> str:
        """Sample 0's values for a narrow layer, else the engine's batch statistics."""
        flat = values.reshape(-1)
        if flat.size <= 3 or stats is None:
            return "\n".join(fmt(float(v)) for v in flat[:3])
        return f"{flat.size} units\n‖·‖ {fmt(stats.output_l2)}\nstd {fmt(stats.output_std)}"

    def _colour_edges(self, stats: list) -> None:
        magnitudes = [s.grad_l2 if s.grad_l2 is not None else math.nan for s in stats]
        finite = [m for m in magnitudes if m > 0 and math.isfinite(m)]
        low = math.log10(min(finite)) if finite else 0.0
        high = math.log10(max(finite)) if finite else 1.0
        for index, edge in enumerate(self.view.edges):
            # edge `index` carries layer index-1's output (the input for index 0)
            source = index - 1
            magnitude = magnitudes[source] if 0 <= source < len(magnitudes) else math.nan
            if not (magnitude > 0 and math.isfinite(magnitude)):
                edge.setPen(QPen(QColor("#bbbbbb"), 1, Qt.PenStyle.DashLine))
                continue
            share = (math.log10(magnitude) - low) / (high - low) if high > low else 1.0
            colour = QColor.fromHsvF(0.6 * (1 - share), 0.85, 0.85)
            edge.setPen(QPen(colour, 1 + 7 * share))
            edge.setToolTip(f"‖dL/d output of layer {source}‖ = {fmt(magnitude)}")
