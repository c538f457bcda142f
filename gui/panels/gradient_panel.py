"""Gradient flow: per-layer ‖dL/dW‖ and ‖dL/da‖ on a log scale, activation std and the
saturated/dead share per layer, and makemore-style overlaid histograms of activations and
gradients per layer.

A 30-layer sigmoid or tanh chain shows its vanishing gradients at a glance. Listens to
``chain_changed`` (recreate curves) and ``pass_changed`` (new numbers; redrawn at most
~30 times a second).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from engine.core.layers import Activation, Linear
from engine.core.stats import histograms
from gui.plot_widgets import LogBars, RedrawTimer, depth_colour, log_floor, titled_plot
from gui.state import AppState

MAX_LEGEND = 8


class GradientFlowPanel(QWidget):
    """Gradient-flow bars, activation statistics and histograms for the current pass."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        grid = QGridLayout(self)
        self.summary = QLabel()
        grid.addWidget(self.summary, 0, 0, 1, 2)

        self.flow_plot = titled_plot("Gradient flow per layer (log scale)", "layer", "L2 norm",
                                     log_axis=True, name="gradient_flow")
        self.flow_plot.addLegend(offset=(10, 10))
        self.weight_bars = LogBars(self.flow_plot, "‖dL/dW‖ (linear)", "#d62728", -0.2)
        self.activation_bars = LogBars(self.flow_plot, "‖dL/da‖ (activation)", "#1f77b4", 0.2)
        self.flow_plot.getPlotItem().export_table = self._flow_table
        grid.addWidget(self.flow_plot, 1, 0)

        self.health_plot = titled_plot("Activations per layer", "layer", "std / share",
                                       name="activation_health")
        self.health_plot.addLegend(offset=(-10, 10))
        self.std_curve = self.health_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2),
                                               symbol="o", symbolSize=5, name="output std")
        self.saturated_bars = pg.BarGraphItem(x=[], height=[], width=0.35, brush="#ff7f0e",
                                              name="saturated share")
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.35, brush="#7f7f7f",
                                         name="dead ReLU share")
        self.health_plot.addItem(self.saturated_bars)
        self.health_plot.addItem(self.dead_bars)
        self.health_plot.getPlotItem().export_table = self._health_table
        grid.addWidget(self.health_plot, 1, 1)

        self.activation_hist = titled_plot("Activation distribution per layer", "value",
                                           "density", name="activation_histograms")
        self.gradient_hist = titled_plot("Gradient distribution per layer", "dL/da",
                                         "density", name="gradient_histograms")
        grid.addWidget(self.activation_hist, 2, 0)
        grid.addWidget(self.gradient_hist, 2, 1)
        self.hist_curves: dict[str, list[pg.PlotDataItem]] = {"output": [], "grad": []}

        self._redraw_timer = RedrawTimer(self.redraw, self)
        state.chain_changed.connect(self._on_chain_changed)
        state.pass_changed.connect(self._redraw_timer.mark_dirty)
        self._on_chain_changed()

    def plots(self) -> list[pg.PlotWidget]:
        return [self.flow_plot, self.health_plot, self.activation_hist, self.gradient_hist]

    def _on_chain_changed(self) -> None:
        activations = [(i, layer.kind) for i, layer in enumerate(self.state.chain.layers)
                       if isinstance(layer, Activation)]
        for key, plot in (("output", self.activation_hist), ("grad", self.gradient_hist)):
            item = plot.getPlotItem()
            for curve in self.hist_curves[key]:
                item.removeItem(curve)
            if item.legend is not None:
                item.legend.scene().removeItem(item.legend)
                item.legend = None
            if len(activations) <= MAX_LEGEND:
                item.addLegend(offset=(-10, 10))
            self.hist_curves[key] = [
                item.plot([], [], pen=pg.mkPen(depth_colour(n, len(activations)), width=1.5),
                          name=f"layer {i} ({kind})")
                for n, (i, kind) in enumerate(activations)]
        self._redraw_timer.mark_dirty()

    def redraw(self) -> None:
        pass_ = self.state.pass_
        stats = self.state.pass_stats()
        layers = self.state.chain.layers
        linear = [i for i, layer in enumerate(layers) if isinstance(layer, Linear)
                  and i < len(stats) and stats[i].grad_weight_l2 is not None]
        acts = [i for i, layer in enumerate(layers) if isinstance(layer, Activation)
                and i < len(stats)]
        weight_norms = np.array([stats[i].grad_weight_l2 for i in linear], dtype=float)
        act_norms = np.array([stats[i].grad_l2 if stats[i].grad_l2 is not None else np.nan
                              for i in acts], dtype=float)
        floor = log_floor(weight_norms, act_norms)
        self.weight_bars.set_values(np.array(linear), weight_norms, floor)
        self.activation_bars.set_values(np.array(acts), act_norms, floor)
        self.std_curve.setData(np.array(acts, dtype=float),
                               np.array([stats[i].output_std for i in acts], dtype=float))
        saturated = [(i, stats[i].saturated) for i in acts if stats[i].saturated is not None]
        dead = [(i, stats[i].dead) for i in acts if stats[i].dead is not None]
        self.saturated_bars.setOpts(x=[i for i, _ in saturated], height=[v for _, v in saturated])
        self.dead_bars.setOpts(x=[i for i, _ in dead], height=[v for _, v in dead])
        for key in ("output", "grad"):
            curves = self.hist_curves[key]
            found = {h.index: h for h in histograms(pass_, key)} if pass_ is not None else {}
            for curve, index in zip(curves, acts, strict=False):
                hist = found.get(index)
                if hist is None:
                    curve.setData([], [])
                else:
                    curve.setData(np.array(hist.centers), np.array(hist.density))
        self.summary.setText(self._summary(weight_norms, stats, acts))

    @staticmethod
    def _summary(weight_norms: np.ndarray, stats: list, acts: list[int]) -> str:
        finite = weight_norms[np.isfinite(weight_norms) & (weight_norms > 0)]
        parts = []
        if finite.size >= 2:
            ratio = finite[0] / finite[-1]
            parts.append(f"‖dL/dW‖ first/last linear layer: {ratio:.3g}×")
            if ratio < 1e-3:
                parts.append("→ vanishing gradients")
            elif ratio > 1e3:
                parts.append("→ exploding gradients")
        saturated = [stats[i].saturated for i in acts if stats[i].saturated is not None]
        if saturated:
            parts.append(f"mean saturated share {np.mean(saturated):.0%}")
        dead = [stats[i].dead for i in acts if stats[i].dead is not None]
        if dead:
            parts.append(f"mean dead ReLU share {np.mean(dead):.0%}")
        return "   ".join(parts) or "Run a full pass to see the gradient flow."

    def _flow_table(self) -> tuple[list[str], list[list[object]]]:
        rows = [["grad_weight_l2", float(x), float(v)]
                for x, v in zip(self.weight_bars.x, self.weight_bars.values, strict=True)]
        rows += [["grad_activation_l2", float(x), float(v)]
                 for x, v in zip(self.activation_bars.x, self.activation_bars.values,
                                 strict=True)]
        return ["series", "layer", "value"], rows

    def _health_table(self) -> tuple[list[str], list[list[object]]]:
        stats = self.state.pass_stats()
        rows: list[list[object]] = [[i, s.output_std, s.saturated, s.dead]
                                    for i, s in enumerate(stats)
                                    if isinstance(self.state.chain.layers[i], Activation)]
        return ["layer", "output_std", "saturated", "dead"], rows
