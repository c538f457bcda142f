"""Inputs: a slider and a number field per input feature and for the target; the
stepping batch (the slider sample or the first N samples of the dataset); the seed.

Dragging a slider recomputes the whole pass live (throttled to about 30 Hz). Listens to
``data_changed`` (new features and ranges) and ``session_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.state import AppState
from gui.throttle import Throttle

SLIDER_STEPS = 1000


class ValueSlider(QWidget):
    """A horizontal slider over [low, high] with a number field that accepts any value."""

    def __init__(self, low: float, high: float, value: float,
                 on_change: Callable[[float], None]) -> None:
        super().__init__()
        self.low, self.high = low, high
        self._on_change = on_change
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setVerticalSpacing(0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.field = QDoubleSpinBox()
        self.field.setDecimals(4)
        self.field.setRange(-1e9, 1e9)
        self.field.setKeyboardTracking(False)
        # sized for ordinary values, not for the ±1e9 the range allows
        self.field.setFixedWidth(self.field.fontMetrics().horizontalAdvance("−000.0000") + 34)
        self.range_label = QLabel(self._range_text())
        self.range_label.setStyleSheet("color: #777; font-size: 8pt;")
        layout.addWidget(self.slider, 0, 0)
        layout.addWidget(self.field, 0, 1)
        layout.addWidget(self.range_label, 1, 0)
        layout.setColumnStretch(0, 1)
        self.set_value(value)
        self.slider.valueChanged.connect(self._on_slider)
        self.field.valueChanged.connect(self._on_field)

    def value(self) -> float:
        return self.field.value()

    def _range_text(self) -> str:
        return f"slider {self.low:.4g} … {self.high:.4g}".replace("-", "−")

    def set_value(self, value: float) -> None:
        self._widen_to(value)
        self.field.blockSignals(True)
        self.slider.blockSignals(True)
        self.field.setValue(value)
        self.slider.setValue(self._position(value))
        self.field.blockSignals(False)
        self.slider.blockSignals(False)

    def _widen_to(self, value: float) -> None:
        """A typed value outside the slider's range widens it (by a fifth beyond the
        value), so the handle follows what was typed."""
        if self.low <= value <= self.high:
            return
        span = self.high - self.low
        if value < self.low:
            self.low = value - 0.2 * span
        else:
            self.high = value + 0.2 * span
        self.range_label.setText(self._range_text())

    def _position(self, value: float) -> int:
        share = (value - self.low) / (self.high - self.low) if self.high > self.low else 0.5
        return round(min(max(share, 0.0), 1.0) * SLIDER_STEPS)

    def _on_slider(self, position: int) -> None:
        value = self.low + (self.high - self.low) * position / SLIDER_STEPS
        self.field.blockSignals(True)
        self.field.setValue(value)
        self.field.blockSignals(False)
        self._on_change(value)

    def _on_field(self, value: float) -> None:
        self._widen_to(value)
        self.slider.blockSignals(True)
        self.slider.setValue(self._position(value))
        self.slider.blockSignals(False)
        self._on_change(value)


class InputsPanel(QWidget):
    """Sliders on the chain's inputs and target; the stepping batch; the seed."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.sliders: list[ValueSlider] = []
        self.target_slider: ValueSlider | None = None
        layout = QVBoxLayout(self)
        self.slider_box = QGroupBox("Sample (drag to recompute live)")
        self.slider_grid = QGridLayout(self.slider_box)
        layout.addWidget(self.slider_box)

        batch_box = QGroupBox("Stepping batch")
        batch_layout = QGridLayout(batch_box)
        self.sample_radio = QRadioButton("the slider sample")
        self.dataset_radio = QRadioButton("the data, first N:")
        self.sample_radio.setToolTip("Step and recompute the sample the sliders set")
        self.dataset_radio.setToolTip("Step and recompute the dataset's first N samples")
        group = QButtonGroup(self)
        group.addButton(self.sample_radio)
        group.addButton(self.dataset_radio)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 1_000_000)
        self.batch_spin.setSpecialValueText("all")
        self.batch_spin.setToolTip("N = 0 uses every sample")
        batch_layout.addWidget(self.sample_radio, 0, 0, 1, 2)
        batch_layout.addWidget(self.dataset_radio, 1, 0)
        batch_layout.addWidget(self.batch_spin, 1, 1)
        self.sample_radio.toggled.connect(self._on_batch_mode)
        self.batch_spin.valueChanged.connect(self._on_batch_mode)
        layout.addWidget(batch_box)

        seed_row = QFormLayout()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Seeds the initialisers; changing it re-initialises")
        self.seed_spin.editingFinished.connect(self._on_seed_edited)
        seed_row.addRow("Seed", self.seed_spin)
        layout.addLayout(seed_row)
        layout.addStretch(1)

        self._throttled_probe = Throttle(state.set_probe, parent=self)
        self._throttled_target = Throttle(state.set_probe_target, parent=self)
        state.data_changed.connect(self._on_data_changed)
        state.session_changed.connect(self._on_data_changed)
        state.pass_changed.connect(self._on_pass_changed)
        self._on_data_changed()

    def _on_seed_edited(self) -> None:
        if self.seed_spin.value() != self.state.session.seed:
            self.state.set_seed(self.seed_spin.value())

    def _on_data_changed(self) -> None:
        while self.slider_grid.count():
            item = self.slider_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setParent(None)  # hide it now; deleteLater waits for the event loop
                widget.deleteLater()
        self.sliders = []
        names = self.state.dataset.feature_names
        inputs = self.state.stepping_inputs
        for feature, (low, high) in enumerate(self.state.probe_ranges()):
            slider = ValueSlider(low, high, inputs.probe[feature],
                                 partial(self._throttled_probe, feature))
            self.slider_grid.addWidget(QLabel(names[feature]), feature, 0)
            self.slider_grid.addWidget(slider, feature, 1)
            self.sliders.append(slider)
        targets = self.state.dataset.targets_for(self.state.session.loss)
        low, high = float(targets.min()), float(targets.max())
        pad = max(high - low, 1.0) * 0.25
        self.target_slider = ValueSlider(low - pad, high + pad, inputs.probe_target,
                                         self._throttled_target)
        row = len(self.sliders)
        self.slider_grid.addWidget(QLabel("target"), row, 0)
        self.slider_grid.addWidget(self.target_slider, row, 1)
        self.seed_spin.setValue(self.state.session.seed)
        self._sync_batch_mode()

    def _sync_batch_mode(self) -> None:
        for widget in (self.sample_radio, self.dataset_radio, self.batch_spin):
            widget.blockSignals(True)
        inputs = self.state.stepping_inputs
        self.sample_radio.setChecked(inputs.use_probe)
        self.dataset_radio.setChecked(not inputs.use_probe)
        self.batch_spin.setValue(inputs.batch_size)
        self.batch_spin.setEnabled(not inputs.use_probe)
        for widget in (self.sample_radio, self.dataset_radio, self.batch_spin):
            widget.blockSignals(False)

    def _on_batch_mode(self) -> None:
        self.batch_spin.setEnabled(self.dataset_radio.isChecked())
        self.state.set_stepping_batch(self.sample_radio.isChecked(), self.batch_spin.value())

    def _on_pass_changed(self) -> None:
        if self.sample_radio.isChecked() != self.state.stepping_inputs.use_probe:
            self._sync_batch_mode()
