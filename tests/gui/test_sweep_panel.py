"""The Sweeps dock as a person uses it: two axes of the current session, Run, the heat
map filling in, a click on a cell opening what that run ended with; a bad axis; Stop; each finished
cell's result read once however often the progress ticks."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.core.plots import HeatMapPlot
from engine.data.session import session_json
from engine.sweeps.run import SweepRun
from engine.sweeps.summary import write_summary
from engine.sweeps.worker import CellJob, read_outcome, run_cell
from gui import session_files, sweep_job
from gui.panels import sweep_panel
from gui.plot_specs import plot_widget_for
from tests.gui.conftest import choose


def open_sweeps(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.docks["sweeps"].isVisible, timeout=5_000)
    return window.sweeps


def set_axis(qtbot, panel, number: int, key: str, values: str) -> None:
    box, edit = panel.axis_boxes[number], panel.value_edits[number]
    box.setCurrentText(key)
    edit.clear()
    qtbot.keyClicks(edit, values)


def prepare(qtbot, window, tmp_path: Path) -> object:
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    panel = open_sweeps(qtbot, window)
    set_axis(qtbot, panel, 0, "activation", "tanh, relu")
    set_axis(qtbot, panel, 1, "task.lr", "0.1, 0.3")
    choose(qtbot, panel.task_box, "train")
    window.training.steps_spin.setValue(5)
    panel.seeds_spin.setValue(1)
    panel.workers_spin.setValue(2)
    panel.out_edit.setText(str(tmp_path / "sweep"))
    return panel


def start_held(qtbot, window, tmp_path: Path, monkeypatch, task: str = "step",
               axis: tuple[str, str] = ("depth", "2, 3")) -> object:
    """Run a sweep whose job holds its cells (the test runs or finishes them): one pass
    per cell over depth 2 and 3 unless told otherwise."""
    monkeypatch.setattr(sweep_panel, "SweepJob", HeldSweepJob)
    panel = prepare(qtbot, window, tmp_path)
    choose(qtbot, panel.task_box, task)
    set_axis(qtbot, panel, 1, *axis)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    return panel


def test_a_sweep_fills_a_heat_map_and_a_cell_opens_its_outcome(qtbot, window, tmp_path: Path,
                                                                monkeypatch) -> None:
    panel = prepare(qtbot, window, tmp_path)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.job is not None
    qtbot.waitUntil(lambda: not panel.job.is_running() and panel.run_button.isEnabled(),
                    timeout=180_000)
    shown = panel.shown
    assert isinstance(shown, HeatMapPlot)
    assert shown.x_ticks == ("tanh", "relu")
    assert shown.y_ticks == ("0.1", "0.3")
    with (tmp_path / "sweep" / "sweep.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4
    assert {row["status"] for row in rows} == {"ok"}
    assert "4 of 4 cells ok" in panel.status.text()
    # click the (relu, 0.3) cell: what its run ended with becomes a new session
    cell = next(row for row in rows if row["activation"] == "relu" and row["task.lr"] == "0.3")
    folder = tmp_path / "sweep" / "runs" / cell["id"]
    record = (folder / "session.json").read_bytes()
    result = json.loads((folder / "result.json").read_text())
    view = panel.plot.getPlotItem().vb
    where = panel.plot.mapFromScene(view.mapViewToScene(QPointF(1, 1)))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    state = window.state
    assert state.path is None  # not the cell's file: Save must ask
    kinds = {s.kind for s in state.network.layers if s.type == "activation"}
    assert kinds == {"relu"}
    assert state.training.settings.lr == 0.3
    # the trained weights, not the starting point: the chain is result.json's network
    opened = state.current_session().network.model_dump(mode="json", exclude_none=True)
    assert opened == result["network"]
    state.recompute()
    assert math.isclose(float(state.pass_.loss), result["loss"], rel_tol=1e-6)
    assert "(unsaved)" in window.windowTitle()
    assert "relu" in window.windowTitle()
    message = window.statusBar().currentMessage()
    assert f"{result['loss']:.4g}" in message
    assert "relu" in message
    # Save asks for a path; the cell's folder is never written
    asked: list[str] = []

    def save_dialog(*args: Any, **kwargs: Any) -> tuple[str, str]:
        asked.append("asked")
        return str(tmp_path / "mine.json"), ""

    monkeypatch.setattr(session_files.QFileDialog, "getSaveFileName", save_dialog)
    assert window.files.save()
    assert asked
    assert (folder / "session.json").read_bytes() == record
    assert (tmp_path / "mine.json").exists()


def test_an_unknown_axis_is_refused_by_name(qtbot, window, tmp_path: Path) -> None:
    panel = open_sweeps(qtbot, window)
    set_axis(qtbot, panel, 0, "task.nonsense", "1, 2")
    panel.out_edit.setText(str(tmp_path / "bad"))
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.job is None
    assert "task.nonsense" in panel.status.text()
    assert not (tmp_path / "bad").exists()


def test_stop_ends_the_sweep_and_keeps_the_folder(qtbot, window, tmp_path: Path) -> None:
    panel = prepare(qtbot, window, tmp_path)
    set_axis(qtbot, panel, 1, "task.lr", "0.01, 0.02, 0.03, 0.04, 0.05, 0.06")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    job = panel.job
    with qtbot.waitSignal(job.finished, timeout=180_000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert "(stopped)" in panel.status.text()
    assert panel.run_button.isEnabled()
    assert (tmp_path / "sweep" / "sweep.csv").exists()


def test_a_sweep_on_ray_runs_the_command_and_fills_the_same_heat_map(
        qtbot, window, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    panel = prepare(qtbot, window, tmp_path)
    panel.ray_edit.setText("auto")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=300_000)
    assert "4 of 4 cells ok" in panel.status.text(), panel.status.text()
    assert isinstance(panel.shown, HeatMapPlot)
    assert window.settings.value("sweeps/ray") == "auto" or \
        panel.ray_edit.text() == "auto"


def test_an_unreachable_ray_cluster_is_one_line_and_leaves_nothing(qtbot, window,
                                                                     tmp_path: Path) -> None:
    panel = prepare(qtbot, window, tmp_path)
    earlier = HeatMapPlot("h", "ratio (mean over seeds)", "a", "b", ("x", "y"), ("1", "2"),
                          np.ones((2, 2)), (("1", "1"), ("1", "1")))
    panel.plot, panel.shown = plot_widget_for(earlier), earlier  # a sweep's before
    panel.plot_area.addWidget(panel.plot)
    panel.ray_edit.setText("127.0.0.1:9")  # the discard port: nothing listens there
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=120_000)
    text = panel.status.text()
    assert "Ray address: " in text, text
    assert "127.0.0.1:9" in text
    assert "--ray" not in text
    assert "sweep_file.json" not in text
    assert not (tmp_path / "sweep").exists()  # as the command line: nothing written
    assert panel.plot is None
    assert panel.shown is None


class HeldSweepJob(sweep_job.SweepJob):
    """A sweep job that runs nothing itself: the test runs its cells one at a time."""

    def start(self) -> None:
        pass


def test_each_finished_cell_is_read_once_however_many_ticks(qtbot, window, tmp_path: Path,
                                                             monkeypatch) -> None:
    reads: Counter[str] = Counter()

    def counting_reader(folder: Path) -> dict[str, Any] | None:
        outcome = read_outcome(folder)
        if outcome is not None:  # a finished cell's result.json parsed
            reads[folder.name] += 1
        return outcome

    monkeypatch.setattr(sweep_job, "read_outcome", counting_reader)
    panel = start_held(qtbot, window, tmp_path, monkeypatch)
    job = panel.job
    assert isinstance(job, HeldSweepJob), panel.status.text()
    cells = job.cells
    assert len(cells) == 4
    for done, cell in enumerate(cells, 1):  # the cells finish one by one, as a runner's do
        run_cell(CellJob(cell.id, session_json(cell.session), str(job.out / "runs"),
                         str(job.base_dir)))
        for _ in range(2):  # the runner's progress ticks, each redrawing the picture
            with qtbot.waitSignal(panel._redraw_soon.timeout, timeout=5_000):
                job.progressed.emit(done, len(cells))
        choose(qtbot, panel.metric_box, "final loss")  # a person's redraws read too
        choose(qtbot, panel.metric_box, "first/last gradient ratio")
    job.finished.emit(SweepRun(outcomes=job.outcomes()))
    assert "4 of 4 cells ok" in panel.status.text()
    assert isinstance(panel.shown, HeatMapPlot)
    assert np.isfinite(panel.shown.values).all()  # every cell read, and shown
    assert reads == {cell.id: 1 for cell in cells}


def test_cells_still_to_run_and_not_run_are_labelled_not_coloured(qtbot, window, tmp_path: Path,
                                                                   monkeypatch) -> None:
    panel = start_held(qtbot, window, tmp_path, monkeypatch)
    job = panel.job
    shown = panel.shown
    assert isinstance(shown, HeatMapPlot)  # at once: every cell still to run
    assert shown.cell_text == (("…", "…"), ("…", "…"))
    assert np.isnan(shown.values).all()
    first = job.cells[0]
    run_cell(CellJob(first.id, session_json(first.session), str(job.out / "runs"),
                     str(job.base_dir)))
    with qtbot.waitSignal(panel._redraw_soon.timeout, timeout=5_000):
        job.progressed.emit(1, 4)
    texts = [t for line in panel.shown.cell_text for t in line]
    assert texts.count("…") == 3
    assert np.isfinite(panel.shown.values).sum() == 1
    labels = [i.toPlainText() for i in panel.plot.getPlotItem().items
              if isinstance(i, pg.TextItem)]
    assert labels.count("…") == 3
    job.finished.emit(SweepRun(outcomes=job.outcomes(), interrupted=True))  # Stop
    texts = [t for line in panel.shown.cell_text for t in line]
    assert texts.count("not run") == 3


def test_right_click_on_the_heat_map_is_the_export_menu_not_a_run(qtbot, window,
                                                                   tmp_path: Path,
                                                                   monkeypatch) -> None:
    panel = start_held(qtbot, window, tmp_path, monkeypatch)
    job = panel.job
    for cell in job.cells:
        run_cell(CellJob(cell.id, session_json(cell.session), str(job.out / "runs"),
                         str(job.base_dir)))
    job.finished.emit(SweepRun(outcomes=job.outcomes()))
    opened: list[str] = []
    panel.outcome_requested.connect(lambda session, message: opened.append(message))
    menus: list[object] = []
    view = panel.plot.getPlotItem().vb
    monkeypatch.setattr(type(view), "raiseContextMenu", lambda self, ev: menus.append(ev))
    where = panel.plot.mapFromScene(view.mapViewToScene(QPointF(1, 1)))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.RightButton, pos=where)
    assert menus
    assert not opened
    labels = [action.text() for action in view.menu.actions()]
    assert any("Export" in label for label in labels)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert len(opened) == 1


def test_a_folder_of_another_sweep_is_named_and_its_cells_reused(qtbot, window, tmp_path: Path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(sweep_panel, "SweepJob", HeldSweepJob)
    panel = prepare(qtbot, window, tmp_path)
    choose(qtbot, panel.task_box, "step")
    set_axis(qtbot, panel, 1, "depth", "2, 3")
    out = tmp_path / "sweep"
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    job = panel.job
    write_summary(out, panel.axes, [], json.loads((out / "sweep_file.json").read_text()))
    job.finished.emit(SweepRun())
    assert "different sweep" not in panel.status.text()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)  # the same sweep again
    assert "different sweep" not in panel.status.text()
    panel.job.finished.emit(SweepRun())
    set_axis(qtbot, panel, 1, "depth", "2, 4")  # another sweep, the same folder
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert f"{out} holds results of a different sweep file; cells with the same content " \
        "are reused" in panel.status.text()


def test_cells_sharing_one_run_are_said_in_the_status(qtbot, window, tmp_path: Path,
                                                      monkeypatch) -> None:
    """A GA sweep over OpenES's sigma: every cell is the same run, and the status says so
    (the map is still drawn for every cell)."""
    panel = start_held(qtbot, window, tmp_path, monkeypatch, task="evolve",
                       axis=("task.openes.sigma", "0.1, 0.2"))
    assert "2 of 4 cells run the same session as another cell and share its run: e.g. " \
        "task.openes.sigma = 0.2 changes nothing" in panel.status.text()
    assert len({cell.id for cell in panel.cells}) == 2
    panel.job.finished.emit(SweepRun())
