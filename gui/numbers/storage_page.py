"""Low-precision training side by side: one run per storage format from the same start.

Shows each format's first weight of the first and last linear layers, and the loss, per
step (:func:`engine.data.storage_comparison.compare_storage`, computed off the GUI
thread). "Seed example" runs the issue's demonstration: the seed example in float32 at
lr 0.1, where the first layer's bfloat16 weight never moves with nearest rounding and
does on average with stochastic rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.specs import seed_example
from engine.data.session import GeneratedData, Session, SessionError, check_precision
from engine.data.storage_comparison import StorageRun, compare_storage
from engine.data.tasks import PrecisionSpec, TrainTask
from gui.background import BackgroundTask
from gui.plot_widgets import set_keys, titled_plot

# (label, storage, rounding); None: the session dtype itself
CHOICES: tuple[tuple[str, str | None, str], ...] = (
    ("compute dtype", None, "nearest"),
    ("bfloat16, nearest", "bfloat16", "nearest"),
    ("bfloat16, stochastic", "bfloat16", "stochastic"),
    ("float16, nearest", "float16", "nearest"),
    ("float8_e5m2, nearest", "float8_e5m2", "nearest"),
)
DEFAULT_ON = ("compute dtype", "bfloat16, nearest", "bfloat16, stochastic")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
INTRO = (
    "<b>A gradient can be fine while the update is lost.</b> With the weights kept in a "
    "narrow format, an update smaller than half the gap to the next representable weight "
    "rounds back to the old weight. On the seed example at lr 0.1 the first layer's "
    "update is 8.5·10⁻⁵: it moves a float32 weight of 0.3, but the bfloat16 gap there is "
    "2⁻⁹ ≈ 0.002, so the bfloat16 weight stays put, while the second layer's (5.2·10⁻³) "
    "moves in every format. Stochastic rounding moves it now and then, right on average.")


class StoragePage(QWidget):
    """Compare storage formats on the seed example or on the current session."""

    def __init__(self, current_session: Callable[[], Session],
                 current_task: Callable[[], TrainTask]) -> None:
        super().__init__()
        self.current_session, self.current_task = current_session, current_task
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_runs)
        self.task.failed.connect(self._on_failed)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(self._controls())
        self.status = QLabel("Press a button to train once per format.")
        layout.addWidget(self.status)
        self.legend = QLabel()  # one legend for the three plots, above them
        layout.addWidget(self.legend)
        grid = QGridLayout()
        self.first_plot = titled_plot("First linear layer: W[0,0]", "step", "weight",
                                      name="storage_first_weight")
        self.last_plot = titled_plot("Last linear layer: W[0,0]", "step", "weight",
                                     name="storage_last_weight")
        self.loss_plot = titled_plot("Loss", "step", "loss", name="storage_loss", log_y=True)
        for plot in (self.first_plot, self.last_plot, self.loss_plot):
            plot.setMinimumSize(200, 200)
        grid.addWidget(self.first_plot, 0, 0)
        grid.addWidget(self.last_plot, 0, 1)
        grid.addWidget(self.loss_plot, 0, 2)
        layout.addLayout(grid, 1)
        self.curves = {key: [plot.plot([], [], pen=pg.mkPen(colour, width=2))
                             for colour in COLOURS]
                       for key, plot in (("first", self.first_plot), ("last", self.last_plot),
                                         ("loss", self.loss_plot))}
        self.runs: list[StorageRun] = []

    def plots(self) -> list[pg.PlotWidget]:
        return [self.first_plot, self.last_plot, self.loss_plot]

    def _controls(self) -> QVBoxLayout:
        rows = QVBoxLayout()
        row = QHBoxLayout()
        rows.addLayout(row)
        self.checks = {}
        for label, _storage, _rounding in CHOICES:
            check = QCheckBox(label)
            check.setChecked(label in DEFAULT_ON)
            self.checks[label] = check
            row.addWidget(check)
        row.addStretch(1)
        row = QHBoxLayout()
        rows.addLayout(row)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(60)
        self.steps_spin.setPrefix("steps ")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(1e-4, 10.0)
        self.lr_spin.setValue(0.1)
        self.lr_spin.setPrefix("lr ")
        self.repeats_spin = QSpinBox()
        self.repeats_spin.setRange(1, 1024)
        self.repeats_spin.setValue(32)
        self.repeats_spin.setPrefix("stochastic runs ")
        self.repeats_spin.setToolTip("Stochastic rounding is shown as the mean over this "
                                     "many rounding seeds")
        self.seed_button = QPushButton("Seed example")
        self.seed_button.setToolTip("The seed example in float32 (1 → lin 0.3 → tanh → "
                                    "lin 0.3 → tanh, x = 10, target 0.5)")
        self.seed_button.clicked.connect(self.compare_seed_example)
        self.session_button = QPushButton("Current session")
        self.session_button.setToolTip("The window's session with its SGD settings and the "
                                       "lr above")
        self.session_button.clicked.connect(self.compare_current_session)
        for widget in (self.steps_spin, self.lr_spin, self.repeats_spin, self.seed_button,
                       self.session_button):
            row.addWidget(widget)
        row.addStretch(1)
        return rows

    def _precisions(self) -> list[tuple[str, PrecisionSpec | None]]:
        return [(label, None if storage is None else PrecisionSpec.model_validate(
            {"storage": storage, "rounding": rounding}))
            for label, storage, rounding in CHOICES if self.checks[label].isChecked()]

    def compare_seed_example(self) -> None:
        session = Session(format="chainlab/1", name="Seed example", dtype="float32",
                          network=seed_example(), data=GeneratedData(dataset="seed_example",
                                                                     samples=1))
        self._compare(session, TrainTask(lr=self.lr_spin.value()))

    def compare_current_session(self) -> None:
        task = self.current_task().model_copy(update={"lr": self.lr_spin.value()})
        self._compare(self.current_session(), task)

    def _compare(self, session: Session, task: TrainTask) -> None:
        precisions = [p for _, p in self._precisions()]
        if not precisions:
            self.status.setText("Tick at least one format.")
            return
        usable = [p for p in precisions if p is None or _fits(p, session.dtype)]
        steps, repeats = self.steps_spin.value(), self.repeats_spin.value()
        self.status.setText(f"training {len(usable)} format(s) for {steps} steps …")
        self.task.start(lambda: compare_storage(session, task, usable, steps, repeats))

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"failed: {message}")

    def show_runs(self, runs: list[StorageRun]) -> None:
        self.runs = runs
        keys = [(run.label + (f" (mean of {run.repeats} rounding seeds)" if run.repeats > 1
                              else ""), COLOURS[n]) for n, run in enumerate(runs)]
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{colour}">■</span>&nbsp;{label}' for label, colour in keys))
        steps = len(runs[0].losses) if runs else 1
        for key, plot, title in (("first", self.first_plot, "First linear layer: W[0,0]"),
                                 ("last", self.last_plot, "Last linear layer: W[0,0]"),
                                 ("loss", self.loss_plot, "Loss")):
            for n, curve in enumerate(self.curves[key]):
                if n >= len(runs):
                    curve.setData([], [])
                    continue
                run = runs[n]
                if key == "loss":
                    curve.setData(np.arange(1, len(run.losses) + 1), run.losses)
                else:
                    column = 0 if key == "first" else -1
                    curve.setData(np.arange(len(run.weights)), run.weights[:, column])
            set_keys(plot, title, ())
            plot.enableAutoRange(axis="y")
            plot.setXRange(0, steps, padding=0.02)
        moved = ", ".join(f"{run.label}: {run.weights[-1, 0] - run.weights[0, 0]:+.3g}"
                          for run in runs)
        self.status.setText(f"first layer's W[0,0] moved by   {moved}")


def _fits(precision: PrecisionSpec, dtype: str) -> bool:
    try:
        check_precision(precision, dtype)
    except SessionError:
        return False
    return True
