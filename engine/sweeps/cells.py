"""A sweep's cells: every combination of its axes' values (or a random sample of them),
each with the session it resolves to and an id derived from that session's content.

The id is the first 12 hex digits of the SHA-256 of the resolved session's canonical
JSON (sorted keys, no spaces): the same session always gets the same folder, so a rerun
finds the cells it already ran whatever order or sample produced them. A combination
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
    """The id of a cell running ``session``: a hash of its canonical JSON."""
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


def _combination(index: int, sizes: list[int]) -> list[int]:
    """Grid cell ``index`` (row-major) as one value index per axis."""
    combo = []
    for size in reversed(sizes):
        index, rest = divmod(index, size)
        combo.append(rest)
    return combo[::-1]
