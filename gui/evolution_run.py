"""Population evolution in the window: settings, the running GA, its history, and the
comparison with SGD.

A run is set up by :func:`engine.evolution.setup.prepare_evolution`, as headless runs
are, on a copy of the window's chain, and its generator runs on a worker through the
:class:`RunSlot`. Start begins a new run (run 1, 2, …; the plots show the current one),
Continue extends a paused one, Stop ends it keeping its history on screen, Reset clears.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.data.experiment import build_chain
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.comparison import QuantisationReport, quantisation_report, sgd_curve
from engine.evolution.ga import GenerationStats
from engine.evolution.genome import load_genome
from engine.evolution.setup import EvolutionSetup, layer_scales, prepare_evolution
from gui.live_session import LiveSession
from gui.run_history import extend_history, ga_numbers
from gui.run_slot import RunSlot
from gui.worker import split_extras, with_extras


class EvolutionRun(QObject):
    """Signals: run_started(int): a new run (its number) began; generations_arrived(list);
    history_cleared(); boundary_computed(object); message_posted(str);
    paused_run_dropped(): Stop ended a paused run (Continue has nothing left to extend)."""

    kind = "evolution"
    run_started = Signal(int)
    paused_run_dropped = Signal()
    generations_arrived = Signal(list)
    history_cleared = Signal()
    boundary_computed = Signal(object)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self.task = EvolveTask()
        self.history: list[GenerationStats] = []
        self.run_number = 0
        # the session's next run number (the state numbers all algorithms' runs together)
        self.next_number: Callable[[], int] = lambda: self.run_number + 1
        self.setup: EvolutionSetup | None = None
        self._generations: Iterator[GenerationStats] | None = None  # a paused run's
        self._boundary_chain: Chain | None = None  # the worker's, for the best's boundary
        self.comparison = SgdComparison(live, slot)

    def set_task(self, task: EvolveTask) -> None:
        """New settings; a run in progress keeps its own until a new Start."""
        self.task = task

    def scales(self) -> list[float]:
        return layer_scales(self.live.chain, self.task)

    # -- running ---------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.slot.is_running(self)

    def can_continue(self) -> bool:
        """A paused run exists that Continue would extend."""
        return self._generations is not None and not self.is_running()

    def start(self) -> None:
        """Begin a new run (a paused one is dropped) and run it until paused."""
        self.slot.start(self, lambda: self._new_run(limit=None))

    def resume(self) -> None:
        """Continue the paused run."""
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
        """End the run: the population is dropped, its history stays on screen."""
        had_paused_run = self._generations is not None
        self._generations = None  # first: the slot's "changed" must see no paused run
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
        live = self.live
        chain = live.chain.copy()  # the worker reads the architecture while it runs
        try:
            inputs, targets = live.data_tensors()
            setup = prepare_evolution(chain, inputs, targets, live.session.loss, self.task,
                                      live.session.seed)
        except SessionError as error:
            self.message_posted.emit(f"cannot evolve: {error}")
            return None
        self.setup = setup
        if setup.device_note:
            self.message_posted.emit(setup.device_note)
        self._boundary_chain = chain.copy()
        self._generations = setup.generations()  # task.generations of them
        self.history = []
        self.run_number = self.next_number()
        self.run_started.emit(self.run_number)
        source = self._generations if limit is None else _take(self._generations, limit)
        return self._run_items(source)

    def _run_items(self, generations: Iterator[GenerationStats] | None) -> Iterator[Any] | None:
        """Generations, plus the best individual's decision boundary computed beside them
        on the worker thread (on a chain of the worker's own)."""
        if generations is None:
            return None
        extent, loss = self.live.boundary_extent(), self.live.session.loss
        chain, setup = self._boundary_chain, self.setup
        if extent is None or chain is None or setup is None:
            return generations

        def boundary(stats: GenerationStats) -> np.ndarray:
            load_genome(chain, torch.from_numpy(stats.best_genome), setup.scales)
            return decision_values(chain, loss, extent, LIVE_RESOLUTION)

        return with_extras(generations, boundary)

    def best_chain(self) -> Chain | None:
        """A copy of the window's chain with the best individual's decoded weights."""
        if not self.history or self.setup is None:
            return None
        chain = self.live.chain.copy()
        load_genome(chain, torch.from_numpy(self.history[-1].best_genome), self.setup.scales)
        return chain

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        stats, boundaries = split_extras(items)
        if boundaries:
            self.boundary_computed.emit(boundaries[-1])
        if stats:
            extend_history(self.history, stats, ga_numbers)
            self.generations_arrived.emit(stats)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.message_posted.emit(f"evolution failed: {error}")
            self._generations = None
        elif self.finished():
            self._generations = None
            self.message_posted.emit(f"GA run {self.run_number} finished after "
                                     f"{self.history[-1].generation} generations, best loss "
                                     f"{self.history[-1].best:.4g}; \u201cUse the best in "
                                     "the chain\u201d loads it")
        elif self._generations is None and self.history:
            self.message_posted.emit(f"GA run {self.run_number} stopped at generation "
                                     f"{self.history[-1].generation}, best loss "
                                     f"{self.history[-1].best:.4g}; \u201cUse the best in "
                                     "the chain\u201d loads it")

    def finished(self) -> bool:
        """The current run reached its number of generations."""
        return bool(self.history) and self.setup is not None \
            and self.history[-1].generation >= self.setup.task.generations

    # -- beside the GA ---------------------------------------------------------------------

    def quantisation(self) -> QuantisationReport | None:
        """What snapping the window's chain to the 4-bit grid does (computed on copies)."""
        try:
            inputs, targets = self.live.data_tensors()
        except SessionError as error:
            self.message_posted.emit(f"cannot compute: {error}")
            return None
        return quantisation_report(self.live.chain, self.scales(), inputs, targets,
                                   self.live.session.loss)


class SgdComparison(QObject):
    """Full-batch SGD from the chain's initialisation for as long as the GA has run.
    Signals: points_arrived(list[SgdPoint]), message_posted(str)."""

    kind = "comparison"
    points_arrived = Signal(list)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot) -> None:
        super().__init__()
        self.live, self.slot = live, slot

    def start(self, config: SGDConfig, seconds: float) -> None:
        self.slot.start(self, lambda: self._items(config, seconds))

    def _items(self, config: SGDConfig, seconds: float) -> Iterator[Any] | None:
        live = self.live
        try:
            inputs, targets = live.data_tensors()
        except SessionError as error:
            self.message_posted.emit(f"cannot run SGD: {error}")
            return None
        session = live.session
        chain = build_chain(session.network.without_parameters(), session.dtype, session.seed)
        return sgd_curve(chain, inputs, targets, session.loss, config,
                         min(max(seconds, 0.5), 60.0))

    def on_items(self, items: list[Any]) -> None:
        self.points_arrived.emit(items)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.message_posted.emit(f"SGD comparison failed: {error}")


def _take(items: Iterator[GenerationStats] | None, count: int) -> Iterator[GenerationStats]:
    """The next ``count`` items of a shared iterator, leaving the rest in it."""
    assert items is not None
    for _ in range(count):
        item = next(items, None)
        if item is None:
            return
        yield item
