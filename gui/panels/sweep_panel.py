"""Sweeps: the current session over one or two axes and several seeds, in local worker
processes or as Ray tasks (``main.py sweep --ray`` in a process of its own); the heat
map (two axes) or line (one axis) fills in as cells finish, and clicking a cell opens what
its run ended with as a new, unsaved session.

The sweep is an ordinary ``chainlab-sweep/1`` file written into the output folder
(``sweep_file.json``), so ``./run-app sweep`` reruns or resumes it headless. Emits
``outcome_requested(session, message)`` for a clicked cell: its session with the
trained (or best evolved) network of its ``result.json``; the cell's folder is never
written. Reads the state's current session and its training/evolution settings; never
edits it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.plots import HeatMapPlot, LinePlot
from engine.data.session import CsvData, session_json
from engine.sweeps.axes import SweepError
from engine.sweeps.cells import Cell, expand, shared_runs_notice
from engine.sweeps.run import SweepRun, default_workers
from engine.sweeps.spec import parse_sweep
from engine.sweeps.summary import (
    heat_map,
    holds_other_sweep,
    metric_plot,
    other_sweep_notice,
    summary_rows,
)
from engine.sweeps.worker import cell_outcome
from gui.plot_specs import plot_widget_for
from gui.settings import open_settings
from gui.state import AppState
from gui.sweep_job import OutputFolder, ProcessSweepJob, SweepJob

NONE = "(none)"
SUGGESTED = {"activation": "sigmoid, tanh, relu", "norm": "none, layer, batch",
             "depth": "2, 5, 10, 20", "task.lr": "0.01, 0.03, 0.1, 0.3",
             "task.momentum": "0, 0.5, 0.9", "task.batch_size": "0, 8, 32",
             "data.noise": "0, 0.1, 0.2", "data.samples": "64, 256",
             "task.steps": "50, 200", "task.population": "50, 200, 1000",
             "task.mutation_rate": "0.005, 0.01, 0.03"}
METRICS = {"grad_ratio": "first/last gradient ratio", "loss": "final loss",
           "best_loss": "best GA loss (evolve)"}


def parse_values(text: str) -> list[Any]:
    """Comma-separated values: each read as JSON when it is (numbers, true, null), else
    kept as text ("tanh")."""
    values: list[Any] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            values.append(json.loads(item))
        except json.JSONDecodeError:
            values.append(item)
    return values


class SweepPanel(QWidget):
    """Set up, run and watch a sweep of the current session."""

    outcome_requested = Signal(object, str)  # the Session, what it is (for the status bar)

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.job: SweepJob | ProcessSweepJob | None = None
        self.cells: list[Cell] = []
        self.axes: list[str] = []
        self.out: Path | None = None
        self.running = False  # from Run until the job's finished or failed
        self.notice = ""  # another sweep's folder, cells sharing a run: in every status line
        self.folder: OutputFolder | None = None
        layout = QVBoxLayout(self)
        layout.addLayout(self._form())
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run sweep")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Start no new cell; running cells end after their "
                                    "current step; finished cells are kept")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        for widget in (self.run_button, self.stop_button):
            buttons.addWidget(widget)
        buttons.addWidget(self.progress, 1)
        layout.addLayout(buttons)
        self.status = QLabel("Pick one or two axes and press Run sweep.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.plot_area = QVBoxLayout()
        self.no_plot = QWidget()  # holds the plot's room: the form stays at the top
        self.plot_area.addWidget(self.no_plot)
        layout.addLayout(self.plot_area, 1)
        self.plot: pg.PlotWidget | None = None
        self.shown: HeatMapPlot | LinePlot | None = None
        self._redraw_soon = QTimer(self)
        self._redraw_soon.setSingleShot(True)
        self._redraw_soon.setInterval(250)  # cells finish in bursts: one redraw per burst
        self._redraw_soon.timeout.connect(self.redraw)

    def _form(self) -> QFormLayout:
        form = QFormLayout()
        self.task_box = QComboBox()
        self.task_box.addItems(["step", "train", "evolve"])
        self.task_box.setToolTip("What each cell does: one pass, training with the Training "
                                 "page's settings, or evolution with the Evolution page's")
        self.axis_boxes: list[QComboBox] = []
        self.value_edits: list[QLineEdit] = []
        for number in (1, 2):
            box = QComboBox()
            box.setEditable(True)  # any dotted path into the session
            box.addItems(([NONE] if number == 2 else []) + list(SUGGESTED))
            edit = QLineEdit(SUGGESTED["activation"] if number == 1 else "")
            box.currentTextChanged.connect(lambda text, e=edit: e.setText(SUGGESTED.get(text,
                                                                                      "")))
            self.axis_boxes.append(box)
            self.value_edits.append(edit)
            row = QHBoxLayout()
            row.addWidget(box)
            row.addWidget(edit, 1)
            form.addRow(f"axis {number}", row)
        self.axis_boxes[1].setCurrentText("depth")
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 20)
        self.seeds_spin.setValue(2)
        self.metric_box = QComboBox()
        for key, label in METRICS.items():
            self.metric_box.addItem(label, key)
        self.metric_box.currentIndexChanged.connect(lambda _: self.redraw())
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 256)
        self.workers_spin.setValue(default_workers())
        self.ray_edit = QLineEdit(str(open_settings().value("sweeps/ray", "") or ""))
        self.ray_edit.setPlaceholderText("empty: local workers; auto; or HOST:PORT")
        self.ray_edit.setToolTip("Run the cells as Ray tasks: 'auto' starts or joins Ray on "
                                 "this machine, HOST:PORT joins a cluster (kept in the "
                                 "settings)")
        self.out_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        form.addRow("each cell", self.task_box)
        form.addRow("seeds", self.seeds_spin)
        form.addRow("metric", self.metric_box)
        form.addRow("workers", self.workers_spin)
        form.addRow("Ray", self.ray_edit)
        form.addRow("output folder", out_row)
        return form

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Sweep output folder",
                                                  self.out_edit.text() or _documents())
        if folder:
            self.out_edit.setText(folder)

    # -- the sweep --------------------------------------------------------------------------

    def sweep_document(self) -> dict[str, Any]:
        """The sweep file for the current session and the chosen axes."""
        session = self.state.current_session()
        task = {"step": {"kind": "step"},
                "train": self.state.training.settings.model_dump(mode="json",
                                                                exclude_none=True),
                "evolve": self.state.evolution.task.model_dump(mode="json",
                                                               exclude_none=True)}[
            self.task_box.currentText()]
        data = session.data
        if isinstance(data, CsvData) and not Path(data.path).is_absolute():
            # the sweep file lives in the output folder: its paths must not depend on it
            data = data.model_copy(update={"path": str(self.state.base_dir / data.path)})
        base = json.loads(session_json(session.model_copy(update={"panels": None,
                                                                  "data": data})))
        base["task"] = task
        axes: dict[str, list[Any]] = {}
        for box, edit in zip(self.axis_boxes, self.value_edits, strict=True):
            key = box.currentText().strip()
            if key and key != NONE:
                axes[key] = parse_values(edit.text())
        axes["seed"] = list(range(self.seeds_spin.value()))
        return {"format": "chainlab-sweep/1", "name": session.name or "sweep",
                "base": base, "axes": axes, "sample": "grid"}

    def start(self) -> None:
        if self.job is not None and self.job.is_running():
            return
        document = self.sweep_document()
        try:
            sweep = parse_sweep(json.dumps(document), self.state.base_dir)
            cells = expand(sweep)
        except SweepError as error:
            self.status.setText(f"⚠ {error}")
            return
        out = Path(self.out_edit.text().strip() or _default_out())
        reused = holds_other_sweep(out, sweep.raw)
        self.folder = OutputFolder(out)
        try:
            self.folder.prepare(document)
        except OSError as error:
            self.folder.undo()
            self.status.setText(f"⚠ cannot write to {out}: {error.strerror or error}")
            return
        self.out_edit.setText(str(out))
        self.cells, self.axes, self.out = cells, list(sweep.spec.axes), out
        ray = self.ray_edit.text().strip()
        settings = open_settings()
        settings.setValue("sweeps/ray", ray)
        settings.sync()
        self.job = ProcessSweepJob(cells, out, out / "sweep_file.json", ray,
                                   self.workers_spin.value()) if ray else \
            SweepJob(cells, out, sweep.base_dir, self.axes, sweep.raw,
                     self.workers_spin.value())
        self.job.progressed.connect(self._on_progressed)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)
        self.progress.setRange(0, len(cells))
        self.progress.setValue(0)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        # said in every status line: a folder of another sweep, cells sharing one run
        self.notice = "".join(f"{text}. " for text in (
            other_sweep_notice(out) if reused else "", shared_runs_notice(cells)) if text)
        self.status.setText(f"{self.notice}{len(cells)} cells in {out} (a rerun skips "
                            f"finished ones; ./run-app sweep {out / 'sweep_file.json'} "
                            "resumes it headless)")
        self._started = time.monotonic()
        self.running = True
        self.clear_plot()  # the last sweep's picture is not this one's
        self.job.start()
        self.redraw()

    def stop(self) -> None:
        if self.job is not None:
            self.status.setText("stopping: running cells end after their current step …")
            self.job.stop()

    def _on_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        left = elapsed / done * (total - done) if done else 0.0
        self.status.setText(f"{self.notice}{done} of {total} cells run, about {left:.0f} s "
                            "left")
        self._redraw_soon.start()

    def _on_finished(self, result: SweepRun) -> None:
        self.running = False
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        failed = sum(outcome["status"] != "ok" for outcome in result.outcomes.values())
        skipped = f", {result.skipped} already done" if result.skipped else ""
        stopped = " (stopped)" if result.interrupted else ""
        self.status.setText(f"{self.notice}{len(result.outcomes) - failed} of "
                            f"{len(self.cells)} cells ok, "
                            f"{failed} failed{skipped}{stopped}; summary in "
                            f"{self.out / 'sweep.csv' if self.out else ''}. Click a cell "
                            "to open what its run ended with.")
        self.redraw()

    def _on_failed(self, message: str) -> None:
        self.running = False
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if isinstance(self.job, ProcessSweepJob) and self.job.refused:  # nothing ran
            if self.folder is not None:
                self.folder.undo()  # and nothing is left, as on the command line
            self.clear_plot()
            self.status.setText(f"⚠ the sweep did not start: {message}")
            return
        self.status.setText(f"the sweep failed: {message}")
        self.redraw()  # the cells it did not run say so

    # -- the picture ------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """A row per cell: finished ones with their outcome, the others ``pending`` while
        the sweep runs and ``not run`` once it has ended (stopped, or failed to start)."""
        if self.job is None:
            return []
        outcomes = self.job.outcomes()
        outcomes.update({cell.id: {"status": "failed", "error": cell.error}
                         for cell in self.cells if cell.session is None})
        waiting = {"status": "pending" if self.running else "not run"}
        outcomes.update({cell.id: waiting for cell in self.cells if cell.id not in outcomes})
        return summary_rows(self.cells, outcomes)

    def redraw(self) -> None:
        rows = self.rows()
        metric = str(self.metric_box.currentData())
        plot = heat_map(metric, self.axes, rows) or metric_plot(metric, self.axes, rows) \
            if rows else None
        if plot is None:
            return
        widget = plot_widget_for(plot)
        if isinstance(plot, HeatMapPlot):
            widget.scene().sigMouseClicked.connect(
                lambda event, w=widget, p=plot: self._on_heat_map_clicked(w, p, event))
        self.clear_plot()
        self.no_plot.hide()
        self.plot, self.shown = widget, plot
        self.plot_area.addWidget(widget)

    def clear_plot(self) -> None:
        """No picture: the last one was of another sweep, or of one that never ran."""
        if self.plot is not None:
            self.plot_area.removeWidget(self.plot)
            self.plot.deleteLater()
        self.plot, self.shown = None, None
        self.no_plot.show()

    def plots(self) -> list[pg.PlotWidget]:
        return [self.plot] if self.plot is not None else []

    def cell_row(self, x_value: str, y_value: str) -> dict[str, Any] | None:
        """The first finished cell with these two axis values (their text)."""
        if self.out is None or self.shown is None or not isinstance(self.shown, HeatMapPlot):
            return None
        axes = [self.shown.x_label, self.shown.y_label]
        for row in self.rows():
            if row["status"] == "ok" and [_text(row[a]) for a in axes] == [x_value, y_value]:
                return row
        return None

    def open_cell(self, row: dict[str, Any]) -> None:
        """Ask for the cell's outcome to be opened as a new session."""
        assert self.out is not None
        folder = self.out / "runs" / row["id"]
        try:
            session, result = cell_outcome(folder)
        except (OSError, ValueError) as error:  # SessionError is a ValueError
            self.status.setText(f"⚠ cannot open the cell {folder}: {error}")
            return
        varying = [a for a in self.axes if a != "seed"]
        values = " · ".join(_text(row[a]) for a in varying)
        seed = f" · seed {row['seed']}" if "seed" in row else ""
        what = {"train": "trained", "evolve": "best evolved"}.get(str(result.get("task")),
                                                                  "starting")
        session = session.model_copy(update={"name": f"sweep cell {values}{seed}"})
        named = ", ".join(f"{a}={_text(row[a])}" for a in [*varying, "seed"] if a in row)
        self.outcome_requested.emit(session, (
            f"opened sweep cell {named}: its {what} network, loss {result.get('loss'):.4g} "
            "(unsaved; the cell's folder is not changed)"))

    def _on_heat_map_clicked(self, widget: pg.PlotWidget, plot: HeatMapPlot,
                             event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # right: the plot's export menu
            return
        view = widget.getPlotItem().vb
        point = view.mapSceneToView(event.scenePos())
        column, row = round(point.x()), round(point.y())
        if 0 <= column < len(plot.x_ticks) and 0 <= row < len(plot.y_ticks):
            found = self.cell_row(plot.x_ticks[column], plot.y_ticks[row])
            if found is not None:
                self.open_cell(found)

    def shutdown(self) -> None:
        """Stop a running sweep (the window is closing)."""
        if self.job is not None:
            self.job.stop()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def _documents() -> str:
    return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) \
        or str(Path.home())


def _default_out() -> str:
    return str(Path(_documents()) / "chainlab-sweeps" / time.strftime("sweep-%Y%m%d-%H%M%S"))

