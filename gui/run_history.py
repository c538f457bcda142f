"""A live evolution run's history in the window: every generation's numbers, the arrays
of the latest generation only.

The window's runs (GA, islands, OpenES/PSO) go on until stopped, and each record holds
arrays: a GA record its best genome, a 48-row sample and a lineage (about 16 KB on the
common task), a float strategy's record its best weights. Keeping them all grew the
window by a gigabyte every ~65 000 GA generations, a minute or two of a small
population. Only the latest record's arrays are ever shown or loaded ("Use the best in
the chain", the genome view), so older records keep their numbers and drop the arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np

from engine.evolution.ga import GenerationStats
from engine.evolution.islands import IslandGeneration
from engine.evolution.strategy_record import StrategyGeneration

Record = TypeVar("Record")


def extend_history(history: list[Record], records: Sequence[Record],
                   without_arrays: Callable[[Record], Record]) -> None:
    """Append ``records`` to ``history``; only the new last record keeps its arrays."""
    if not records:
        return
    if history:
        history[-1] = without_arrays(history[-1])
    history.extend(without_arrays(record) for record in records[:-1])
    history.append(records[-1])


def ga_numbers(stats: GenerationStats) -> GenerationStats:
    """The record without its genomes (empty arrays of the same dtype and width)."""
    genome = stats.sample.shape[1] if stats.sample.ndim == 2 else 0
    return replace(stats, best_genome=stats.best_genome[:0],
                   sample=np.empty((0, genome), dtype=stats.sample.dtype), lineage=None)


def island_numbers(record: IslandGeneration) -> IslandGeneration:
    return replace(record, islands=tuple(ga_numbers(stats) for stats in record.islands))


def strategy_numbers(record: StrategyGeneration) -> StrategyGeneration:
    return replace(record, best_weights=record.best_weights[:0])
