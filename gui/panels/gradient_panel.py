"""Gradient flow: per-layer ‖dL/dW‖ and ‖dL/da‖ on a log scale, activation std and the
saturated/dead share per layer, and every activation layer's distribution of values and
of gradients as one image each (layers × bins, log density), with a picked layer's
histograms below.

A 30-layer sigmoid or tanh chain shows its vanishing gradients at a glance; a 200-layer
chain stays readable (one image, not 200 curves). Listens to ``chain_changed`` and
``pass_changed`` (redrawn at most ~30 times a second, also while training runs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from engine.core.distributions import Distributions, distributions, sticky_range
from engine.core.layers import Activation, Linear
from engine.core.residual import Residual
from engine.core.stats import LayerStats
from engine.data.session import SessionError
from gui.plot_widgets import (
    LogBars,
    RedrawTimer,
    StickyRanges,
    log_floor,
    set_keys,
    titled_plot,
)
from gui.residual_view import ResidualView
from gui.state import AppState

WEIGHT, ACTIVATION = "#d62728", "#1f77b4"
STD, SATURATED, DEAD = "#2ca02c", "#ff7f0e", "#7f7f7f"
AXES = {"output": "value", "grad": "log₁₀|dL/da|"}
DISTRIBUTION_TITLES = {"output": "Activation values per layer",
                       "grad": "Gradient magnitude log₁₀|dL/da| per layer"}


class DistributionImage:
    """One plot: rows = activation layers (input end at the bottom), columns = bins,
    colour = log₁₀ density, with a colour bar. Clicking a row picks that layer."""

    def __init__(self, of: str, on_pick: Callable[[int], None]) -> None:
        self.of = of
        self.widget = titled_plot(DISTRIBUTION_TITLES[of], AXES[of], "layer",
                                  name="activation_distributions" if of == "output"
                                  else "gradient_distributions")
        self.item = self.widget.getPlotItem()
        self.image = pg.ImageItem()
        self.item.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), width=12,
                                   label="log₁₀ density", interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.item)
        self.marker = pg.InfiniteLine(angle=0, pen=pg.mkPen("w", width=1.5,
                                                            style=Qt.PenStyle.DashLine))
        self.item.addItem(self.marker)
        self.item.getViewBox().setMouseEnabled(x=False, y=False)
        self.image.mouseClickEvent = self._on_click
        self._on_pick = on_pick
        self.data: Distributions | None = None
        self.levels: tuple[float, float] | None = None
        self.shown_rect: tuple[float, float, int] | None = None
        self.item.export_table = self.table

    def show(self, data: Distributions | None, picked_row: int) -> None:
        self.data = data
        if data is None:
            self.image.clear()
            self.marker.hide()
            return
        with np.errstate(divide="ignore"):
            logged = np.log10(data.density)
        logged[~np.isfinite(logged)] = np.nan  # empty bins draw nothing
        finite = logged[np.isfinite(logged)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.image.setImage(logged.T, autoLevels=False)  # ImageItem's first axis is x
        levels = sticky_range(low, high, self.levels, fill=0.5)
        if levels != self.levels:  # the colour bar's axis repaints only when they move
            self.levels = levels
            self.bar.setLevels(levels)
        else:
            self.image.setLevels(levels)
        x0, x1 = data.range
        rows = len(data.layers)
        self.image.setRect(QRectF(x0, -0.5, x1 - x0, rows))
        if self.shown_rect != (x0, x1, rows):
            self.shown_rect = (x0, x1, rows)
            self.item.getAxis("left").setTicks([_row_ticks(data.layers)])
            self.item.setRange(xRange=(x0, x1), yRange=(-0.5, rows - 0.5), padding=0)
        self.marker.setPos(picked_row)
        self.marker.show()

    def _on_click(self, event: pg.GraphicsScene.mouseEvents.MouseClickEvent) -> None:
        if self.data is None:
            return
        row = round(self.image.mapToParent(event.pos()).y())
        if 0 <= row < len(self.data.layers):
            self._on_pick(self.data.layers[row])

    def table(self) -> tuple[list[str], list[list[object]]]:
        """Rows (layer, bin start, bin end, density), raw: not the log shown."""
        data = self.data
        if data is None:
            return ["layer", "bin_start", "bin_end", "density"], []
        rows: list[list[object]] = [
            [layer, float(data.edges[b]), float(data.edges[b + 1]), float(data.density[r, b])]
            for r, layer in enumerate(data.layers) for b in range(len(data.edges) - 1)]
        axis = "log10_abs_" if data.log_axis else ""
        return ["layer", f"{axis}bin_start", f"{axis}bin_end", "density"], rows


def _row_ticks(layers: tuple[int, ...]) -> list[tuple[float, str]]:
    step = max(1, len(layers) // 10)
    return [(float(row), str(layer)) for row, layer in enumerate(layers) if row % step == 0]


class GradientFlowPanel(QWidget):
    """Gradient-flow bars, activation statistics and per-layer distributions."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.picked = -1  # chain index of the layer whose histograms are shown
        grid = QGridLayout(self)
        self.summary = QLabel()
        grid.addWidget(self.summary, 0, 0, 1, 2)
        self.flow_plot = titled_plot("Gradient flow per layer", "layer", "L2 norm",
                                     log_axis=True, integer_x=True, name="gradient_flow",
                                     keys=(("‖dL/dW‖ (linear)", WEIGHT),
                                           ("‖dL/da‖ (activation)", ACTIVATION)))
        self.weight_bars = LogBars(self.flow_plot, "‖dL/dW‖ (linear)", WEIGHT, -0.2)
        self.activation_bars = LogBars(self.flow_plot, "‖dL/da‖ (activation)", ACTIVATION, 0.2)
        self.flow_plot.getPlotItem().export_table = self._flow_table
        self.health_plot = titled_plot("Activations per layer", "layer", "std / share",
                                       integer_x=True, name="activation_health",
                                       keys=(("output std", STD), ("saturated", SATURATED),
                                             ("dead ReLU", DEAD)))
        self.std_curve = self.health_plot.plot([], [], pen=pg.mkPen(STD, width=2), symbol="o",
                                               symbolSize=4, symbolBrush=STD, symbolPen=None)
        self.saturated_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=SATURATED)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=DEAD)
        self.health_plot.addItem(self.saturated_bars)
        self.health_plot.addItem(self.dead_bars)
        self.health_plot.getPlotItem().export_table = self._health_table
        self.images = {of: DistributionImage(of, self.pick) for of in ("output", "grad")}
        self.detail = {of: titled_plot(f"picked layer: {AXES[of]}", AXES[of], "density",
                                       name=f"picked_{of}_histogram")
                       for of in ("output", "grad")}
        self.detail_curves = {of: plot.plot([], [], pen=pg.mkPen("#333", width=1.5),
                                            stepMode="center", fillLevel=0,
                                            brush=(31, 119, 180, 80))
                              for of, plot in self.detail.items()}
        self.ranges = {name: StickyRanges(plot) for name, plot in (
            ("flow", self.flow_plot), ("health", self.health_plot),
            ("output", self.detail["output"]), ("grad", self.detail["grad"]))}
        picker = QHBoxLayout()
        picker.addWidget(QLabel("picked layer"))
        self.layer_spin = QSpinBox()
        self.layer_spin.setToolTip("An activation layer; or click a row of the images")
        self.layer_spin.valueChanged.connect(self.pick)
        picker.addWidget(self.layer_spin)
        picker.addStretch(1)
        self.residual_view = ResidualView()
        self.right_tabs = QTabWidget()  # the activation health, or the residual twin
        self.right_tabs.addTab(self.health_plot, "Activations")
        self.right_tabs.addTab(self.residual_view, "Plain vs residual")
        self.right_tabs.currentChanged.connect(lambda _: self._refresh_twins())
        grid.addWidget(self.flow_plot, 1, 0)
        grid.addWidget(self.right_tabs, 1, 1)
        grid.addWidget(self.images["output"].widget, 2, 0)
        grid.addWidget(self.images["grad"].widget, 2, 1)
        grid.addLayout(picker, 3, 0, 1, 2)
        grid.addWidget(self.detail["output"], 4, 0)
        grid.addWidget(self.detail["grad"], 4, 1)
        for row, stretch in ((1, 4), (2, 4), (4, 2)):
            grid.setRowStretch(row, stretch)
        self._redraw_timer = RedrawTimer(self.redraw, self)
        state.chain_changed.connect(self._on_chain_changed)
        state.pass_changed.connect(self._redraw_timer.mark_dirty)
        self._on_chain_changed()

    def plots(self) -> list[pg.PlotWidget]:
        return [self.flow_plot, self.health_plot, self.images["output"].widget,
                self.images["grad"].widget, self.detail["output"], self.detail["grad"]]

    def _activation_layers(self) -> list[int]:
        """Layers whose output is a hidden state: activations, and residual blocks (their
        output x + f(x) is what the next block sees)."""
        return [i for i, layer in enumerate(self.state.chain.layers)
                if isinstance(layer, Activation | Residual)]

    def _refresh_twins(self) -> None:
        """Recompute the plain/residual twins when that tab is the one shown."""
        if self.right_tabs.currentWidget() is not self.residual_view:
            return
        state = self.state
        try:
            inputs, targets = state.data_tensors()
        except SessionError as error:
            self.residual_view.summary.setText(f"cannot compare: {error}")
            return
        self.residual_view.refresh(state.network, state.session.dtype, state.session.seed,
                                   inputs, targets, state.session.loss)

    def _on_chain_changed(self) -> None:
        self._refresh_twins()
        activations = self._activation_layers()
        self.layer_spin.blockSignals(True)
        self.layer_spin.setRange(min(activations, default=0), max(activations, default=0))
        self.layer_spin.setEnabled(bool(activations))
        if self.picked not in activations:
            self.picked = activations[0] if activations else -1
        self.layer_spin.setValue(max(self.picked, 0))
        self.layer_spin.blockSignals(False)
        for ranges in self.ranges.values():
            ranges.reset()
        for image in self.images.values():
            image.shown_rect = None
        self._redraw_timer.mark_dirty()

    def pick(self, layer: int) -> None:
        """Show activation layer ``layer``'s histograms (the nearest activation layer)."""
        activations = self._activation_layers()
        if not activations:
            return
        self.picked = min(activations, key=lambda i: abs(i - layer))
        self.layer_spin.blockSignals(True)
        self.layer_spin.setValue(self.picked)
        self.layer_spin.blockSignals(False)
        self._redraw_timer.mark_dirty()

    def redraw(self) -> None:
        pass_ = self.state.pass_
        stats = self.state.pass_stats()
        layers = self.state.chain.layers
        # a residual block's ‖dL/dW‖ is over all its linear layers' weights (the engine's)
        linear = [i for i, layer in enumerate(layers) if isinstance(layer, Linear | Residual)
                  and i < len(stats) and stats[i].grad_weight_l2 is not None]
        acts = [i for i in self._activation_layers() if i < len(stats)]
        weight_norms = np.array([stats[i].grad_weight_l2 for i in linear], dtype=float)
        act_norms = np.array([stats[i].grad_l2 if stats[i].grad_l2 is not None else np.nan
                              for i in acts], dtype=float)
        floor = log_floor(weight_norms, act_norms)
        self.weight_bars.set_values(np.array(linear), weight_norms, floor)
        self.activation_bars.set_values(np.array(acts), act_norms, floor)
        layer_span = np.array([-0.5, len(layers) - 0.5])
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.concatenate([weight_norms, act_norms]))
        self.ranges["flow"].fit(layer_span, np.append(logs, floor))
        stds = np.array([stats[i].output_std for i in acts], dtype=float)
        self.std_curve.setData(np.array(acts, dtype=float), stds)
        saturated = [(i, stats[i].saturated) for i in acts if stats[i].saturated is not None]
        dead = [(i, stats[i].dead) for i in acts if stats[i].dead is not None]
        self.saturated_bars.setOpts(x=[i for i, _ in saturated], height=[v for _, v in saturated])
        self.dead_bars.setOpts(x=[i for i, _ in dead], height=[v for _, v in dead])
        self.ranges["health"].fit(layer_span, np.append(stds, [0.0, 1.0]))
        for of, image in self.images.items():
            previous = image.data.range if image.data is not None else None
            data = distributions(pass_, of, previous=previous) if pass_ is not None else None
            row = data.layers.index(self.picked) if data and self.picked in data.layers else 0
            image.show(data, row)
            self._show_detail(of, data, row)
        self.summary.setText(self._summary(weight_norms, stats, acts))

    def _show_detail(self, of: str, data: Distributions | None, row: int) -> None:
        title = AXES[of]
        if data is None:
            self.detail_curves[of].setData([], [])
            set_keys(self.detail[of], f"picked layer: {title}", ())
            return
        self.detail_curves[of].setData(data.edges, data.density[row])
        self.ranges[of].fit(np.asarray(data.range), np.append(data.density[row], 0.0))
        zeros = f", {data.zeros[row]:.0%} exactly 0" if data.log_axis and data.zeros[row] else ""
        set_keys(self.detail[of], f"layer {data.layers[row]} ({data.kinds[row]}): "
                 f"{title}{zeros}", ())

    @staticmethod
    def _summary(weight_norms: np.ndarray, stats: list[LayerStats], acts: list[int]) -> str:
        finite = weight_norms[np.isfinite(weight_norms) & (weight_norms > 0)]
        parts = []
        if finite.size >= 2:
            ratio = finite[0] / finite[-1]
            parts.append(f"‖dL/dW‖ first/last linear layer: {ratio:.3g}×")
            if ratio < 1e-3:
                parts.append("→ vanishing gradients")
            elif ratio > 1e3:
                parts.append("→ exploding gradients")
        saturated = [v for i in acts if (v := stats[i].saturated) is not None]
        if saturated:
            parts.append(f"mean saturated share {np.mean(saturated):.0%}")
        dead = [v for i in acts if (v := stats[i].dead) is not None]
        if dead:
            parts.append(f"mean dead ReLU share {np.mean(dead):.0%}")
        return "   ".join(parts) or "Run a full pass to see the gradient flow."

    def _flow_table(self) -> tuple[list[str], list[list[object]]]:
        rows: list[list[object]] = [["grad_weight_l2", float(x), float(v)] for x, v in zip(
            self.weight_bars.x, self.weight_bars.values, strict=True)]
        rows += [["grad_activation_l2", float(x), float(v)]
                 for x, v in zip(self.activation_bars.x, self.activation_bars.values,
                                 strict=True)]
        return ["series", "layer", "value"], rows

    def _health_table(self) -> tuple[list[str], list[list[object]]]:
        stats = self.state.pass_stats()
        rows: list[list[object]] = [[i, s.output_std, s.saturated, s.dead]
                                    for i, s in enumerate(stats)
                                    if i in self._activation_layers()]
        return ["layer", "output_std", "saturated", "dead"], rows
