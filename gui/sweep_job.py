"""A sweep run from the app: the engine's local runner on a thread of its own, its
progress and finished cells reported to the GUI thread, a Stop that lets running cells
end after their current step (:func:`engine.sweeps.run.run_cells`)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from engine.sweeps.cells import Cell
from engine.sweeps.run import SweepRun, run_cells
from engine.sweeps.summary import summary_rows, write_summary
from engine.sweeps.worker import read_outcome

MAIN = Path(__file__).resolve().parents[1] / "main.py"


class FinishedCells:
    """The outcomes of a sweep's finished cells, each cell's folder read once.

    A cell's folder is renamed into place whole and not written again (see
    :mod:`engine.sweeps.worker`), so an outcome once read stays true: each progress tick
    reads only the cells still pending. Re-reading every finished cell at every tick
    made a sweep of N cells cost about N²/2 reads of ``result.json``.
    """

    def __init__(self, cells: list[Cell], out: Path) -> None:
        self._runs = out / "runs"
        self._pending = [cell for cell in cells if cell.session is not None]
        self._found: dict[str, dict[str, Any]] = {}

    def read(self) -> dict[str, dict[str, Any]]:
        """Every cell finished so far, by id (a new dict: the caller may add to it)."""
        pending = []
        for cell in self._pending:
            outcome = read_outcome(self._runs / cell.id)
            if outcome is None:
                pending.append(cell)
            else:
                self._found[cell.id] = outcome
        self._pending = pending
        return dict(self._found)


class OutputFolder:
    """The sweep's folder as Run prepares it (``runs/`` and ``sweep_file.json``), and
    :meth:`undo` for a sweep that never started: it removes the folders preparing made
    (when still empty) and the sweep file, or puts back the one it replaced, so a refused
    sweep leaves nothing, as the command line's does."""

    def __init__(self, out: Path) -> None:
        self.out, self.sweep_file = out, out / "sweep_file.json"
        self._made: list[Path] = []  # deepest first
        folder = out / "runs"
        while not folder.exists() and folder != folder.parent:
            self._made.append(folder)
            folder = folder.parent
        self._previous = self.sweep_file.read_bytes() if self.sweep_file.is_file() else None

    def prepare(self, document: dict[str, Any]) -> None:
        """Make the folders and write the sweep file; raises OSError."""
        (self.out / "runs").mkdir(parents=True, exist_ok=True)
        self.sweep_file.write_text(json.dumps(document, indent=1) + "\n")

    def undo(self) -> None:
        try:
            if self._previous is None:
                self.sweep_file.unlink(missing_ok=True)
            else:
                self.sweep_file.write_bytes(self._previous)
            for folder in self._made:
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        except OSError:  # best effort: the message about the sweep matters more
            pass


class StopFlag:
    """The Stop button's side of :class:`engine.sweeps.run.StopRequests`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def requested(self) -> bool:
        return self._event.is_set()


class SweepJob(QObject):
    """Signals: progressed(done, total) after each cell, finished(SweepRun) at the end,
    failed(message)."""

    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, cells: list[Cell], out: Path, base_dir: Path, axes: list[str],
                 raw: dict[str, Any], workers: int) -> None:
        super().__init__()
        self.cells, self.out, self.base_dir = cells, out, base_dir
        self.axes, self.raw, self.workers = axes, raw, workers
        self.stop_flag = StopFlag()
        self._finished = FinishedCells(cells, out)
        self._thread = threading.Thread(target=self._run, name="chainlab-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Ask the sweep to stop and wait for it (running cells end after their step)."""
        self.stop_flag.set()
        if self._thread.is_alive():
            self._thread.join()

    def outcomes(self) -> dict[str, dict[str, Any]]:
        return self._finished.read()

    def _run(self) -> None:
        try:
            result = run_cells(self.cells, self.out / "runs", self.base_dir, self.workers,
                               self.stop_flag, lambda done, total: self.progressed.emit(done,
                                                                                       total))
            write_summary(self.out, self.axes, summary_rows(self.cells, result.outcomes),
                          self.raw)
        except Exception as error:  # shown in the panel: the sweep's folder says what is kept
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        self.finished.emit(result)



class ProcessSweepJob(QObject):
    """The same sweep run by ``main.py sweep --ray ADDRESS`` in a process of its own
    (Ray's start-up and signal handling belong in a main thread). Progress is read from
    the cells' folders as they appear; Stop sends SIGTERM, which the command handles like
    Ctrl-C: running cells are cancelled, finished ones kept, the summary written.

    Signals as :class:`SweepJob`'s; ``finished`` carries the process's exit status.
    """

    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, cells: list[Cell], out: Path, sweep_file: Path, ray: str,
                 workers: int) -> None:
        super().__init__()
        self.cells, self.out = cells, out
        self._finished = FinishedCells(cells, out)
        self.process = QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments([str(MAIN), "sweep", str(sweep_file), "--out", str(out),
                                   "--ray", ray, "--workers", str(workers), "--quiet"])
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self.refused = False  # the command refused, or Python did not start: nothing ran
        self._poll = QTimer(self)
        self._poll.setInterval(500)
        self._poll.timeout.connect(self._on_poll)
        self._done = -1

    def start(self) -> None:
        self.process.start()
        self._poll.start()

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        if self.is_running():
            self.process.terminate()  # SIGTERM: the sweep stops cleanly
            self.process.waitForFinished(-1)

    def outcomes(self) -> dict[str, dict[str, Any]]:
        return self._finished.read()

    def _on_poll(self) -> None:
        done = len(self.outcomes())
        if done != self._done:
            self._done = done
            total = sum(cell.session is not None for cell in self.cells)
            self.progressed.emit(done, total)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.refused = True
            self._poll.stop()
            self.failed.emit(self.process.errorString())

    def _on_finished(self, status: int, _exit: QProcess.ExitStatus) -> None:
        self._poll.stop()
        self._on_poll()
        output = bytes(self.process.readAll().data()).decode(errors="replace").strip()
        if status == 2:  # the command refused (e.g. --ray unreachable): its one line
            self.refused = True
            self.failed.emit(refusal(output.splitlines()[-1]) if output
                             else "the sweep was refused")
            return
        self.finished.emit(SweepRun(outcomes=self.outcomes(), interrupted=status in (130,
                                                                                      143)))


def refusal(line: str) -> str:
    """The command's one-line refusal in the panel's words: without the ``error: FILE:``
    prefix (the panel wrote that file) and naming the Ray field, not the ``--ray`` flag."""
    words = line.split(": ", 2)
    if len(words) == 3 and words[0] == "error":
        line = words[2]
    return "Ray address: " + line.removeprefix("--ray: ") if line.startswith("--ray: ") \
        else line
