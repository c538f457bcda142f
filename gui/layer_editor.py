"""The selected layer's fields: every field of the session format's layer specs.

Linear: width, the initialiser and its parameters (uniform's bound a, normal's std, the
gain of the Xavier/Kaiming kinds, the constant kind's weight and bias). Norm: kind, eps
(or the dtype's machine epsilon, torch.nn.RMSNorm's default) and batch norm's momentum.
Activation: kind. Emits ``edited(dict)``: the fields that changed, for the builder to
apply to the spec.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QStackedWidget,
)

from engine.core.activations import ACTIVATIONS
from engine.core.specs import (
    INIT_KINDS,
    NORM_KINDS,
    ActivationSpec,
    InitSpec,
    LayerSpec,
    LinearSpec,
    NormSpec,
)

GAIN_KINDS = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def _number(low: float, high: float, decimals: int, special: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setKeyboardTracking(False)
    if special:
        spin.setSpecialValueText(special)
    return spin


class LayerEditor(QStackedWidget):
    edited = Signal(dict)

    def __init__(self) -> None:
        super().__init__()
        self.addWidget(QLabel("Select a layer in the list to edit it."))
        self.addWidget(self._linear_page())
        self.addWidget(self._norm_page())
        self.addWidget(self._activation_page())
        self._init = InitSpec()

    # -- pages -----------------------------------------------------------------------------

    def _linear_page(self) -> QGroupBox:
        box = QGroupBox("Linear layer")
        form = self.linear_form = QFormLayout(box)
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 4096)
        self.width_spin.setKeyboardTracking(False)
        self.width_spin.editingFinished.connect(
            lambda: self._emit(out_features=self.width_spin.value(), weight=None, bias=None))
        self.init_box = QComboBox()
        self.init_box.addItems(list(INIT_KINDS))
        self.init_box.activated.connect(lambda _: self._init_changed())
        self.bound_spin = _number(1e-6, 1e3, 4)
        self.bound_spin.setToolTip("uniform: weights drawn from U(−a, a)")
        self.std_spin = _number(1e-6, 1e3, 4)
        self.std_spin.setToolTip("normal: weights drawn from N(0, std²)")
        self.gain_spin = _number(0.0, 100.0, 4, special="auto")
        self.gain_spin.setToolTip("auto: torch.nn.init.calculate_gain of the activation "
                                  "that follows (ReLU's √2 for ELU, GELU, SiLU, Softplus)")
        self.constant_weight = _number(-1e6, 1e6, 4)
        self.constant_bias = _number(-1e6, 1e6, 4)
        for spin in (self.bound_spin, self.std_spin, self.gain_spin, self.constant_weight,
                     self.constant_bias):
            spin.valueChanged.connect(lambda _: self._init_changed())
        form.addRow("width", self.width_spin)
        form.addRow("initialiser", self.init_box)
        form.addRow("bound a", self.bound_spin)
        form.addRow("std", self.std_spin)
        form.addRow("gain", self.gain_spin)
        form.addRow("constant weight", self.constant_weight)
        form.addRow("constant bias", self.constant_bias)
        self._init_rows = (self.bound_spin, self.std_spin, self.gain_spin,
                           self.constant_weight, self.constant_bias)
        self._enable_init_rows("default")
        return box

    def _norm_page(self) -> QGroupBox:
        box = QGroupBox("Norm layer")
        form = QFormLayout(box)
        self.norm_box = QComboBox()
        self.norm_box.addItems(list(NORM_KINDS))
        self.norm_box.activated.connect(lambda _: self._emit(
            kind=self.norm_box.currentText(), weight=None, bias=None, running_mean=None,
            running_var=None))
        self.eps_spin = _number(0.0, 1.0, 12, special="default")
        self.eps_spin.setToolTip("default: 1e-5 (1e-12 for l1/l2)")
        self.machine_eps = QCheckBox("machine ε (torch.nn.RMSNorm's default)")
        self.momentum_spin = _number(0.001, 1.0, 3)
        self.momentum_spin.setToolTip("batch norm: the weight of each training batch in "
                                      "the running statistics")
        self.eps_spin.valueChanged.connect(lambda _: self._eps_changed())
        self.machine_eps.toggled.connect(lambda _: self._eps_changed())
        self.momentum_spin.valueChanged.connect(
            lambda v: self._emit(momentum=v) if self.norm_box.currentText() == "batch"
            else None)
        form.addRow("kind", self.norm_box)
        form.addRow("eps", self.eps_spin)
        form.addRow(self.machine_eps)
        form.addRow("momentum", self.momentum_spin)
        return box

    def _activation_page(self) -> QGroupBox:
        box = QGroupBox("Activation layer")
        form = QFormLayout(box)
        self.activation_box = QComboBox()
        self.activation_box.addItems(list(ACTIVATIONS))
        self.activation_box.activated.connect(
            lambda _: self._emit(kind=self.activation_box.currentText()))
        form.addRow("kind", self.activation_box)
        return box

    # -- showing a spec ---------------------------------------------------------------------

    def show_spec(self, spec: LayerSpec | None) -> None:
        widgets = [self.width_spin, self.init_box, *self._init_rows, self.norm_box,
                   self.eps_spin, self.machine_eps, self.momentum_spin, self.activation_box]
        for widget in widgets:
            widget.blockSignals(True)
        if isinstance(spec, LinearSpec):
            self._init = spec.init
            self.width_spin.setValue(spec.out_features)
            self.init_box.setCurrentText(spec.init.kind)
            self.bound_spin.setValue(spec.init.a)
            self.std_spin.setValue(spec.init.std)
            self.gain_spin.setValue(spec.init.gain or 0.0)
            self.constant_weight.setValue(spec.init.weight)
            self.constant_bias.setValue(spec.init.bias)
            self._enable_init_rows(spec.init.kind)
            self.setCurrentIndex(1)
        elif isinstance(spec, NormSpec):
            self.norm_box.setCurrentText(spec.kind)
            self.machine_eps.setChecked(spec.eps == "finfo")
            self.eps_spin.setValue(spec.eps if isinstance(spec.eps, float) else 0.0)
            self.eps_spin.setEnabled(spec.eps != "finfo")
            self.momentum_spin.setValue(spec.momentum)
            self.momentum_spin.setEnabled(spec.kind == "batch")
            self.setCurrentIndex(2)
        elif isinstance(spec, ActivationSpec):
            self.activation_box.setCurrentText(spec.kind)
            self.setCurrentIndex(3)
        else:
            self.setCurrentIndex(0)
        for widget in widgets:
            widget.blockSignals(False)

    def _enable_init_rows(self, kind: str) -> None:
        """Only the initialiser's own parameters are shown."""
        for widget, shown in ((self.bound_spin, kind == "uniform"),
                              (self.std_spin, kind == "normal"),
                              (self.gain_spin, kind in GAIN_KINDS),
                              (self.constant_weight, kind == "constant"),
                              (self.constant_bias, kind == "constant")):
            self.linear_form.setRowVisible(widget, shown)
        self.updateGeometry()

    def setCurrentIndex(self, index: int) -> None:
        super().setCurrentIndex(index)
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        """The shown page's size, not the largest page's: the builder stays compact."""
        page = self.currentWidget()
        return page.sizeHint() if page is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else super().minimumSizeHint()

    # -- emitting changes ------------------------------------------------------------------

    def _emit(self, **changes: Any) -> None:
        self.edited.emit(changes)

    def _init_changed(self) -> None:
        kind = self.init_box.currentText()
        self._enable_init_rows(kind)
        init = InitSpec.model_validate({
            "kind": kind, "a": self.bound_spin.value(), "std": self.std_spin.value(),
            "gain": self.gain_spin.value() or None,
            "weight": self.constant_weight.value(), "bias": self.constant_bias.value()})
        if init != self._init:
            self._init = init
            self._emit(init=init, weight=None, bias=None)

    def _eps_changed(self) -> None:
        self.eps_spin.setEnabled(not self.machine_eps.isChecked())
        eps: float | str | None = "finfo" if self.machine_eps.isChecked() \
            else (self.eps_spin.value() or None)
        self._emit(eps=eps)
