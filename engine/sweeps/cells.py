"""A sweep's cells: every combination of its axes' values (or a random sample of them),
each with the session it resolves to and an id derived from that session's content.

The id is the first 12 hex digits of the SHA-256 of the resolved session's canonical
JSON (sorted keys, no spaces; an evolve task's ignored settings at their defaults): the
same session always gets the same folder, so a rerun finds the cells it already ran
whatever order or sample produced them, and cells that differ only in a setting their
run ignores (OpenES's sigma in a PSO cell) share one run. A combination
that makes an invalid session has no session; its id hashes the values instead.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.session import Session, SessionError
from engine.data.tasks import EvolveTask
from engine.sweeps.axes import apply_values
from engine.sweeps.spec import RandomSample, Sweep, SweepError

ID_DIGITS = 12


@dataclass(frozen=True)
class Cell:
    """One combination of axis values and what it resolves to.

    ``session`` is None when the values make an invalid session; ``error`` then says why,
    starting with the failing field's path.
    """

    id: str
    values: tuple[tuple[str, Any], ...]  # (axis key, value) in the sweep file's order
    session: Session | None
    error: str | None = None

    def value_map(self) -> dict[str, Any]:
        return dict(self.values)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def session_id(session: Session) -> str:
    """The id of a cell running ``session``: a hash of its canonical JSON, with the
    settings an evolve task ignores at their defaults (:meth:`EvolveTask.effective`), so
    that cells differing only there share one run."""
    if isinstance(session.task, EvolveTask):
        session = session.model_copy(update={"task": session.task.effective()})
    text = canonical_json(session.model_dump(mode="json", exclude_none=True))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_DIGITS]


def expand(sweep: Sweep) -> list[Cell]:
    """The sweep's cells: the whole grid in row-major order (the last axis fastest), or
    ``sample.random`` distinct grid cells drawn with the sweep's seed, in grid order.

    Raises
    ------
    SweepError
        ``sample.random`` asks for more cells than the grid has.
    """
    axes = sweep.spec.axes
    sizes = [len(values) for values in axes.values()]
    total = math.prod(sizes)
    sample = sweep.spec.sample
    if isinstance(sample, RandomSample):
        if sample.random > total:
            raise SweepError("sample.random", f"the grid has {total} cells, cannot draw "
                             f"{sample.random} distinct ones")
        rng = np.random.default_rng(sweep.spec.seed)
        chosen = sorted(int(i) for i in rng.choice(total, size=sample.random, replace=False))
        combos = [_combination(index, sizes) for index in chosen]
    else:
        combos = [list(c) for c in itertools.product(*(range(n) for n in sizes))]
    keys = list(axes)
    return [resolve(sweep, tuple((key, axes[key][i]) for key, i in zip(keys, combo,
                                                                      strict=True)))
            for combo in combos]


def resolve(sweep: Sweep, values: tuple[tuple[str, Any], ...]) -> Cell:
    """One cell: ``values`` applied to the base session (shorthands first, then dotted
    paths, each in the sweep file's order: see :func:`apply_values`)."""
    try:
        session = apply_values(sweep.base, dict(values))
    except SessionError as error:
        digest = hashlib.sha256(canonical_json([list(v) for v in values]).encode())
        return Cell("invalid-" + digest.hexdigest()[:ID_DIGITS - 4], values, None, str(error))
    return Cell(session_id(session), values, session)


def shared_runs_notice(cells: list[Cell]) -> str:
    """"" when every cell's session differs; else a sentence saying how many cells run
    the same session as an earlier one (they share its run and its results) and which
    axis changed nothing for the first such pair: a value the session ignores, like
    task.openes.sigma for a PSO task."""
    first_of: dict[str, Cell] = {}
    shared: list[tuple[Cell, Cell]] = []
    for cell in cells:
        if cell.session is None:
            continue
        if cell.id in first_of:
            shared.append((first_of[cell.id], cell))
        else:
            first_of[cell.id] = cell
    if not shared:
        return ""
    earlier, later = shared[0]
    values = earlier.value_map()
    changed = [f"{key} = {canonical_json(value)}" for key, value in later.values
               if canonical_json(value) != canonical_json(values.get(key))]
    fixed = [f"{key} = {canonical_json(value)}" for key, value in later.values
             if canonical_json(value) == canonical_json(values.get(key))]
    where = f" where {', '.join(fixed)}" if fixed else ""
    return (f"{len(shared)} of {len(cells)} cells run the same session as another cell and "
            f"share its run: e.g. {', '.join(changed)} changes nothing{where}")


def _combination(index: int, sizes: list[int]) -> list[int]:
    """Grid cell ``index`` (row-major) as one value index per axis."""
    combo = []
    for size in reversed(sizes):
        index, rest = divmod(index, size)
        combo.append(rest)
    return combo[::-1]
