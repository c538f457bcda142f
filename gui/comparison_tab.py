"""The Evolution panel's Comparison tab: what the 4-bit grid costs, one look away.

Plots the GA over 4-bit codes, OpenES over float weights, OpenES's best weights snapped
to the 4-bit grid, and full-batch SGD on the same chain for one budget of forward
passes, against forward passes and against wall time (log y), and states the final
losses in one line from the engine's numbers. Listens to the state's
``grid_comparison`` run and the slot's ``changed``; redraws at most ~30 times a second.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.optim import SGDConfig
from engine.evolution.comparison import CURVE_LABELS, CURVES, CurvePoint
from gui.plot_widgets import PROGRESS_FRAME_MS, RedrawTimer, reset_range, titled_plot
from gui.state import AppState

LOSS_AXIS_HEADROOM = 10.0  # the loss axis ends this many times above the largest start
NO_LIMIT = 1e307  # pyqtgraph's own default view limit

COLOURS = {"ga": "#2ca02c", "es": "#1f77b4", "es_4bit": "#9467bd", "sgd": "#ff7f0e"}
DEFAULT_BUDGET = 5000
MIN_SECONDS = 1e-4  # a log axis has no 0: the first points' times are drawn from here


class ComparisonTab(QWidget):
    """GA 4-bit, ES float, ES→4-bit and SGD: Compare, Stop, two plots, the final losses."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.run = state.grid_comparison
        column = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("budget per method"))
        self.budget_spin = QSpinBox()
        self.budget_spin.setRange(10, 10_000_000)
        self.budget_spin.setSingleStep(1000)
        self.budget_spin.setValue(DEFAULT_BUDGET)
        self.budget_spin.setSuffix(" forward passes")
        self.budget_spin.setToolTip("Each method runs until it has made this many full-"
                                    "batch forward passes (an SGD step counts as one)")
        row.addWidget(self.budget_spin)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip(
            "From the chain's initialisation: the GA (its settings), OpenES (its settings, "
            "the same population made even), OpenES's best snapped to the 4-bit grid at "
            "α, and full-batch SGD (the Training page's learning rate and momentum)")
        self.compare_button.clicked.connect(self._on_compare)
        row.addWidget(self.compare_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.run.stop)
        row.addWidget(self.stop_button)
        self.progress = QProgressBar()
        self.progress.setMinimumWidth(120)
        row.addWidget(self.progress, 1)
        column.addLayout(row)
        self.summary = QLabel("Compare runs all four methods from the chain's "
                              "initialisation, each for the budget")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.summary)
        row = QHBoxLayout()  # the chain's own quantisation: its result on a line of its own
        self.quantise_button = QPushButton("Quantisation error of the chain")
        self.quantise_button.setToolTip("What snapping the chain's current weights to the "
                                        "4-bit grid does to them and to the loss")
        self.quantise_button.clicked.connect(self._on_quantise)
        row.addWidget(self.quantise_button)
        self.quantisation = QLabel(" ")
        self.quantisation.setWordWrap(True)
        self.quantisation.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.quantisation, 1)
        column.addLayout(row)
        keys = tuple((CURVE_LABELS[name], COLOURS[name]) for name in CURVES)
        self.passes_plot = titled_plot("Loss against forward passes",
                                       "full-batch forward passes", "loss",
                                       name="grid_comparison_passes", log_x=True,
                                       log_y=True, keys=keys)
        self.time_plot = titled_plot("Loss against wall time", "seconds", "loss",
                                     name="grid_comparison_time", log_x=True, log_y=True,
                                     keys=keys)
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {"passes": {}, "time": {}}
        for axis, plot in (("passes", self.passes_plot), ("time", self.time_plot)):
            for name in CURVES:
                pen = pg.mkPen(COLOURS[name], width=2,
                               style=Qt.PenStyle.DashLine if name == "es_4bit"
                               else Qt.PenStyle.SolidLine)
                self.curves[axis][name] = plot.plot([], [], pen=pen, name=CURVE_LABELS[name])
            plot.getPlotItem().export_table = self.table
        plots = QGridLayout()
        plots.addWidget(self.passes_plot, 0, 0)
        plots.addWidget(self.time_plot, 0, 1)
        column.addLayout(plots, 1)
        self._points: dict[str, list[CurvePoint]] = {name: [] for name in CURVES}
        self._redraw_timer = RedrawTimer(self._redraw, self, PROGRESS_FRAME_MS)
        self.run.started.connect(self._on_started)
        self.run.points_arrived.connect(self._on_points_arrived)
        self.run.cleared.connect(self._on_cleared)
        self.run.ended.connect(self._on_ended)
        self.run.message_posted.connect(self.summary.setText)
        self.run.settings_changed.connect(self._on_settings_changed)
        state.slot.changed.connect(self._on_slot_changed)
        self._on_slot_changed(state.slot.running)

    def plots(self) -> list[pg.PlotWidget]:
        return [self.passes_plot, self.time_plot]

    def _on_compare(self) -> None:
        settings = self.state.training.settings
        self.run.start(self.budget_spin.value(),
                       SGDConfig(lr=settings.lr, momentum=settings.momentum))

    def _on_quantise(self) -> None:
        report = self.state.evolution.quantisation()
        if report is not None:
            self.quantisation.setText(
                f"current chain on the 4-bit grid: ‖W − Q(W)‖/‖W‖ = "
                f"{report.relative_error:.3g}; loss {report.float_loss:.4g} (float) → "
                f"{report.quantised_loss:.4g} (quantised)")

    def _on_slot_changed(self, running: str) -> None:
        comparing = running == "comparison"
        self.compare_button.setEnabled(not comparing)
        self.stop_button.setEnabled(comparing)

    def _on_started(self, budget: int) -> None:
        self._points = {name: [] for name in CURVES}
        self.progress.setRange(0, len(CURVES) * budget)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.summary.setText(f"comparing for {budget} forward passes each …")
        for plot in self.plots():
            reset_range(plot)
        self._redraw_timer.mark_dirty()

    def _on_ended(self, summary: str) -> None:
        self.summary.setText(summary)
        if self.run.outcome == "done":  # a curve that ended early (SGD diverged) is done too
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat("done")
        else:
            self.progress.setFormat(f"{self.progress.text()} ({self.run.outcome})")

    def _on_cleared(self, why: str) -> None:
        """The comparison's points were dropped: ``why`` ("" when there were none)."""
        self._points = {name: [] for name in CURVES}
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.summary.setText(f"{why}: Compare again" if why else " ")
        self.quantisation.setText(" ")  # of the chain before
        self._redraw_timer.mark_dirty()

    def _on_settings_changed(self) -> None:
        self.summary.setText(self.summary.text().split(" \u2014 ")[0] +
                             " \u2014 the evolution settings changed since: Compare again "
                             "to use them")

    def _on_points_arrived(self, points: list[CurvePoint]) -> None:
        for point in points:
            self._points[point.curve].append(point)
        last = points[-1]
        budget = self.run.budget
        done = CURVES.index(last.curve) * budget + min(last.evaluations, budget)
        self.progress.setValue(done)
        self.progress.setFormat(f"{CURVE_LABELS[last.curve]} {last.evaluations}/{budget}")
        self._redraw_timer.mark_dirty()

    def redraw(self) -> None:
        """Now, not at the next frame (tests, exports)."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _redraw(self) -> None:
        for name in CURVES:
            points = self._points[name]
            passes = np.array([p.evaluations for p in points], dtype=float)
            seconds = np.maximum([p.seconds for p in points], MIN_SECONDS) if points \
                else np.zeros(0)
            loss = np.array([p.loss for p in points], dtype=float)
            loss = np.where(np.isfinite(loss) & (loss > 0), loss, np.nan)  # log y
            self.curves["passes"][name].setData(passes, loss, connect="finite")
            self.curves["time"][name].setData(seconds, loss, connect="finite")
        self._limit_loss_axis()

    def _limit_loss_axis(self) -> None:
        """A curve that diverges (SGD at too large a rate, up to 1e300) would squash the
        others flat: the loss axis spans the losses seen, but stops at 10x the largest
        starting loss, and such a curve leaves through the top (the summary says where it
        ended)."""
        losses = np.array([p.loss for name in CURVES for p in self._points[name]])
        losses = losses[np.isfinite(losses) & (losses > 0)]
        starts = [p.loss for name in CURVES for p in self._points[name][:1]
                  if math.isfinite(p.loss) and p.loss > 0]
        if not starts:
            bottom, top = -NO_LIMIT, NO_LIMIT
        else:  # in log10 units, as the view's coordinates are on a log axis
            top = math.log10(LOSS_AXIS_HEADROOM * max(starts))
            bottom = min(math.log10(float(losses.min())) - 0.5, top - 1)
        for plot in self.plots():
            plot.getPlotItem().getViewBox().setLimits(yMin=bottom, yMax=top)

    def table(self) -> tuple[list[str], list[list[object]]]:
        """Every point of the four curves: both plots export the same table."""
        return ["curve", "forward_passes", "seconds", "loss"], [
            [CURVE_LABELS[p.curve], p.evaluations, p.seconds, p.loss]
            for name in CURVES for p in self._points[name]]
