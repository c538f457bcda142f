"""One sweep cell, run in a worker process by the ordinary headless runner.

The cell is staged in a hidden folder beside ``runs/<id>`` and renamed into place when
complete, so ``runs/<id>/result.json`` existing means the cell is done. Workers ignore
SIGINT and SIGTERM (a Ctrl-C in the terminal reaches the whole process group): the
parent decides, and sets the shared stop event to cancel the cells still running.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from engine.core.processes import leave_interrupts_to_the_parent
from engine.data.session import Session, load_session, parse_session, session_json
from engine.headless.results import write_outputs
from engine.headless.runner import run_session

RESULT = "result.json"
TIMING = "sweep_cell.json"  # the cell's seconds, beside its usual outputs


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class CellJob:
    id: str
    session: str  # the resolved session's JSON
    runs: str  # DIR/runs
    base_dir: str  # where the base session's relative paths start


_STOP: list[StopFlag] = []


def init_worker(stop: StopFlag) -> None:
    """The pool's initializer: the parent handles signals; ``stop`` cancels cells.

    One torch thread per worker: the workers are the parallelism, and intra-op threads
    of several processes spinning on the same cores slow every one of them down.
    """
    leave_interrupts_to_the_parent()
    torch.set_num_threads(1)
    _STOP[:] = [stop]


def _stopped() -> bool:
    return bool(_STOP) and _STOP[0].is_set()


def run_cell(job: CellJob) -> dict[str, Any]:
    """Run ``job`` into ``runs/<id>``; returns its outcome (see :func:`outcome_of`), or
    ``{"status": "cancelled"}`` when the stop flag ended it early (nothing is kept)."""
    start = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{job.id}.staging-", dir=job.runs))
    try:
        session = parse_session(job.session)
        (staging / "session.json").write_text(session_json(session))
        output = run_session(session, Path(job.base_dir), None, _stopped)
        if output.result.get("interrupted"):
            shutil.rmtree(staging, ignore_errors=True)
            return {"status": "cancelled"}
        write_outputs(output, staging, None)
        seconds = time.perf_counter() - start
        (staging / TIMING).write_text(json.dumps({"seconds": seconds}) + "\n")
        target = Path(job.runs) / job.id
        if target.exists():  # a folder without result.json: not a finished cell
            shutil.rmtree(target)
        staging.rename(target)
        return outcome_of(output.result, seconds)
    except Exception as error:  # the cell fails, the sweep goes on
        shutil.rmtree(staging, ignore_errors=True)
        return failed(f"{type(error).__name__}: {error}", time.perf_counter() - start)


def failed(error: str, seconds: float | None = None) -> dict[str, Any]:
    return {"status": "failed", "loss": None, "grad_ratio": None, "best_loss": None,
            "seconds": seconds, "error": error}


def read_outcome(folder: Path) -> dict[str, Any] | None:
    """The outcome of a finished cell's folder, None when it has no readable result (a
    file missing, cut short, or damaged into JSON of another shape): the cell runs
    again."""
    try:
        result = json.loads((folder / RESULT).read_text())
        timing = json.loads((folder / TIMING).read_text())
        return outcome_of(result, timing.get("seconds"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


def outcome_of(result: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """``status``, ``loss``, ``grad_ratio``, ``best_loss``, ``seconds``, ``error`` of a
    cell from its ``result.json``: failed when the final loss is not finite or training
    stopped on a non-finite value."""
    loss = result.get("loss")
    best = result.get("history", {}).get("best") if result.get("task") == "evolve" else None
    outcome = {"status": "ok", "loss": loss, "grad_ratio": grad_ratio(result["layers"]),
               "best_loss": best[-1] if best else None, "seconds": seconds, "error": None}
    problem = result.get("training_stopped") or (result.get("nonfinite") or {}).get("message")
    if problem is None and (loss is None or not math.isfinite(loss)):
        problem = f"the final loss is {loss}"
    if problem:
        outcome.update(status="failed", error=str(problem))
    return outcome


def cell_outcome(folder: Path) -> tuple[Session, dict[str, Any]]:
    """What a finished cell's folder ended with: its ``session.json`` (the starting point)
    with the network replaced by ``result.json``'s (the trained weights, or the best
    evolved individual; a step changes nothing), and the result itself.

    Raises
    ------
    SessionError
        The folder's session cannot be read or the outcome's network does not fit it.
    OSError, ValueError
        ``result.json`` is missing or not JSON.
    """
    session = load_session(folder / "session.json")
    result = json.loads((folder / RESULT).read_text())
    if "network" in result:  # step cells: the pass did not change the network
        document = session.model_dump(mode="json", exclude_none=True)
        document["network"] = result["network"]
        session = parse_session(json.dumps(document))
    return session, result


def grad_ratio(layers: list[dict[str, Any]]) -> float | None:
    """‖dL/dW‖ of the first linear layer over the last's (residual blocks' included),
    from the final pass; None when there are fewer than two or the last's is 0."""
    norms = [math.sqrt(sum(v * v for row in entry["grad_weight"] for v in row))
             for entry in _linear_entries(layers)]
    if len(norms) < 2 or norms[-1] == 0 or not all(map(math.isfinite, norms)):
        return None
    return norms[0] / norms[-1]


def _linear_entries(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for entry in layers:
        if entry["type"] == "linear" and entry.get("grad_weight") is not None:
            found.append(entry)
        found += _linear_entries(entry.get("layers", []))
    return found
