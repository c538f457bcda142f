"""The GA with ``task.islands`` > 1 in the window: K populations side by side with ring
migration, by :func:`engine.evolution.islands.evolve_islands`, beside the one-population
:class:`gui.evolution_run.EvolutionRun` and driven the same way.

A run is set up as the headless runner sets it up (:func:`engine.evolution.setup.
prepare_evolution`, then :func:`engine.evolution.islands.island_plan`) on a copy of the
window's chain; the islands run one after another in the worker thread (``workers=0``:
no processes to start for a window's run, and the same history as any other way).
Start begins a new run, Continue extends a paused one, Stop ends it keeping its history
on screen, Reset clears; the chain is never written by the run: "Use the best in the
chain" loads the global best genome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.genome import load_genome
from engine.evolution.islands import IslandGeneration, evolve_islands, island_plan
from engine.evolution.setup import EvolutionSetup, prepare_evolution
from gui.live_session import LiveSession
from gui.run_history import extend_history, island_numbers
from gui.run_slot import RunSlot
from gui.worker import split_extras, with_extras

USE_BEST = "\u201cUse the best in the chain\u201d loads it"


def islands_text(task: EvolveTask) -> str:
    """"2 islands, 2 migrants every 5 generations" (or no migration)."""
    migration = task.migration
    if migration.count == 0:
        return f"{task.islands} islands, no migration"
    return (f"{task.islands} islands, {migration.count} migrant"
            f"{'s' if migration.count != 1 else ''} every {migration.every} generation"
            f"{'s' if migration.every != 1 else ''}")


class IslandRun(QObject):
    """Signals, as :class:`gui.evolution_run.EvolutionRun`'s: run_started(int),
    generations_arrived(list[IslandGeneration]), history_cleared(),
    boundary_computed(object), message_posted(str), paused_run_dropped()."""

    kind = "evolution"  # the slot's name for it: one of the evolution runs
    run_started = Signal(int)
    paused_run_dropped = Signal()
    generations_arrived = Signal(list)
    history_cleared = Signal()
    boundary_computed = Signal(object)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot, task_of: Callable[[], EvolveTask],
                 numbers: Callable[[], int]) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self._task_of = task_of  # the one evolve task, owned by the state's GA run
        self._numbers = numbers  # the session's next run number
        self.history: list[IslandGeneration] = []
        self.run_number = 0
        self.setup: EvolutionSetup | None = None
        self._generations: Iterator[IslandGeneration] | None = None  # a paused run's
        self._boundary_chain: Chain | None = None  # the worker's, for the best's boundary

    @property
    def task(self) -> EvolveTask:
        return self._task_of()

    # -- running ---------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.slot.is_running(self)

    def can_continue(self) -> bool:
        return self._generations is not None and not self.is_running()

    def start(self) -> None:
        """Begin a new run (a paused one is dropped) and run it until paused."""
        self.slot.start(self, lambda: self._new_run(limit=None))

    def resume(self) -> None:
        if self.can_continue():
            self.slot.start(self, lambda: self._run_items(self._generations))

    def step(self) -> None:
        """One generation of every island: of the paused run, or generation 0 of a new one."""
        if self.is_running():
            return
        if self._generations is not None:
            self.slot.start(self, lambda: self._run_items(_take(self._generations, 1)))
        else:
            self.slot.start(self, lambda: self._new_run(limit=1))

    def pause(self) -> None:
        if self.is_running():
            self.slot.stop()

    def stop(self) -> None:
        """End the run: the islands are dropped, the history stays on screen."""
        had_paused_run = self._generations is not None
        self._generations = None
        self.pause()
        if had_paused_run:
            self.paused_run_dropped.emit()

    def reset(self) -> None:
        """Drop the run and its history (the caller has stopped any run)."""
        assert not self.is_running(), "reset while running: stop the slot first"
        self._generations = None
        self.setup = None
        self.history = []
        self.history_cleared.emit()

    def _new_run(self, limit: int | None) -> Iterator[Any] | None:
        live, task = self.live, self.task
        chain = live.chain.copy()  # the worker reads the architecture while it runs
        try:
            inputs, targets = live.data_tensors()
            setup = prepare_evolution(chain, inputs, targets, live.session.loss, task,
                                      live.session.seed)
        except SessionError as error:
            self.message_posted.emit(f"cannot evolve: {error}")
            return None
        self.setup = setup
        self._boundary_chain = chain.copy()
        self._generations = evolve_islands(island_plan(setup), task.islands,
                                           task.migration.every, task.migration.count,
                                           workers=0)
        self.history = []
        self.run_number = self._numbers()
        self.run_started.emit(self.run_number)
        self.message_posted.emit(f"GA run {self.run_number}: {islands_text(task)}"
                                 + (f"; {setup.device_note}" if setup.device_note else ""))
        source = self._generations if limit is None else _take(self._generations, limit)
        return self._run_items(source)

    def _run_items(self, generations: Iterator[IslandGeneration] | None
                   ) -> Iterator[Any] | None:
        """Generations, plus the global best's decision boundary computed beside them on
        the worker thread (on a chain of the worker's own)."""
        if generations is None:
            return None
        extent, loss = self.live.boundary_extent(), self.live.session.loss
        chain, setup = self._boundary_chain, self.setup
        if extent is None or chain is None or setup is None:
            return generations

        def boundary(record: IslandGeneration) -> np.ndarray:
            load_genome(chain, torch.from_numpy(record.best_genome.copy()), setup.scales)
            return decision_values(chain, loss, extent, LIVE_RESOLUTION)

        return with_extras(generations, boundary)

    def best_chain(self) -> Chain | None:
        """A copy of the window's chain with the global best genome's decoded weights."""
        if not self.history or self.setup is None:
            return None
        chain = self.live.chain.copy()
        genome = torch.from_numpy(self.history[-1].best_genome.copy())
        load_genome(chain, genome, self.setup.scales)
        return chain

    def finished(self) -> bool:
        return bool(self.history) and self.setup is not None \
            and self.history[-1].generation >= self.setup.task.generations

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        records, boundaries = split_extras(items)
        if boundaries:
            self.boundary_computed.emit(boundaries[-1])
        if records:
            extend_history(self.history, records, island_numbers)
            self.generations_arrived.emit(records)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.message_posted.emit(f"GA (islands) failed: {error}")
            self._generations = None
            return
        last = self.history[-1] if self.history else None
        if last is None or self.setup is None:
            return
        islands = len(last.islands)
        if self.finished():
            self._generations = None
            self.message_posted.emit(
                f"GA run {self.run_number} ({islands} islands) finished after "
                f"{last.generation} generations, best loss {last.best:.4g}; {USE_BEST}")
        elif self._generations is None:
            self.message_posted.emit(
                f"GA run {self.run_number} ({islands} islands) stopped at generation "
                f"{last.generation}, best loss {last.best:.4g}; {USE_BEST}")
        else:
            self.message_posted.emit(
                f"GA run {self.run_number} ({islands} islands) paused at generation "
                f"{last.generation}, best loss {last.best:.4g}")


def _take(items: Iterator[IslandGeneration] | None,
          count: int) -> Iterator[IslandGeneration]:
    """The next ``count`` items of a shared iterator, leaving the rest in it."""
    assert items is not None
    for _ in range(count):
        item = next(items, None)
        if item is None:
            return
        yield item
