"""OpenES or PSO over the chain's float weights in the window, beside the GA's
:class:`gui.evolution_run.EvolutionRun` and driven the same way.

A run is set up by :func:`engine.evolution.strategies.prepare_strategy`, as headless
runs are, on a copy of the window's chain; its generator runs on a worker through the
:class:`RunSlot`. Start begins a new run, Continue extends a paused one, Stop ends it
keeping its history on screen, Reset clears. As with the GA, the run never writes the
window's chain: "Use the best in the chain" loads the best float weights found (an edit
the user chose, so a worse later run never replaces better weights by itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.strategies import StrategySetup, load_weights, prepare_strategy
from engine.evolution.strategy_record import StrategyGeneration
from gui.live_session import LiveSession
from gui.run_history import extend_history, strategy_numbers
from gui.run_slot import RunSlot
from gui.worker import split_extras, with_extras

NAMES = {"openes": "OpenES", "pso": "PSO"}
USE_BEST = "\u201cUse the best in the chain\u201d loads it"


class StrategyRun(QObject):
    """Signals, as :class:`gui.evolution_run.EvolutionRun`'s: run_started(int),
    generations_arrived(list[StrategyGeneration]), history_cleared(),
    boundary_computed(object), message_posted(str), paused_run_dropped()."""

    kind = "evolution"  # the slot's name for it: one of the two evolution runs
    run_started = Signal(int)
    paused_run_dropped = Signal()
    generations_arrived = Signal(list)
    history_cleared = Signal()
    boundary_computed = Signal(object)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot,
                 task_of: Callable[[], EvolveTask],
                 numbers: Callable[[], int] | None = None) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self._task_of = task_of  # the one evolve task, owned by the state's GA run
        self.history: list[StrategyGeneration] = []
        self.run_number = 0
        self._numbers = numbers or (lambda: self.run_number + 1)  # the next run's number
        self.setup: StrategySetup | None = None
        self._generations: Iterator[StrategyGeneration] | None = None  # a paused run's
        self._boundary_chain: Chain | None = None  # the worker's, for the best's boundary
        self._note = ""  # said with the run's messages: islands ignored

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
        """One generation: of the paused run, or generation 0 of a new one."""
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
        """End the run: its state is dropped, its history stays on screen."""
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
        ignored = task.islands
        if ignored > 1:  # islands are the GA's; the form hides them for a float algorithm
            task = task.model_copy(update={"islands": 1})
        chain = live.chain.copy()
        try:
            inputs, targets = live.data_tensors()
            setup = prepare_strategy(chain, inputs, targets, live.session.loss, task,
                                     live.session.seed)
        except SessionError as error:
            self.message_posted.emit(f"cannot evolve: {error}")
            return None
        self.setup = setup
        if setup.device_note:
            self.message_posted.emit(setup.device_note)
        self._boundary_chain = chain.copy()
        self._generations = setup.generations()
        self.history = []
        self.run_number = self._numbers()
        self.run_started.emit(self.run_number)
        self._note = "" if ignored <= 1 else (f" ({NAMES[task.algorithm]} evolves one "
                                               f"population: {ignored} islands are the GA's)")
        if self._note:
            self.message_posted.emit(self._note.strip(" ()"))
        source = self._generations if limit is None else _take(self._generations, limit)
        return self._run_items(source)

    def _run_items(self, generations: Iterator[StrategyGeneration] | None
                   ) -> Iterator[Any] | None:
        """Generations, plus the best weights' decision boundary computed beside them on
        the worker thread (on a chain of the worker's own)."""
        if generations is None:
            return None
        extent, loss = self.live.boundary_extent(), self.live.session.loss
        chain = self._boundary_chain
        if extent is None or chain is None:
            return generations

        def boundary(record: StrategyGeneration) -> np.ndarray:
            load_weights(chain, record.best_weights)
            return decision_values(chain, loss, extent, LIVE_RESOLUTION)

        return with_extras(generations, boundary)

    def best_chain(self) -> Chain | None:
        """A copy of the window's chain holding the best float weights found."""
        if not self.history:
            return None
        chain = self.live.chain.copy()
        load_weights(chain, self.history[-1].best_weights)
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
            extend_history(self.history, records, strategy_numbers)
            self.generations_arrived.emit(records)

    def on_ended(self, error: str | None) -> None:
        name = NAMES.get(self.setup.task.algorithm, "") if self.setup else ""
        if error is not None:
            self.message_posted.emit(f"{name} failed: {error}")
            self._generations = None
            return
        if not self.history:
            return
        last, note = self.history[-1], self._note
        if self.finished():
            self._generations = None
            self.message_posted.emit(
                f"{name} run {self.run_number} finished after {last.generation} "
                f"generations, best loss {last.best:.4g}; {USE_BEST}{note}")
        elif self._generations is None:
            self.message_posted.emit(
                f"{name} run {self.run_number} stopped at generation {last.generation}, "
                f"best loss {last.best:.4g}; {USE_BEST}{note}")
        else:
            self.message_posted.emit(
                f"{name} run {self.run_number} paused at generation {last.generation}, "
                f"best loss {last.best:.4g}; {USE_BEST}{note}")


def _take(items: Iterator[StrategyGeneration] | None,
          count: int) -> Iterator[StrategyGeneration]:
    """The next ``count`` items of a shared iterator, leaving the rest in it."""
    assert items is not None
    for _ in range(count):
        item = next(items, None)
        if item is None:
            return
        yield item
