"""Training: Run/Pause, Step and Reset on top; the data and SGD settings below them; the
loss curve, decision boundary, update-to-data ratio, weight norms and output norms.

Training runs on the state's worker; this panel buffers the snapshots it is sent and
redraws part by part at most ~30 times a second. Deep chains plot up to
``MAX_LAYER_CURVES`` linear layers, spread from the input to the output. Listens to the
training run's ``progressed``/``history_cleared``/``message_posted``, the slot's
``changed``, and the state's ``boundary_changed``, ``data_changed``,
``settings_changed`` and ``chain_changed``.
"""

from __future__ import annotations

from functools import partial

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.losses import LOSSES
from engine.core.training import TrainStep
from engine.data.datasets import MAX_CLASSES
from engine.data.session import CsvData, GeneratedData, SessionError, storage_formats
from engine.data.tasks import PrecisionSpec
from gui.boundary_view import BoundaryView
from gui.plot_widgets import (
    PROGRESS_FRAME_MS,
    GrowingTable,
    RedrawTimer,
    StickyRanges,
    depth_colour,
    downsample_to_pixels,
    representative,
    reset_range,
    set_keys,
    show_few_points,
    titled_plot,
)
from gui.settings import remember_folder, start_folder
from gui.state import AppState

GENERATED = ("circle", "xor", "gaussian", "spiral", "spirals", "blobs", "plane",
             "multi_gaussian", "sin", "seed_example")
MULTI_CLASS = ("spirals", "blobs")
CSV_ITEM = "CSV file…"
SESSION_ITEM = "the session's data"  # inline samples: no generator to name
BOUNDARY_PART = 4  # index of _redraw_boundary among the redraw timer's parts
MAX_LAYER_CURVES = 8
LAYER_PLOTS = (("ratio", "Update-to-data ratio std(ΔW)/std(W)"),
               ("weight", "Weight norm ‖W‖"), ("output", "Output norm ‖z‖ of linear layers"),
               ("swamped", "Swamped weight updates (share lost)"))
OFF = "off"
# two losses a student compares: say which is which
LOSS_NOTE = ("The loss each step computed, before its own update. The Chain page's pass "
             "uses the parameters after the last update, so its loss is one step on.")


class TrainingPanel(QWidget):
    """Train the chain with SGD and watch it learn."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QHBoxLayout(self)
        layout.addWidget(self._controls())
        plots = QGridLayout()
        self.loss_plot = titled_plot("Training loss", "step", "loss before the step's update",
                                     name="loss", log_y=True, integer_x=True)
        self.loss_plot.setToolTip(LOSS_NOTE)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.boundary = BoundaryView("Decision boundary", "decision_boundary")
        self.boundary_plot = self.boundary.widget
        self.ratio_plot = titled_plot(LAYER_PLOTS[0][1], "step", "ratio",
                                      name="update_ratio", log_y=True, integer_x=True)
        self.ratio_plot.addLine(y=-3, pen=pg.mkPen("k", style=Qt.PenStyle.DashLine))
        self.weight_plot = titled_plot(LAYER_PLOTS[1][1], "step", "‖W‖", name="weight_norms",
                                       integer_x=True)
        self.output_plot = titled_plot(LAYER_PLOTS[2][1], "step", "‖z‖", name="output_norms",
                                       log_y=True, integer_x=True)
        # shown while the weights are stored in a narrower format (the Precision settings)
        self.swamped_plot = titled_plot(LAYER_PLOTS[3][1], "step", "share",
                                        name="swamped_updates", integer_x=True)
        self.swamped_plot.setYRange(0, 1.05, padding=0)
        self.swamped_plot.getPlotItem().vb.setMouseEnabled(y=False)
        for plot in (self.loss_plot, self.ratio_plot, self.weight_plot, self.output_plot,
                     self.swamped_plot):
            plot.setClipToView(True)
        for number, plot in enumerate(self._layer_plots()):
            # CSV and SVG data: every linear layer, not only the curves drawn
            plot.getPlotItem().export_table = partial(self._layer_table, number)
        plots.addWidget(self.loss_plot, 0, 0)
        plots.addWidget(self.boundary_plot, 0, 1)
        plots.addWidget(self.ratio_plot, 1, 0)
        plots.addWidget(self.weight_plot, 1, 1)
        self.plot_grid = plots
        for row in range(3):  # equal rows: re-placing a plot must not shrink its row
            plots.setRowStretch(row, 1)
        self._swamped_shown: bool | None = None  # placed by _sync_precision
        layout.addLayout(plots, 1)
        # the layer curves are made once; a new chain recolours and shows the ones it uses
        self.layer_curves: dict[str, list[pg.PlotDataItem]] = {
            key: [plot.plot([], []) for _ in range(MAX_LAYER_CURVES)]
            for (key, _title), plot in zip(LAYER_PLOTS, self._layer_plots(), strict=True)}
        for plot in (self.loss_plot, *self._layer_plots()):
            downsample_to_pixels(plot)  # long runs: a pixel column's min and max

        # ranges that move only when the curves outgrow them: growing curves then repaint
        # their data, not their axes, at each frame
        self.ranges = {key: StickyRanges(plot) for key, plot in (
            ("loss", self.loss_plot), ("ratio", self.ratio_plot), ("weight", self.weight_plot),
            ("output", self.output_plot))}
        self._redraw_timer = RedrawTimer([
            self._redraw_loss, lambda: self._layer_part("ratio", 0),
            lambda: self._layer_part("weight", 1), lambda: self._layer_part("output", 2),
            self._redraw_boundary, lambda: self._layer_part("swamped", 3)],
            self, PROGRESS_FRAME_MS)
        state.training.progressed.connect(self._on_training_progressed)
        state.training.history_cleared.connect(self._on_history_cleared)
        state.training.message_posted.connect(self.status.setText)
        state.slot.changed.connect(self._on_slot_changed)
        state.boundary_changed.connect(lambda: self._redraw_timer.mark_dirty(BOUNDARY_PART))
        state.data_changed.connect(self._on_data_changed)
        state.settings_changed.connect(self._sync_controls)
        state.chain_changed.connect(self._on_history_cleared)
        self._sync_controls()
        self._on_data_changed()
        self._on_history_cleared()

    def plot_of(self, key: str) -> pg.PlotWidget:
        return {"loss": self.loss_plot, "ratio": self.ratio_plot, "weight": self.weight_plot,
                "output": self.output_plot, "swamped": self.swamped_plot}[key]

    def _layer_plots(self) -> tuple[pg.PlotWidget, ...]:
        return self.ratio_plot, self.weight_plot, self.output_plot, self.swamped_plot

    def plots(self) -> list[pg.PlotWidget]:
        shown = [self.loss_plot, self.boundary_plot, self.ratio_plot, self.weight_plot,
                 self.output_plot]
        return [*shown, self.swamped_plot] if self._precision_on() else shown

    def _precision_on(self) -> bool:
        return self.state.training.settings.precision is not None

    # -- controls --------------------------------------------------------------------------

    def _controls(self) -> QWidget:
        box = QWidget()
        box.setFixedWidth(250)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run or pause training (Ctrl+R)")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One SGD step")
        self.step_button.clicked.connect(self.state.step_training)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Re-initialise the chain from its seed and clear the "
                                     "history (Ctrl+Shift+R)")
        self.reset_button.clicked.connect(self.state.reset)
        for button in (self.run_button, self.step_button, self.reset_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        self.status.setToolTip(LOSS_NOTE)
        # fixed: a label that changes height on every step would re-lay out every plot
        self.status.setFixedHeight(self.status.fontMetrics().lineSpacing() * 3 + 4)
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.status)
        settings = QWidget()
        settings_column = QVBoxLayout(settings)
        settings_column.setContentsMargins(0, 0, 4, 0)
        settings_column.addWidget(self._data_group())
        settings_column.addWidget(self._optimizer_group())
        settings_column.addWidget(self._precision_group())
        settings_column.addStretch(1)
        scroll = QScrollArea()  # the settings scroll; the buttons above them never do
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(settings)
        column.addWidget(scroll, 1)
        return box

    def _data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        form = QFormLayout(group)
        self.dataset_box = QComboBox()
        self.dataset_box.addItems([*GENERATED, CSV_ITEM])
        self.dataset_box.activated.connect(self._on_dataset_chosen)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(1, 100_000)
        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.0, 1.0)
        self.noise_spin.setSingleStep(0.05)
        self.noise_spin.setToolTip("The Playground's noise % / 100 (its slider stops at 0.5)")
        self.classes_spin = QSpinBox()
        self.classes_spin.setRange(2, MAX_CLASSES)
        self.classes_spin.setValue(3)
        self.classes_spin.setToolTip("Number of classes (spirals and blobs)")
        self.apply_data = QPushButton("Generate data")
        self.apply_data.clicked.connect(self._on_apply_data)
        form.addRow("dataset", self.dataset_box)
        form.addRow("samples", self.samples_spin)
        form.addRow("noise", self.noise_spin)
        form.addRow("classes", self.classes_spin)
        form.addRow(self.apply_data)
        return group

    def _optimizer_group(self) -> QGroupBox:
        group = QGroupBox("Loss and SGD")
        form = QFormLayout(group)
        self.loss_box = QComboBox()
        self.loss_box.addItems(list(LOSSES))
        self.loss_box.activated.connect(lambda _: self.state.set_loss(self.loss_box.currentText()))
        self.lr_spin = self._number(5, 1e-6, 100.0, 0.01, "lr")
        self.lr_spin.setToolTip("Takes effect at the next step, without a reset")
        self.momentum_spin = self._number(3, 0.0, 0.999, 0.1, "momentum")
        self.decay_spin = self._number(5, 0.0, 10.0, 1e-4, "weight_decay")
        self.decay_spin.setToolTip("L2 penalty added to the gradient, as torch.optim.SGD")
        self.nesterov_check = QCheckBox("Nesterov momentum")
        self.nesterov_check.toggled.connect(
            lambda on: self.state.set_train_settings(nesterov=on))
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 1_000_000)
        self.batch_spin.setSpecialValueText("full batch")
        self.batch_spin.valueChanged.connect(
            lambda v: self.state.set_train_settings(batch_size=v))
        form.addRow("loss", self.loss_box)
        form.addRow("learning rate", self.lr_spin)
        form.addRow("momentum", self.momentum_spin)
        form.addRow("weight decay", self.decay_spin)
        form.addRow(self.nesterov_check)
        form.addRow("batch size", self.batch_spin)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 10_000_000)
        self.steps_spin.setGroupSeparatorShown(True)
        self.steps_spin.setToolTip("Run stops at this step; a headless run of the session "
                                   "makes as many")
        self.steps_spin.valueChanged.connect(lambda v: self.state.set_train_settings(steps=v))
        form.addRow("steps", self.steps_spin)
        return group

    def _precision_group(self) -> QGroupBox:
        group = QGroupBox("Low-precision storage")
        form = QFormLayout(group)
        self.storage_box = QComboBox()
        self.storage_box.setToolTip(
            "Keep the weights in a narrower float format: the chain computes in the "
            "session dtype, then every weight and bias is rounded to this format after "
            "each update (mixed precision without a master copy)")
        self.storage_box.activated.connect(self._on_precision_chosen)
        self.rounding_box = QComboBox()
        self.rounding_box.addItems(["nearest", "stochastic"])
        self.rounding_box.setToolTip("nearest: ties to even, as a cast; stochastic: up or "
                                     "down with the probabilities that make it unbiased")
        self.rounding_box.activated.connect(self._on_precision_chosen)
        self.storage_box.setToolTip(self.storage_box.toolTip() + ". off: the weights are "
                                    "kept in the dtype the chain computes in")
        form.addRow("store weights in", self.storage_box)
        form.addRow("rounding", self.rounding_box)
        return group

    def _on_precision_chosen(self) -> None:
        storage = self.storage_box.currentText()
        self.state.set_precision(None if storage == OFF else PrecisionSpec.model_validate(
            {"storage": storage, "rounding": self.rounding_box.currentText()}))

    def _number(self, decimals: int, low: float, high: float, step: float,
                setting: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.valueChanged.connect(lambda v: self.state.set_train_settings(**{setting: v}))
        return spin

    def _sync_controls(self) -> None:
        settings, session = self.state.training.settings, self.state.session
        widgets = (self.lr_spin, self.momentum_spin, self.decay_spin, self.nesterov_check,
                   self.batch_spin, self.steps_spin, self.loss_box)
        for widget in widgets:
            widget.blockSignals(True)
        self.lr_spin.setValue(settings.lr)
        self.momentum_spin.setValue(settings.momentum)
        self.decay_spin.setValue(settings.weight_decay)
        self.nesterov_check.setChecked(settings.nesterov)
        self.batch_spin.setValue(settings.batch_size)
        self.steps_spin.setValue(settings.steps)
        self.loss_box.setCurrentText(session.loss)
        for widget in widgets:
            widget.blockSignals(False)
        self._sync_precision()
        data = session.data
        own = self.dataset_box.findText(SESSION_ITEM)
        if isinstance(data, GeneratedData):
            if own >= 0:
                self.dataset_box.removeItem(own)
            self.dataset_box.setCurrentText(data.dataset)
            self.samples_spin.setValue(data.samples)
            self.noise_spin.setValue(data.noise)
            self.classes_spin.setValue(data.classes)
        elif isinstance(data, CsvData):
            self.dataset_box.setCurrentText(CSV_ITEM)
        else:  # samples written in the session file: say so, not the last generated set
            if own < 0:
                self.dataset_box.insertItem(0, SESSION_ITEM)
            self.dataset_box.setCurrentText(SESSION_ITEM)
            self.samples_spin.setValue(self.state.dataset.size)
        self.classes_spin.setEnabled(self.dataset_box.currentText() in MULTI_CLASS)

    def _sync_precision(self) -> None:
        precision = self.state.training.settings.precision
        formats = [OFF, *storage_formats(self.state.session.dtype)]
        if [self.storage_box.itemText(i) for i in range(self.storage_box.count())] != formats:
            self.storage_box.clear()
            self.storage_box.addItems(formats)
        self.storage_box.setCurrentText(OFF if precision is None else precision.storage)
        self.rounding_box.setCurrentText("nearest" if precision is None
                                         else precision.rounding)
        self.rounding_box.setEnabled(precision is not None)
        if self._swamped_shown != (precision is not None):
            self._place_output_plots(precision is not None)

    def _place_output_plots(self, precision_on: bool) -> None:
        """The output-norm plot takes the whole last row unless the swamped plot is shown."""
        grid = self.plot_grid
        grid.removeWidget(self.output_plot)
        grid.removeWidget(self.swamped_plot)
        grid.addWidget(self.output_plot, 2, 0, 1, 1 if precision_on else 2)
        if precision_on:
            grid.addWidget(self.swamped_plot, 2, 1)
        self.swamped_plot.setVisible(precision_on)
        self._swamped_shown = precision_on

    def _on_dataset_chosen(self) -> None:
        name = self.dataset_box.currentText()
        if name == SESSION_ITEM:
            return  # already the data
        if name == CSV_ITEM:
            self._load_csv()
            return
        data = self.state.session.data
        if name != "seed_example" and isinstance(data, GeneratedData) \
                and data.dataset == "seed_example" and self.samples_spin.value() == data.samples:
            # the seed example's single sample (not one the person typed) would make a
            # one-point "spiral": the session format's default count instead
            self.samples_spin.setValue(GeneratedData.model_fields["samples"].default)
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
        path, _ = QFileDialog.getOpenFileName(self, "Load CSV data", start_folder("data"),
                                              "CSV (*.csv)")
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
        remember_folder("data", path)
        return True

    def _on_run_clicked(self) -> None:
        if self.state.is_training():
            self.state.training.pause()
        else:
            self.state.start_training()

    def _on_slot_changed(self, running: str) -> None:
        self.run_button.setText("Pause" if running == "training" else "Run")

    # -- data ------------------------------------------------------------------------------

    def _on_history_cleared(self) -> None:
        # every linear layer, those inside residual blocks too ("2.body.0"), in the order of
        # the training records' per-linear-layer series
        layers = self.state.chain.linear_layers()
        linear = [path for path, _ in layers]
        self.linear_indices = linear
        self.shown = representative(len(linear), MAX_LAYER_CURVES)  # positions in linear
        self.table = GrowingTable(2 + 4 * len(linear))
        keys = [(f"layer {linear[n]}", depth_colour(n, len(linear)).name()) for n in self.shown]
        # std(ΔW)/std(W) needs two weights: say so rather than leave a key with no curve
        lone = [layers[n][1].params["weight"].numel() == 1 for n in self.shown]
        ratio_keys = [(f"{name}*" if alone else name, colour)
                      for (name, colour), alone in zip(keys, lone, strict=True)]
        if any(lone):
            ratio_keys.append(("*a single weight: no ratio", ""))
        for (key, title), plot in zip(LAYER_PLOTS, self._layer_plots(), strict=True):
            for number, curve in enumerate(self.layer_curves[key]):
                if number < len(self.shown):
                    curve.setPen(pg.mkPen(depth_colour(self.shown[number], len(linear)),
                                          width=1))
                curve.setData([], [])
                curve.setVisible(number < len(self.shown))
            set_keys(plot, title, ratio_keys if key == "ratio" else keys)
        for key, ranges in self.ranges.items():
            reset_range(self.plot_of(key), ranges)
        reset_range(self.boundary_plot)
        self.status.setText("Not trained yet.")
        self._redraw_timer.mark_dirty()

    def _on_training_progressed(self, steps: list[TrainStep]) -> None:
        linear = self.linear_indices
        nothing = (float("nan"),) * len(linear)
        rows = [[s.step, s.loss, *s.update_ratios, *s.weight_norms, *s.linear_output_norms,
                 *(s.swamped or nothing)] for s in steps]
        self.table.extend(rows)
        last = steps[-1]
        warning = f"\n⚠ {last.nonfinite.describe()}; press Reset" if last.nonfinite else ""
        swamped = f"\nswamped updates: first layer {last.swamped[0]:.0%}, last " \
            f"{last.swamped[-1]:.0%}" if last.swamped and not warning else ""
        self.status.setText(f"step {last.step}   loss {last.loss:.4g}   lr {last.lr:g}"
                            f"{warning}{swamped}")
        self._redraw_timer.mark_dirty()

    def _on_data_changed(self) -> None:
        dataset = self.state.dataset
        self.boundary.show_data(dataset.inputs, dataset.targets, dataset.classes)
        # for data that is not 2-D the boundary hides: the loss plot takes its place
        self.plot_grid.removeWidget(self.loss_plot)
        self.plot_grid.addWidget(self.loss_plot, 0, 0, 1,
                                 1 if dataset.inputs.shape[1] == 2 else 2)
        self._sync_controls()

    def _redraw_boundary(self) -> None:
        self.boundary.show_values(self.state.boundary(), self.state.boundary_extent(),
                                  probabilities=self.state.session.loss != "mse")

    def redraw(self) -> None:
        """Everything at once (tests and exports); live updates go part by part."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _redraw_loss(self) -> None:
        data = self.table.view()
        show_few_points(self.loss_curve, data[:, 0], data[:, 1])
        self.ranges["loss"].fit_curves(data[:, 0], [data[:, 1]], log_y=True)

    def _layer_table(self, start: int) -> tuple[list[str], list[list[object]]]:
        data = self.table.view()
        n = len(self.linear_indices)
        header = ["step", *(f"layer_{i}" for i in self.linear_indices)]
        columns = data[:, [0, *range(start * n + 2, start * n + 2 + n)]]
        return header, [[int(row[0]), *row[1:]] for row in columns.tolist()]

    def _layer_part(self, key: str, start: int) -> None:
        data = self.table.view()
        n = len(self.linear_indices)
        columns = [data[:, start * n + 2 + position] for position in self.shown]
        for curve, column in zip(self.layer_curves[key], columns, strict=False):
            show_few_points(curve, data[:, 0], column)
        if key == "swamped":  # a share: the axis stays 0..1
            return
        self.ranges[key].fit_curves(data[:, 0], columns, log_y=key != "weight")
