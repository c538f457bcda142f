"""The GA with ``task.islands`` > 1 in the window: K populations side by side with ring
migration, by :func:`engine.evolution.islands.evolve_islands`, beside the one-population
GA and driven the same way (:class:`gui.generation_run.GenerationRun`).

A run is set up as the headless runner sets it up (:func:`engine.evolution.setup.
prepare_evolution`, then :func:`engine.evolution.islands.island_plan`) on a copy of the
window's chain; the islands run one after another in the worker thread (``workers=0``:
no processes to start for a window's run, and the same history as any other way).
"Use the best in the chain" loads the global best genome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from engine.core.chain import Chain
from engine.data.tasks import EvolveTask
from engine.evolution.genome import load_genome
from engine.evolution.islands import IslandGeneration, evolve_islands, island_plan
from engine.evolution.setup import EvolutionSetup, prepare_evolution
from gui.generation_run import GenerationRun
from gui.live_session import LiveSession
from gui.run_history import island_numbers
from gui.run_slot import RunSlot


def islands_text(task: EvolveTask) -> str:
    """"2 islands, 2 migrants every 5 generations" (or no migration)."""
    migration = task.migration
    if migration.count == 0:
        return f"{task.islands} islands, no migration"
    return (f"{task.islands} islands, {migration.count} migrant"
            f"{'s' if migration.count != 1 else ''} every {migration.every} generation"
            f"{'s' if migration.every != 1 else ''}")


class IslandRun(GenerationRun):
    """Signals: those of :class:`gui.generation_run.GenerationRun`, with
    :class:`IslandGeneration` records."""

    def __init__(self, live: LiveSession, slot: RunSlot, task_of: Callable[[], EvolveTask],
                 numbers: Callable[[], int]) -> None:
        super().__init__(live, slot, numbers)
        self._task_of = task_of  # the one evolve task, owned by the state's GA run

    @property
    def task(self) -> EvolveTask:
        return self._task_of()

    def _prepare(self, chain: Chain, inputs: torch.Tensor,
                 targets: torch.Tensor) -> EvolutionSetup:
        return prepare_evolution(chain, inputs, targets, self.live.session.loss, self.task,
                                 self.live.session.seed)

    def _generations_of(self, setup: EvolutionSetup) -> Iterator[IslandGeneration]:
        task = setup.task
        return evolve_islands(island_plan(setup), task.islands, task.migration.every,
                              task.migration.count, workers=0)

    def _announce(self, setup: EvolutionSetup) -> None:
        self.message_posted.emit(f"GA run {self.run_number}: {islands_text(setup.task)}"
                                 + (f"; {setup.device_note}" if setup.device_note else ""))

    def _load_best(self, chain: Chain, record: IslandGeneration) -> None:
        load_genome(chain, torch.from_numpy(record.best_genome.copy()), self.setup.scales)

    def thin(self, record: IslandGeneration) -> IslandGeneration:
        return island_numbers(record)

    def title(self) -> str:
        islands = len(self.history[-1].islands) if self.history else self.task.islands
        return f"GA run {self.run_number} ({islands} islands)"

    def failure_name(self) -> str:
        return "GA (islands)"
