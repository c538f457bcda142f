"""Training: dataset, loss and SGD settings, Run/Pause/Step; live loss curve, decision
boundary, update-to-data ratio, weight norms and output norms per layer over steps.

Training runs on the state's worker thread; this panel only buffers the snapshots it is
sent and redraws at most ~30 times a second. Listens to ``training_progressed``,
``training_reset``, ``training_state_changed``, ``boundary_computed``, ``data_changed``,
``chain_changed`` and ``session_changed``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.layers import Linear
from engine.core.losses import LOSSES
from engine.core.training import TrainStep
from engine.data.datasets import MAX_CLASSES
from engine.data.session import CsvData, GeneratedData, SessionError
from gui.boundary_view import BoundaryView
from gui.plot_widgets import GrowingTable, RedrawTimer, depth_colour, titled_plot
from gui.state import AppState

GENERATED = ("circle", "xor", "gaussian", "spiral", "spirals", "blobs", "plane",
             "multi_gaussian", "sin", "seed_example")
MULTI_CLASS = ("spirals", "blobs")
CSV_ITEM = "CSV file…"
BOUNDARY_PART = 4  # index of _redraw_boundary among the redraw timer's parts


class TrainingPanel(QWidget):
    """Train the chain with SGD and watch it learn."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QHBoxLayout(self)
        layout.addWidget(self._controls())
        plots = QGridLayout()
        self.loss_plot = titled_plot("Training loss", "step", "loss (log)", name="loss")
        self.loss_plot.getPlotItem().setLogMode(y=True)
        self.loss_plot.setClipToView(True)
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                              name="loss")
        self.boundary = BoundaryView("Decision boundary", "decision_boundary")
        self.boundary_plot = self.boundary.widget
        self._boundary_values: np.ndarray | None = None
        self.ratio_plot = titled_plot("Update-to-data ratio per linear layer", "step",
                                      "lr·std(∇W)/std(W) (log)", name="update_ratio")
        self.ratio_plot.getPlotItem().setLogMode(y=True)
        self.ratio_plot.addLine(y=-3, pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.weight_plot = titled_plot("Weight norm ‖W‖ per linear layer", "step", "‖W‖",
                                       name="weight_norms")
        self.output_plot = titled_plot("Output norm ‖z‖ per linear layer", "step", "‖z‖ (log)",
                                       name="output_norms")
        self.output_plot.getPlotItem().setLogMode(y=True)
        for plot in (self.ratio_plot, self.weight_plot, self.output_plot):
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
        plots.addWidget(self.loss_plot, 0, 0)
        plots.addWidget(self.boundary_plot, 0, 1)
        plots.addWidget(self.ratio_plot, 0, 2)
        plots.addWidget(self.weight_plot, 1, 0)
        plots.addWidget(self.output_plot, 1, 1, 1, 2)
        layout.addLayout(plots, 1)
        self.layer_curves: dict[str, list[pg.PlotDataItem]] = {}

        self._redraw_timer = RedrawTimer([
            self._redraw_loss, lambda: self._layer_part("ratio", 0),
            lambda: self._layer_part("weight", 1), lambda: self._layer_part("output", 2),
            self._redraw_boundary], self)
        state.training.progressed.connect(self._on_training_progressed)
        state.training.history_cleared.connect(self._on_training_reset)
        state.training.message_posted.connect(self.status.setText)
        state.slot.changed.connect(self._on_slot_changed)
        state.boundary_computed.connect(self._on_boundary_computed)
        state.data_changed.connect(self._on_data_changed)
        state.settings_changed.connect(self._sync_controls)
        state.chain_changed.connect(self._on_training_reset)
        self._sync_controls()
        self._on_data_changed()
        self._on_training_reset()

    def plots(self) -> list[pg.PlotWidget]:
        return [self.loss_plot, self.boundary_plot, self.ratio_plot, self.weight_plot,
                self.output_plot]

    # -- controls --------------------------------------------------------------------------

    def _controls(self) -> QWidget:
        box = QWidget()
        box.setMaximumWidth(260)
        column = QVBoxLayout(box)
        form = QFormLayout()
        self.dataset_box = QComboBox()
        self.dataset_box.addItems([*GENERATED, CSV_ITEM])
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(1, 100_000)
        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.0, 0.5)
        self.noise_spin.setSingleStep(0.05)
        self.classes_spin = QSpinBox()
        self.classes_spin.setRange(2, MAX_CLASSES)
        self.classes_spin.setValue(3)
        self.classes_spin.setToolTip("Number of classes (spirals and blobs)")
        self.apply_data = QPushButton("Generate data")
        self.apply_data.clicked.connect(self._on_apply_data)
        self.dataset_box.activated.connect(self._on_dataset_chosen)
        self.loss_box = QComboBox()
        self.loss_box.addItems(list(LOSSES))
        self.loss_box.activated.connect(lambda _: self.state.set_loss(self.loss_box.currentText()))
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 100.0)
        self.lr_spin.setSingleStep(0.01)
        self.lr_spin.setToolTip("Takes effect at the next step, without a reset")
        self.lr_spin.valueChanged.connect(lambda v: self.state.set_train_settings(lr=v))
        self.momentum_spin = QDoubleSpinBox()
        self.momentum_spin.setRange(0.0, 0.999)
        self.momentum_spin.setSingleStep(0.1)
        self.momentum_spin.valueChanged.connect(
            lambda v: self.state.set_train_settings(momentum=v))
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 1_000_000)
        self.batch_spin.setSpecialValueText("full batch")
        self.batch_spin.valueChanged.connect(
            lambda v: self.state.set_train_settings(batch_size=v))
        form.addRow("dataset", self.dataset_box)
        form.addRow("samples", self.samples_spin)
        form.addRow("noise", self.noise_spin)
        form.addRow("classes", self.classes_spin)
        form.addRow(self.apply_data)
        form.addRow("loss", self.loss_box)
        form.addRow("learning rate", self.lr_spin)
        form.addRow("momentum", self.momentum_spin)
        form.addRow("batch size", self.batch_spin)
        column.addLayout(form)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run")
        # Fixed sizes: a label or button that changes size on every step would re-lay out
        # (and repaint) every plot beside it.
        self.run_button.setFixedWidth(self.run_button.fontMetrics().horizontalAdvance("Pause") + 40)
        self.run_button.setToolTip("Run or pause training (Ctrl+R)")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One SGD step")
        self.step_button.clicked.connect(self.state.training.step)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.step_button)
        column.addLayout(buttons)
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        self.status.setFixedHeight(self.status.fontMetrics().lineSpacing() * 4)
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.status)
        column.addStretch(1)
        return box

    def _sync_controls(self) -> None:
        settings, session = self.state.training.settings, self.state.session
        for widget in (self.lr_spin, self.momentum_spin, self.batch_spin, self.loss_box):
            widget.blockSignals(True)
        self.lr_spin.setValue(settings.lr)
        self.momentum_spin.setValue(settings.momentum)
        self.batch_spin.setValue(settings.batch_size)
        self.loss_box.setCurrentText(session.loss)
        for widget in (self.lr_spin, self.momentum_spin, self.batch_spin, self.loss_box):
            widget.blockSignals(False)
        data = session.data
        if isinstance(data, GeneratedData):
            self.dataset_box.setCurrentText(data.dataset)
            self.samples_spin.setValue(data.samples)
            self.noise_spin.setValue(data.noise)
            self.classes_spin.setValue(data.classes)
        self.classes_spin.setEnabled(self.dataset_box.currentText() in MULTI_CLASS)

    def _on_dataset_chosen(self) -> None:
        if self.dataset_box.currentText() == CSV_ITEM:
            self._load_csv()
        else:
            self._on_apply_data()

    def _on_apply_data(self) -> None:
        name = self.dataset_box.currentText()
        if name == CSV_ITEM:
            self._load_csv()
            return
        try:
            self.state.set_data(GeneratedData.model_validate({
                "dataset": name, "samples": self.samples_spin.value(),
                "noise": self.noise_spin.value(), "classes": self.classes_spin.value()}))
        except SessionError as error:
            QMessageBox.warning(self, "Dataset", str(error))

    def _load_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load CSV data", "", "CSV (*.csv)")
        if not path:
            self._sync_controls()
            return
        classification = QMessageBox.question(
            self, "CSV data", "Is the last column a class label (classification)?\n"
            "Answer No for a regression target.") == QMessageBox.StandardButton.Yes
        self.load_csv_path(path, "classification" if classification else "regression")

    def load_csv_path(self, path: str, task: str = "regression") -> bool:
        try:
            self.state.set_data(CsvData.model_validate({"dataset": "csv", "path": str(path),
                                                        "task": task}))
        except SessionError as error:
            QMessageBox.warning(self, "CSV data", str(error))
            self._sync_controls()
            return False
        return True

    def _on_run_clicked(self) -> None:
        if self.state.is_training():
            self.state.training.pause()
        else:
            self.state.start_training()

    def _on_slot_changed(self, running: str) -> None:
        self.run_button.setText("Pause" if running == "training" else "Run")

    # -- data ------------------------------------------------------------------------------

    def _on_training_reset(self) -> None:
        linear = [i for i, layer in enumerate(self.state.chain.layers)
                  if isinstance(layer, Linear)]
        self.linear_indices = linear
        self.table = GrowingTable(2 + 3 * len(linear))
        for key, plot in (("ratio", self.ratio_plot), ("weight", self.weight_plot),
                          ("output", self.output_plot)):
            item = plot.getPlotItem()
            for curve in self.layer_curves.get(key, []):
                item.removeItem(curve)
            if item.legend is None and len(linear) <= 8:
                item.addLegend(offset=(-10, 10))
            if item.legend is not None:
                item.legend.clear()
            self.layer_curves[key] = [
                item.plot([], [], pen=pg.mkPen(depth_colour(n, len(linear)), width=1.5),
                          name=f"layer {i}" if len(linear) <= 8 else None)
                for n, i in enumerate(linear)]
        self.status.setText("Not trained yet.")
        self._sync_controls()
        self._redraw_timer.mark_dirty()

    def _on_training_progressed(self, steps: list[TrainStep]) -> None:
        linear = self.linear_indices
        rows = [[s.step, s.loss, *s.update_ratios, *s.weight_norms,
                 *(s.output_norms[i] for i in linear)] for s in steps]
        self.table.extend(rows)
        last = steps[-1]
        warning = f"\n⚠ {last.nonfinite.describe()}; press Reset" if last.nonfinite else ""
        self.status.setText(f"step {last.step}   loss {last.loss:.4g}   lr {last.lr:g}{warning}")
        self._redraw_timer.mark_dirty()

    def _on_data_changed(self) -> None:
        dataset = self.state.dataset
        self.boundary.show_data(dataset.inputs, dataset.targets, dataset.classes)
        self._sync_controls()

    def _on_boundary_computed(self, values: np.ndarray | None) -> None:
        self._boundary_values = values
        self._redraw_timer.mark_dirty(BOUNDARY_PART)

    def _redraw_boundary(self) -> None:
        self.boundary.show_values(self._boundary_values, self.state.boundary_extent(),
                                  probabilities=self.state.session.loss != "mse")

    def redraw(self) -> None:
        """Everything at once (tests and exports); live updates go part by part."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _redraw_loss(self) -> None:
        data = self.table.view()
        self.loss_curve.setData(data[:, 0], data[:, 1])

    def _layer_part(self, key: str, start: int) -> None:
        data = self.table.view()
        n = len(self.linear_indices)
        for j, curve in enumerate(self.layer_curves[key]):
            curve.setData(data[:, 0], data[:, start * n + 2 + j])
