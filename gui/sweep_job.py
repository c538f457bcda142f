"""A sweep run from the app: the engine's local runner on a thread of its own, its
progress and finished cells reported to the GUI thread, a Stop that lets running cells
end after their current step (:func:`engine.sweeps.run.run_cells`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.sweeps.cells import Cell
from engine.sweeps.run import run_cells
from engine.sweeps.summary import summary_rows, write_summary
from engine.sweeps.worker import read_outcome


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
        """Every cell finished so far (read from its folder: the runner writes it whole)."""
        runs = self.out / "runs"
        found = {}
        for cell in self.cells:
            if cell.session is None:
                continue
            outcome = read_outcome(runs / cell.id)
            if outcome is not None:
                found[cell.id] = outcome
        return found

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

