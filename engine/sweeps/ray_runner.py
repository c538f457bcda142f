"""Run a sweep's cells as Ray tasks; their folders come back to ``DIR`` on this machine.

Each task runs the same :func:`engine.sweeps.worker.run_cell` as a local worker, into a
scratch folder on whatever node Ray chose, and returns the cell's outcome with the bytes
of every file of its folder. The launching process writes them into a staging folder
beside ``runs/<id>`` and renames it into place, as the local runner does, so both
engines leave the same folders and the same ``sweep.csv`` (but for ``seconds``).

How ``--ray auto`` and ``--ray HOST:PORT`` start or join Ray:
:mod:`engine.headless.ray_cluster`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import torch

from engine.data.session import session_json
from engine.headless.interrupts import Interrupts
from engine.headless.ray_cluster import RayUnavailable, first_line
from engine.headless.ray_cluster import ray_connection as cluster_connection
from engine.sweeps.axes import SweepError
from engine.sweeps.cells import Cell
from engine.sweeps.run import CellRunner, Progress, SweepRun
from engine.sweeps.worker import CellJob, failed, read_outcome, run_cell

if TYPE_CHECKING:
    from ray import ObjectRef

DIED = "the Ray worker died (killed, out of memory or crashed)"
Files = dict[str, bytes]  # path inside the cell's folder (posix) -> content


@contextmanager
def ray_connection(address: str) -> Iterator[None]:
    """:func:`engine.headless.ray_cluster.ray_connection`, refusing as the sweep's
    ``--ray`` field."""
    with ExitStack() as connected:
        try:
            connected.enter_context(cluster_connection(address))
        except RayUnavailable as error:
            raise SweepError("--ray", str(error)) from None
        yield


def run_cells_on_ray(cells: list[Cell], runs: Path, base_dir: Path, workers: int | None,
                     interrupts: Interrupts, progress: Progress | None = None,
                     runner: CellRunner = run_cell) -> SweepRun:
    """Run every cell not yet done as a Ray task, into ``runs/<id>`` here.

    Ray must be initialised (:func:`ray_connection`). Same contract as
    :func:`engine.sweeps.run.run_cells`; besides:

    Parameters
    ----------
    workers : int or None
        At most this many cells in flight; None submits them all and lets Ray's
        resources (one CPU per cell, plus one GPU for a ``"device": "cuda"`` task)
        decide how many run at once.
    runner : callable
        What a task calls per cell: importable on the cluster's nodes, or picklable.
    """
    import ray

    runs.mkdir(parents=True, exist_ok=True)
    result, jobs = _not_done(cells, runs, base_dir)
    total, finished = len(jobs), 0
    # a crashing cell fails once instead of crashing three more workers
    remote = ray.remote(num_cpus=1, max_retries=0)(ray_task)
    pending = list(reversed(jobs))
    running: dict[ObjectRef[Any], CellJob] = {}
    try:
        while (pending or running) and not interrupts.requested():
            while pending and (workers is None or len(running) < workers):
                job = pending.pop()
                ref = remote.options(num_gpus=1 if wants_gpu(job) else 0).remote(runner, job)
                running[ref] = job
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
            for ref in done:
                job = running.pop(ref)
                outcome = _collect(ref, runs, job)
                if outcome["status"] != "cancelled":
                    result.outcomes[job.id] = outcome
                    finished += 1
                    if progress is not None:
                        progress(finished, total)
    except KeyboardInterrupt:  # a second signal: stop waiting
        pass
    finally:
        for ref in running:  # a cancelled task's scratch folder goes with it
            ray.cancel(ref)
    result.interrupted = interrupts.requested()
    return result


def _not_done(cells: list[Cell], runs: Path, base_dir: Path) -> tuple[SweepRun,
                                                                      list[CellJob]]:
    """Invalid cells recorded as failed, done ones as skipped; jobs for the rest."""
    result, jobs, seen = SweepRun(), [], set()
    for cell in cells:
        if cell.session is None:
            result.outcomes[cell.id] = failed(cell.error or "invalid session")
        elif cell.id not in result.outcomes and cell.id not in seen:
            seen.add(cell.id)
            done = read_outcome(runs / cell.id)
            if done is not None:
                result.outcomes[cell.id] = done
                result.skipped += 1
            else:
                jobs.append(CellJob(cell.id, session_json(cell.session), str(runs),
                                    str(base_dir)))
    return result, jobs


def wants_gpu(job: CellJob) -> bool:
    """An evolve task asking for ``"device": "cuda"`` (``"auto"`` takes what it gets)."""
    task = json.loads(job.session).get("task", {})
    return bool(task.get("kind") == "evolve" and task.get("device") == "cuda")


def ray_task(runner: CellRunner, job: CellJob) -> tuple[dict[str, Any], Files]:
    """The body of a Ray task: run ``job`` in a scratch folder on this node; return its
    outcome and its folder's files (none when it left no folder)."""
    torch.set_num_threads(1)  # as a local worker: the tasks are the parallelism
    scratch = Path(tempfile.mkdtemp(prefix=f"chainlab-{job.id}-"))
    try:
        outcome = runner(replace(job, runs=str(scratch)))
        folder = scratch / job.id
        files = {path.relative_to(folder).as_posix(): path.read_bytes()
                 for path in sorted(folder.rglob("*")) if path.is_file()}
        return outcome, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _collect(ref: ObjectRef[Any], runs: Path, job: CellJob) -> dict[str, Any]:
    """The finished task's outcome, its files written into ``runs/<id>``."""
    import ray
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

    try:
        outcome, files = ray.get(ref)
    except TaskCancelledError:
        return {"status": "cancelled"}
    except WorkerCrashedError:
        return failed(DIED)
    except RayTaskError as error:  # the runner raised: name its exception, not Ray's
        cause = error.cause if isinstance(error.cause, BaseException) else error
        return failed(f"{type(cause).__name__}: {cause}")
    except ray.exceptions.RayError as error:  # out of memory, a lost node, ...
        return failed(f"{type(error).__name__}: {first_line(error)}")
    if files:
        try:
            write_cell(runs, job.id, files)
        except (OSError, ValueError) as error:
            return failed(f"writing {runs / job.id}: {error}", outcome.get("seconds"))
    return dict(outcome)


def write_cell(runs: Path, cell_id: str, files: Files) -> None:
    """Write ``files`` into a staging folder and rename it to ``runs/<cell_id>``, as
    :func:`engine.sweeps.worker.run_cell` does: ``result.json`` existing means done."""
    staging = Path(tempfile.mkdtemp(prefix=f".{cell_id}.staging-", dir=runs))
    try:
        for name, data in files.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts:
                raise ValueError(f"a task returned a file outside its folder: {name!r}")
            path = staging.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        target = runs / cell_id
        if target.exists():  # a folder without result.json: not a finished cell
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


