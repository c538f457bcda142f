"""Histories of long runs kept in bounded memory.

A training run of 10⁷ steps kept as one record per step took ~10 KB a step (≈ 100 GB).
Here one number per step (the loss, or the GA's best loss) is kept for every step in a
float64 array (8 bytes a step: 80 MB at 10⁷), and the full rows (per-layer series,
population statistics) at a resolution that halves whenever ``MAX_ROWS`` would be
exceeded: every step while there are at most ``MAX_ROWS``, then every 2nd, 4th, …
step, always from step ``first`` on. Runs of up to ``MAX_ROWS`` steps keep everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np


class _Generation(Protocol):
    @property
    def generation(self) -> int: ...
    @property
    def best(self) -> float: ...


Record = TypeVar("Record", bound=_Generation)

MAX_ROWS = 10_000


class EveryStep:
    """One float per step in a growing float64 array (capacity doubles)."""

    def __init__(self) -> None:
        self._values = np.empty(1024)
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self._values):
            self._values = np.concatenate([self._values, np.empty(len(self._values))])
        self._values[self.size] = value
        self.size += 1

    def values(self) -> np.ndarray:
        return self._values[:self.size]


class ThinnedRows:
    """Rows kept for steps ``first``, ``first + stride``, … with ``stride`` a power of
    two that doubles (dropping every other kept row) when ``max_rows`` would be
    exceeded."""

    def __init__(self, max_rows: int = MAX_ROWS, first: int = 1) -> None:
        self.max_rows, self.first = max_rows, first
        self.stride = 1
        self.rows: list[list[float]] = []

    def offer(self, step: int, row: list[float] | None = None) -> bool:
        """Whether ``step`` is kept at the current stride; with ``row``, keep it."""
        if (step - self.first) % self.stride:
            return False
        if row is not None:
            self.rows.append(row)
            if len(self.rows) > self.max_rows:
                self.rows = self.rows[::2]
                self.stride *= 2
        return True

    def close(self, step: int, row: list[float]) -> None:
        """Keep the last step's row too, whatever the stride (the run's final state)."""
        if not self.rows or self.rows[-1][0] != step:
            self.rows.append(row)


@dataclass
class GenerationLog(Generic[Record]):
    """What a headless evolution run kept: every generation's best, the thinned rows,
    the last record and whether the run was stopped early."""

    best: EveryStep
    rows: ThinnedRows
    last: Record
    interrupted: bool


def log_generations(records: Iterable[Record], row: Callable[[Record], list[float]],
                    total: int, progress: Callable[[int, int], None] | None,
                    stop: Callable[[], bool]) -> GenerationLog[Record]:
    """Run ``records`` (GA, island or strategy records) to the end or until
    ``stop()`` answers True before generation ``total``; the rows are closed on the last
    record. ``progress(generation, total)`` after each."""
    best, rows = EveryStep(), ThinnedRows(first=0)
    last: Record | None = None
    interrupted = False
    for record in records:
        last = record
        generation = record.generation
        best.append(record.best)
        if rows.offer(generation):
            rows.offer(generation, row(record))
        if progress is not None:
            progress(generation, total)
        if generation < total and stop():
            interrupted = True
            break
    assert last is not None  # every generator yields generation 0
    rows.close(last.generation, row(last))
    return GenerationLog(best, rows, last, interrupted)
