"""Activation lab: each activation's f and f', and how f' compounds through a deep chain.

Left: f and f' of the chosen activation over a range, the largest f' marked. Right: the
gradient norm ‖dL/da‖ of a real engine chain of repeated blocks, layer by layer back from
the output, beside the products that predict it (:mod:`engine.data.activation_lab`,
computed off the GUI thread; bursts of setting changes are coalesced into one run after
the current one). Needs no state: it builds its own chains.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.core.activations import ACTIVATIONS
from engine.core.specs import INIT_KINDS, InitSpec
from engine.data.activation_lab import (
    INPUT_DISTRIBUTIONS,
    ActivationCurve,
    CompoundingResult,
    chain_rule_facts,
    compounding,
    curves,
)
from gui.background import BackgroundTask
from gui.plot_widgets import set_keys, titled_plot

F_COLOUR, DF_COLOUR, MAX_COLOUR = "#1f77b4", "#ff7f0e", "#d62728"
MEASURED, PREDICTED, WEIGHTED, REFERENCE, BOUND = (
    "#000000", "#1f77b4", "#2ca02c", "#888888", "#d62728")
CURVE_TITLE = "f and f'"
COMPOUND_TITLE = "‖dL/da‖ relative to the last layer"
POINTS = 801
TITLE_HEIGHT = 44  # px: a 10 pt title and two lines of 8 pt keys
SAMPLES = 256
SCALED_INITS = {"uniform": "a", "normal": "std", "constant": "weight"}
INPUT_LABELS = {"normal": "normal(0, s)", "uniform": "uniform(-s, s)"}


def _spin(low: float, high: float, value: float, prefix: str, decimals: int = 2,
          step: float = 1.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setKeyboardTracking(False)  # typing "120" is one change, not three
    return spin


def _int_spin(low: int, high: int, value: int, prefix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setKeyboardTracking(False)
    return spin


def _positive(values: np.ndarray) -> np.ndarray:
    """NaN where a log axis cannot go (0, negative, ∞): the curve shows a gap."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


class ActivationLabPanel(QWidget):
    """The activation's curves, the compounding demo and a short explanation.

    Listens to no state signals; its own worker's ``done``/``failed``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = BackgroundTask(self)
        self.task.done.connect(self._on_done)
        self.task.failed.connect(self._on_failed)
        self._busy = self._pending = False
        self.curve: ActivationCurve | None = None
        self.result: CompoundingResult | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.explanation = QLabel(_explanation())
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.explanation)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_curves())
        splitter.addWidget(self._build_compounding())
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)
        self.redraw_curves()
        self._stale = True  # computed when first shown: a hidden lab costs nothing
        self.recompute()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.recompute()

    # ---- f and f' -------------------------------------------------------------------

    def _build_curves(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.kind_box = QComboBox()
        self.kind_box.addItems(list(ACTIVATIONS))
        self.kind_box.setCurrentText("sigmoid")
        self.kind_box.setToolTip("The activation of both plots")
        self.low_spin = _spin(-100.0, 100.0, -6.0, "from ")
        self.high_spin = _spin(-100.0, 100.0, 6.0, "to ")
        for widget in (self.kind_box, self.low_spin, self.high_spin):
            row.addWidget(widget)
        row.addStretch(1)
        column.addLayout(row)
        self.curve_plot = titled_plot(CURVE_TITLE, "x", name="activation_f_df")
        self.f_curve = self.curve_plot.plot([], [], pen=pg.mkPen(F_COLOUR, width=2))
        self.df_curve = self.curve_plot.plot([], [], pen=pg.mkPen(DF_COLOUR, width=2))
        self.max_marker = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(MAX_COLOUR), pen=None)
        self.curve_plot.addItem(self.max_marker)
        self.max_label = pg.TextItem(color=MAX_COLOUR)
        self.curve_plot.addItem(self.max_label)
        set_keys(self.curve_plot, CURVE_TITLE, [("f(x)", F_COLOUR), ("f'(x)", DF_COLOUR),
                                                ("largest f' shown", MAX_COLOUR)])
        column.addWidget(self.curve_plot, 1)
        self.sup_label = QLabel()
        self.sup_label.setWordWrap(True)
        column.addWidget(self.sup_label)
        self.kind_box.currentTextChanged.connect(self._on_kind_changed)
        self.low_spin.valueChanged.connect(self.redraw_curves)
        self.high_spin.valueChanged.connect(self.redraw_curves)
        return box

    def _on_kind_changed(self) -> None:
        self.redraw_curves()
        self.recompute()

    def redraw_curves(self) -> None:
        low, high = self.low_spin.value(), self.high_spin.value()
        if not low < high:
            self.sup_label.setText("⚠ the range needs from < to")
            return
        curve = self.curve = curves(self.kind_box.currentText(), low, high, POINTS)
        self.f_curve.setData(curve.x, curve.f)
        self.df_curve.setData(curve.x, curve.df)
        self.max_marker.setData([curve.argmax_df], [curve.max_df])
        share = (curve.argmax_df - low) / (high - low)  # keep the label inside the plot
        self.max_label.setAnchor((0.0 if share < 0.3 else 1.0 if share > 0.7 else 0.5, 1.2))
        self.max_label.setText(f"max f' = {curve.max_df:.4g} {curve.where_max}")
        self.max_label.setPos(curve.argmax_df, curve.max_df)
        self.curve_plot.enableAutoRange()
        sup = curve.sup
        self.sup_label.setText(f"Over [-20, 20] (steps of 1/1024) the largest "
                               f"{curve.kind}'(x) is {sup.value:.6g}, {sup.where}.")

    # ---- compounding ----------------------------------------------------------------

    def _build_compounding(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        self.depth_spin = _int_spin(1, 200, 20, "depth ")
        self.width_spin = _int_spin(1, 256, 32, "width ")
        self.seed_spin = _int_spin(0, 1_000_000, 0, "seed ")
        self.init_box = QComboBox()
        self.init_box.addItems(list(INIT_KINDS))
        self.init_box.setToolTip("How every linear layer's weights are drawn")
        self.init_scale_spin = _spin(0.001, 10.0, 0.1, "", 3, 0.05)
        self.input_box = QComboBox()
        for name in INPUT_DISTRIBUTIONS:
            self.input_box.addItem(f"inputs {INPUT_LABELS[name]}", name)
        self.input_scale_spin = _spin(0.01, 100.0, 1.0, "s = ", 2, 0.5)
        rows = ((self.depth_spin, self.width_spin, self.seed_spin),
                (self.init_box, self.init_scale_spin), (self.input_box, self.input_scale_spin))
        for row, widgets in enumerate(rows):
            for position, widget in enumerate(widgets):
                grid.addWidget(widget, row, position)
        column.addLayout(grid)
        # created with its keys, so the title's height fits the two lines of keys
        self.compound_plot = titled_plot(COMPOUND_TITLE, "n: layers back from the output",
                                         "relative norm", log_y=True, integer_x=True,
                                         name="activation_compounding",
                                         keys=_compound_keys("0.8", "max f'"))
        _fit_title(self.compound_plot)
        self.measured_curve = self._line(MEASURED, Qt.PenStyle.SolidLine, 3)
        self.predicted_curve = self._line(PREDICTED, Qt.PenStyle.DashLine)
        self.weighted_curve = self._line(WEIGHTED, Qt.PenStyle.DotLine)
        self.reference_curve = self._line(REFERENCE, Qt.PenStyle.SolidLine)
        self.bound_curve = self._line(BOUND, Qt.PenStyle.DashDotLine)
        column.addWidget(self.compound_plot, 1)
        self.summary = QLabel("computing …")
        self.summary.setWordWrap(True)
        column.addWidget(self.summary)
        for spin in (self.depth_spin, self.width_spin, self.seed_spin,
                     self.init_scale_spin, self.input_scale_spin):
            spin.valueChanged.connect(self.recompute)
        self.init_box.currentTextChanged.connect(self._on_init_changed)
        self._on_init_changed(self.init_box.currentText())
        self.input_box.currentTextChanged.connect(self.recompute)
        return box

    def _line(self, colour: str, style: Qt.PenStyle, width: float = 2) -> pg.PlotDataItem:
        return self.compound_plot.plot([], [], connect="finite",
                                       pen=pg.mkPen(colour, width=width, style=style))

    def init_spec(self) -> InitSpec:
        """The initialiser chosen; the scale spin is its a, std or constant weight."""
        kind = self.init_box.currentText()
        fields: dict[str, object] = {"kind": kind}
        if kind in SCALED_INITS:
            fields[SCALED_INITS[kind]] = self.init_scale_spin.value()
        return InitSpec.model_validate(fields)

    def _on_init_changed(self, kind: str) -> None:
        self.init_scale_spin.setEnabled(kind in SCALED_INITS)
        self.init_scale_spin.setPrefix(f"{SCALED_INITS.get(kind, 'scale')} = ")
        self.recompute()

    def recompute(self) -> None:
        """Start a run with the current settings, or queue one behind the running run
        (only while the lab is shown: a hidden one recomputes when it is shown)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        if self._busy:
            self._pending = True
            return
        self._busy, self._pending = True, False
        kind, init = self.kind_box.currentText(), self.init_spec()
        depth, width, seed = self.depth_spin.value(), self.width_spin.value(), \
            self.seed_spin.value()
        distribution = str(self.input_box.currentData())
        scale = self.input_scale_spin.value()
        self.summary.setText(f"computing {depth} {kind} blocks of width {width} …")
        self.task.start(lambda: compounding(kind, depth, width, init, distribution, scale,
                                            SAMPLES, seed))

    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.summary.setText(f"failed: {message}")
        if self._pending:
            self.recompute()

    def _on_done(self, result: CompoundingResult) -> None:
        self._busy = False
        if self._pending:  # the settings changed meanwhile: this result is stale
            self.recompute()
            return
        self.show_compounding(result)

    def show_compounding(self, result: CompoundingResult) -> None:
        self.result = result
        n = result.distance.astype(float)
        shown = [(self.measured_curve, result.measured),
                 (self.predicted_curve, result.predicted),
                 (self.weighted_curve, result.predicted_with_weights),
                 (self.reference_curve, result.reference), (self.bound_curve, result.bound)]
        for item, values in shown:
            item.setData(n, _positive(values))
        set_keys(self.compound_plot, COMPOUND_TITLE, _compound_keys(
            f"{result.reference_factor:g}", f"{result.sup_df:.3g}"))
        _fit_title(self.compound_plot)
        self._fit(result)
        self.summary.setText(
            f"Gradient reaching the first of {result.depth} blocks, relative to the last: "
            f"measured {result.first_measured:.3g}; predicted by ∏ mean f' "
            f"{result.first_predicted:.3g}, by ∏ rms f' × weight gain "
            f"{result.first_predicted_with_weights:.3g}.")

    def _fit(self, result: CompoundingResult) -> None:
        """Fit x to the depth and y to the measured and predicted curves (the max-f' bound
        of gelu or silu grows without limit and would flatten everything else)."""
        values = np.concatenate([_positive(v) for v in (
            result.measured, result.predicted, result.predicted_with_weights,
            result.reference)])
        logs = np.log10(values[np.isfinite(values)])
        low, high = (float(logs.min()), float(logs.max())) if logs.size else (-1.0, 0.0)
        pad = max(0.1 * (high - low), 0.2)
        view = self.compound_plot.getPlotItem().getViewBox()
        view.setRange(xRange=(0, max(result.depth - 1, 1)),
                      yRange=(math.floor(low - pad), high + pad), padding=0)

    def plots(self) -> list[pg.PlotWidget]:
        return [self.curve_plot, self.compound_plot]

    def stop(self) -> None:
        """Wait for the running computation (the window is closing)."""
        self.task.stop()
        self._busy = self._pending = False


def _fit_title(widget: pg.PlotWidget) -> None:
    """Room for a title and two lines of keys (pyqtgraph fixes the title row at 30 px,
    which fits one line of keys; ``setTitle`` puts it back, so call after each)."""
    item = widget.getPlotItem()
    item.titleLabel.setMaximumHeight(TITLE_HEIGHT)
    item.layout.setRowFixedHeight(0, TITLE_HEIGHT)


def _compound_keys(reference: str, sup: str) -> list[tuple[str, str]]:
    return [("measured", MEASURED), ("∏ mean f' (weights left out)", PREDICTED),
            ("∏ rms f' · weight gain", WEIGHTED), (f"{reference}ⁿ", REFERENCE),
            (f"max f'ⁿ = {sup}ⁿ", BOUND)]


def _explanation() -> str:
    facts = chain_rule_facts(5)
    first, _second = facts.seed_trace
    return (
        "<b>Derivatives multiply along the chain.</b> Backpropagation takes one factor per "
        "layer, dL/da<sub>l−1</sub> = Wᵀ(f'(z) ⊙ dL/da<sub>l</sub>), so small factors "
        f"compound: sigmoid's f' is at most {facts.sigmoid_sup.value:g} "
        f"({facts.sigmoid_sup.where}), and five sigmoid layers shrink a gradient to at "
        f"most {facts.sigmoid_sup.value:g}⁵ = {facts.sigmoid_power:.3g}; even "
        f"{facts.reference_factor:g} a layer leaves {facts.reference_factor:g}⁵ = "
        f"{facts.reference_power:.3g}. tanh' lies in (0, {facts.tanh_sup.value:g}], "
        f"{facts.tanh_sup.value:g} only {facts.tanh_sup.where}; a saturated unit passes "
        f"almost nothing (the seed chain at x = {facts.seed_input:g}: tanh({first.z:.3g}) "
        f"= {first.a:.5f}, tanh' = {first.df:.3g}). ReLU's f' is exactly "
        f"{facts.relu_sup.value:g} {facts.relu_sup.where}, so active units pass the "
        "gradient on undiminished: that is why it replaced sigmoid and tanh in deep "
        "networks. Its price: a unit whose z is negative for every input has f' = 0 "
        "everywhere, a dead unit that no longer learns. The weights multiply in too: "
        "Xavier and Kaiming initialisers pick their scale so that f' × weight gain stays "
        "near 1."
    )
