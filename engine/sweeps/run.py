"""Run a sweep's cells in local worker processes, resumably and interruptibly.

Cells run in a ``ProcessPoolExecutor`` with the ``forkserver`` context (torch and fork
do not mix), at most ``workers`` at a time. A cell whose ``runs/<id>/result.json``
exists is done and skipped. A cell that fails (an invalid session, a non-finite loss, an
exception) is recorded and the sweep goes on; when a worker process dies the pool
breaks, and the cells that were running are retried one by one in a fresh pool, so only
the one that kills its worker is recorded as failed. The first SIGINT/SIGTERM starts no
new cell and cancels the running ones after their current step (the stop event); a
second stops waiting for them. The workers leave SIGINT to this process; a SIGTERM sent
to the whole process group ends them at once, their cells not kept (see
:mod:`engine.core.processes`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.core.processes import WORKERS_LOST, worker_context
from engine.data.session import session_json
from engine.sweeps.cells import Cell
from engine.sweeps.worker import CellJob, failed, init_worker, read_outcome, run_cell

CellRunner = Callable[[CellJob], dict[str, Any]]


class StopRequests(Protocol):
    """What the runner asks between cells: signal handlers (:class:`Interrupts`) on the
    command line, a Stop button's flag in the app."""

    def requested(self) -> bool: ...

Progress = Callable[[int, int], None]
DIED = "the worker process died (killed, out of memory or crashed)"


@dataclass
class SweepRun:
    """What happened: every finished cell's outcome by id, and how many were skipped."""

    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0
    interrupted: bool = False


def run_cells(cells: list[Cell], runs: Path, base_dir: Path, workers: int,
              interrupts: StopRequests, progress: Progress | None = None,
              runner: CellRunner = run_cell) -> SweepRun:
    """Run every cell not yet done into ``runs/<id>``; returns the outcomes.

    Parameters
    ----------
    cells : list of Cell
        Invalid cells (no session) are recorded as failed without running.
    runs : Path
        ``DIR/runs``, created if missing.
    workers : int
        Worker processes, at least 1.
    runner : callable
        What a worker calls per cell (a module-level function, picklable).
    """
    runs.mkdir(parents=True, exist_ok=True)
    result = SweepRun()
    todo: dict[str, Cell] = {}
    for cell in cells:
        if cell.session is None:
            result.outcomes[cell.id] = failed(cell.error or "invalid session")
        elif cell.id not in result.outcomes and cell.id not in todo:
            done = read_outcome(runs / cell.id)
            if done is not None:
                result.outcomes[cell.id] = done
                result.skipped += 1
            else:
                todo[cell.id] = cell
    jobs = [CellJob(cell.id, session_json(cell.session), str(runs), str(base_dir))
            for cell in todo.values() if cell.session is not None]
    total, finished = len(jobs), 0

    def record(job: CellJob, outcome: dict[str, Any]) -> None:
        nonlocal finished
        if outcome["status"] != "cancelled":
            result.outcomes[job.id] = outcome
            finished += 1
            if progress is not None:
                progress(finished, total)

    stop = worker_context().Event()
    pending = list(reversed(jobs))
    try:
        while pending and not interrupts.requested():
            suspects = _pool_pass(pending, workers, stop, interrupts, runner, record)
            for job in suspects:  # one at a time: the one that dies alone is the culprit
                if interrupts.requested():
                    break
                if _pool_pass([job], 1, stop, interrupts, runner, record):
                    record(job, failed(DIED))
    except KeyboardInterrupt:  # a second signal: stop waiting
        pass
    finally:
        remove_stale_staging(Path(runs))
    result.interrupted = interrupts.requested()
    return result


def remove_stale_staging(runs: Path) -> None:
    """The staging folders of cells whose worker was killed (a SIGTERM to the process
    group, a crash): never a result, and nothing else removes them."""
    for folder in runs.glob(".*.staging-*"):
        shutil.rmtree(folder, ignore_errors=True)


def _pool_pass(pending: list[CellJob], workers: int, stop: Any, interrupts: StopRequests,
               runner: CellRunner, record: Callable[[CellJob, dict[str, Any]], None],
               ) -> list[CellJob]:
    """Run ``pending`` (popped from its end) until it is empty, an interrupt, or the
    pool breaks; returns the jobs that were running when it broke."""
    context = worker_context()
    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(pending))),
                               mp_context=context, initializer=init_worker,
                               initargs=(stop,))
    running: dict[Future[dict[str, Any]], CellJob] = {}
    try:
        while pending or running:
            if interrupts.requested():
                stop.set()
                pending.clear()
            while pending and len(running) < workers:
                job = pending.pop()
                try:
                    running[pool.submit(runner, job)] = job
                except WORKERS_LOST:  # the pool broke, or its forkserver died starting
                    if interrupts.requested():  # of the signal that stops us anyway
                        pending.clear()
                        break
                    return [job, *running.values()]
            if not running:
                break
            done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            broken = []
            for future in done:
                job = running.pop(future)
                try:
                    record(job, future.result())
                except BrokenProcessPool:
                    broken.append(job)
            if broken:
                suspects = broken + list(running.values())
                running.clear()
                return suspects
        return []
    finally:
        if interrupts.requested():
            stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    return os.cpu_count() or 1
