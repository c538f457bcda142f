"""Chain view: the chain as a row of layer nodes with their values, the selected layer's
numbers written out as the chain rule, and a linear layer's weights as an editable table.

During stepping the current layer is highlighted and the direction shown; the clicked
layer has its own outline; edges are coloured and sized by the gradient flowing through
them. Listens to ``chain_changed`` (new nodes), ``pass_changed`` (values, colours,
details; redrawn at most ~30 times a second).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPainter, QResizeEvent
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QMenu,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.core.layers import Linear
from engine.core.stats import LayerStats
from engine.core.stepper import Pass
from gui.chain_item import NODE_H, ChainItem, NodeLook
from gui.chain_rule_text import fmt, layer_html
from gui.plot_widgets import RedrawTimer
from gui.state import AppState
from gui.weights_table import WeightsTable

SHOWN_VALUES = 3  # per layer in the "Show bits" menu (sample 0's first units)
MIN_SCALE = 0.55  # below this the node text is unreadable; scroll instead
FORWARD, BACKWARD = QColor("#2ca02c"), QColor("#d62728")


class ChainScene(QGraphicsView):
    """The view of the one :class:`ChainItem`: fits a short chain, scrolls a long one."""

    def __init__(self, item: ChainItem) -> None:
        super().__init__()
        self.setScene(QGraphicsScene(self))
        self.item = item
        self.scene().addItem(item)
        self.direction = self.scene().addSimpleText("")
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setMinimumHeight(NODE_H + 50)

    def relayout(self) -> None:
        rect = self.item.boundingRect().adjusted(-8, -8, 8, 24)
        self.scene().setSceneRect(rect)
        self.fit()

    def fit(self) -> None:
        """Show the whole chain when it fits at a readable scale, else scroll along it."""
        rect = self.scene().sceneRect()
        if rect.width() <= 0:
            return
        scale = min(self.viewport().width() / rect.width(),
                    self.viewport().height() / rect.height(), 1.4)
        self.resetTransform()
        self.scale(max(scale, MIN_SCALE), max(scale, MIN_SCALE))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()

    def centre_on_node(self, index: int, arrow: str) -> None:
        rect = self.item.node_rect(index)
        self.ensureVisible(rect, 40, 10)
        self.direction.setText(arrow)
        # under the node, but kept inside the chain's width: at the last node the text
        # would run past the scene's edge and be cut
        right = self.item.boundingRect().right()
        width = self.direction.boundingRect().width()
        self.direction.setPos(max(min(rect.x(), right - width), self.item.boundingRect().left()),
                              NODE_H + 6)


class ChainViewPanel(QWidget):
    """The chain drawn as nodes, plus the selected layer's chain-rule details."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.selected = -1
        self.weights_layer = -1  # the layer the weights table shows
        layout = QVBoxLayout(self)
        self.phase_label = QLabel()
        self.phase_label.setWordWrap(True)  # a refusal's reason is long: never widen the page
        layout.addWidget(self.phase_label)
        self.item = ChainItem(self._node_text)
        self.item.clicked.connect(self.select_layer)
        self.item.context_requested.connect(self._on_context_requested)
        self.view = ChainScene(self.item)
        self.details = QTextBrowser()
        self.weights = WeightsTable()
        self.weights.edited.connect(self._on_weight_edited)
        self.weights.bits_requested.connect(self._on_weight_bits_requested)
        below = QSplitter(Qt.Orientation.Horizontal)
        below.addWidget(self.details)
        below.addWidget(self.weights)
        below.setSizes([500, 400])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.view)
        splitter.addWidget(below)
        splitter.setSizes([150, 450])
        layout.addWidget(splitter)
        self._stats: list[LayerStats] = []
        self._redraw_timer = RedrawTimer(self._redraw, self)
        state.chain_changed.connect(self._on_chain_changed)
        state.pass_changed.connect(self._redraw_timer.mark_dirty)
        self._on_chain_changed()

    def _on_chain_changed(self) -> None:
        self.item.set_layers([layer.type for layer in self.state.chain.layers])
        self.view.relayout()
        if self.selected >= len(self.state.chain.layers):
            self.selected = -1
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def select_layer(self, index: int) -> None:
        self.selected = index
        self._redraw()

    def redraw(self) -> None:
        """Now (tests, exports); live updates come at display rate."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _node_text(self, index: int) -> tuple[str, str]:
        """(title, body) of node ``index`` (-1: the input), for the nodes being painted."""
        pass_ = self.state.pass_
        if index < 0:
            if pass_ is None:
                return "input", ""
            return "input", _values_text(pass_.inputs[0].numpy()) + \
                f"\nbatch {len(pass_.inputs)}"
        layer = self.state.chain.layers[index]
        title = f"{index} linear {layer.in_features}→{layer.out_features_}" \
            if isinstance(layer, Linear) else f"{index} {layer.kind}" + (
                " norm" if layer.type == "norm" else "")
        if pass_ is None or index >= len(self._stats) or pass_.outputs[index] is None:
            return title, ""
        output = pass_.outputs[index]
        assert output is not None
        return title, _values_text(output[0].detach().numpy(), self._stats[index])

    def _redraw(self) -> None:
        pass_ = self.state.pass_
        self._stats = self.state.pass_stats() if pass_ is not None else []
        if pass_ is None:
            self.phase_label.setText(self.state.problem or "No pass yet: press Step forward "
                                     "or Full pass.")
            self.details.setHtml("")
            self.item.set_look(NodeLook(), self.selected)
            self.view.direction.setText("")
            self._show_weights(self.selected)
            return
        current, colour, arrow = _current(pass_)
        self.item.set_look(NodeLook(current, colour, _edge_shares(self._stats, pass_.size)),
                           self.selected)
        if current >= 0:
            self.view.centre_on_node(current, arrow)
        loss = "—" if pass_.loss is None else fmt(float(pass_.loss))
        nonfinite = pass_.first_nonfinite()
        warning = f"   ⚠ {nonfinite.describe()}" if nonfinite else ""
        if self.state.refusal:
            warning += f"   ⚠ {self.state.refusal}"
        self.phase_label.setText(f"{arrow}   forward {pass_.forward_done}/{pass_.size}, "
                                 f"backward {pass_.backward_done}/{pass_.size}, "
                                 f"loss {loss}{warning}")
        index = self.selected if self.selected >= 0 else current
        if 0 <= index < pass_.size:
            self.details.setHtml(layer_html(pass_.record(index), len(pass_.inputs)))
        else:
            self.details.setHtml("<p>Click a layer to see its numbers and the chain rule.</p>")
        self._show_weights(index)

    def _show_weights(self, index: int) -> None:
        """The weights table of the layer whose details are shown (the clicked one, else
        the current one), when it is a linear layer."""
        layers = self.state.chain.layers
        self.weights_layer = index
        if not 0 <= index < len(layers) or not isinstance(layers[index], Linear):
            self.weights.hide()
            return
        params = layers[index].params
        self.weights.show_layer(index, params["weight"].numpy(), params["bias"].numpy())
        self.weights.show()

    def inspectable_values(self, index: int) -> list[tuple[str, float]]:
        """(label, value) of layer ``index``'s numbers a "Show bits" menu offers: sample
        0's first outputs and their gradients, a linear layer's first weight, bias and
        weight gradient."""
        values: list[tuple[str, float]] = []
        layer = self.state.chain.layers[index]
        pass_ = self.state.pass_
        if pass_ is not None and pass_.outputs[index] is not None:
            output = pass_.outputs[index]
            assert output is not None
            for j, v in enumerate(output[0].reshape(-1)[:SHOWN_VALUES].tolist()):
                values.append((f"output[0, {j}]", v))
            grad = pass_.grad_outputs[index]
            if grad is not None:
                for j, v in enumerate(grad[0].reshape(-1)[:SHOWN_VALUES].tolist()):
                    values.append((f"dL/d output[0, {j}]", v))
        if isinstance(layer, Linear):
            values.append(("weight[0, 0]", float(layer.params["weight"][0, 0])))
            values.append(("bias[0]", float(layer.params["bias"][0])))
            if pass_ is not None and pass_.backwards[index] is not None:
                values.append(("dL/dW[0, 0]", float(pass_.grads(index)["weight"][0, 0])))
        return values

    def _on_context_requested(self, index: int, where: QPoint) -> None:
        values = self.inspectable_values(index)
        if not values:
            return
        menu = QMenu(self)
        menu.setTitle("Show bits")
        for label, value in values:
            held_in = self._parameter_format() if label.startswith(("weight", "bias")) \
                else self.state.session.dtype
            menu.addAction(f"Show bits of {label} = {fmt(value)}",
                           partial(self.state.inspect_number, value, held_in,
                                   f"layer {index} {label}"))
        menu.exec(where)

    def _parameter_format(self) -> str:
        """The format the chain's parameters are held in: the training's storage format
        when its weights are kept in a narrower one, else the session dtype."""
        precision = self.state.training.settings.precision
        return precision.storage if precision is not None else self.state.session.dtype

    def _on_weight_bits_requested(self, name: str, position: tuple[int, ...],
                                  value: float) -> None:
        label = f"{name}[{', '.join(map(str, position))}]"
        self.state.inspect_number(value, self._parameter_format(),
                                  f"layer {self.weights_layer} {label}")

    def _on_weight_edited(self, name: str, position: tuple[int, ...], value: float) -> None:
        self.state.set_parameter(self.weights_layer, name, position, value)


def _current(pass_: Pass) -> tuple[int, QColor, str]:
    if pass_.phase == "forward":
        return pass_.forward_done - 1, FORWARD, "→ forward"
    if pass_.backward_done == 0:
        return pass_.size - 1, FORWARD, "loss computed: step backward ←"
    return (pass_.size - pass_.backward_done, BACKWARD,
            "← backward" if pass_.phase == "backward" else "✓ pass complete")


def _values_text(values: np.ndarray, stats: LayerStats | None = None) -> str:
    """Sample 0's values for a narrow layer, else the engine's batch statistics."""
    flat = values.reshape(-1)
    if flat.size <= 3 or stats is None:
        return "\n".join(fmt(float(v)) for v in flat[:3])
    return f"{flat.size} units\n‖·‖ {fmt(stats.output_l2)}\nstd {fmt(stats.output_std)}"


def _edge_shares(stats: list[LayerStats], layers: int) -> tuple[float, ...]:
    """Per edge, log10 ‖dL/d output‖ of the layer before it, scaled to [0, 1]; NaN where
    there is no gradient (yet). Edge 0 is the input's."""
    magnitudes = np.full(layers + 1, np.nan)
    for index, stat in enumerate(stats):
        if stat.grad_l2 is not None:
            magnitudes[index + 1] = stat.grad_l2
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(magnitudes > 0, np.log10(magnitudes), np.nan)
    finite = logs[np.isfinite(logs)]
    if finite.size == 0:
        return tuple(math.nan for _ in logs)
    low, high = float(finite.min()), float(finite.max())
    shares = (logs - low) / (high - low) if high > low else np.where(np.isfinite(logs), 1.0,
                                                                     np.nan)
    return tuple(float(s) for s in shares)

