"""What the window's evolution runs share (the GA, the GA on islands, OpenES and PSO):
a run's lifecycle on the :class:`RunSlot`, its history and its messages.

Start begins a new run (numbered across the session's algorithms), Continue extends a
paused one, Step runs one generation (of the paused run, or generation 0 of a new one),
Stop ends it keeping its history on screen, Reset clears. A run is set up on a copy of
the window's chain, as the headless runner sets it up, and never writes the window's
chain: "Use the best in the chain" loads its best (an edit the user chose, so a worse
later run never replaces better weights by itself). The best's decision boundary is
computed beside the generations on the worker thread, on a chain of the worker's own.

A subclass says how a run is set up (``_prepare``) and what it yields
(``_generations_of``), how a record's best goes into a chain (``_load_best``), how old
records are thinned in the history (``thin``) and what the run is called (``title``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.layers import BatchTooSmallError
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from gui.live_session import LiveSession
from gui.run_history import extend_history
from gui.run_slot import RunSlot
from gui.worker import split_extras, with_extras

USE_BEST = "\u201cUse the best in the chain\u201d loads it"
ALGORITHM_NAMES = {"ga": "GA", "openes": "OpenES", "pso": "PSO"}


def algorithm_text(task: EvolveTask) -> str:
    """"GA", "GA on 3 islands", "OpenES" or "PSO"."""
    name = ALGORITHM_NAMES[task.algorithm]
    return f"{name} on {task.islands} islands" if task.algorithm == "ga" \
        and task.islands > 1 else name


class GenerationRun(QObject):
    """Signals: run_started(int): a new run (its number) began; generations_arrived(list)
    of records; history_cleared(); boundary_computed(object); message_posted(str);
    paused_run_dropped(): Stop ended a paused run (Continue has nothing left to extend)."""

    kind = "evolution"  # the slot's name for it: one of the evolution runs
    run_started = Signal(int)
    paused_run_dropped = Signal()
    generations_arrived = Signal(list)
    history_cleared = Signal()
    boundary_computed = Signal(object)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot,
                 numbers: Callable[[], int] | None = None) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self.history: list[Any] = []
        self.run_number = 0
        # the session's next run number (the state numbers all algorithms' runs together)
        self.next_number: Callable[[], int] = numbers or (lambda: self.run_number + 1)
        self.setup: Any = None  # the current run's, with .task, .generations(), .device_note
        self._generations: Iterator[Any] | None = None  # a paused run's
        self._boundary_chain: Chain | None = None  # the worker's, for the best's boundary
        self._note = ""  # said with the run's messages

    @property
    def task(self) -> EvolveTask:
        raise NotImplementedError

    # -- what a subclass says --------------------------------------------------------------

    def _prepare(self, chain: Chain, inputs: torch.Tensor, targets: torch.Tensor) -> Any:
        """The run's setup on ``chain`` (a copy of the window's); SessionError if the
        settings cannot run."""
        raise NotImplementedError

    def _generations_of(self, setup: Any) -> Iterator[Any]:
        return setup.generations()

    def _announce(self, setup: Any) -> None:
        """Messages once the new run has its number."""
        if setup.device_note:
            self.message_posted.emit(setup.device_note)

    def _load_best(self, chain: Chain, record: Any) -> None:
        raise NotImplementedError

    def thin(self, record: Any) -> Any:
        """The record as older history keeps it (numbers only)."""
        raise NotImplementedError

    def title(self) -> str:
        """The run as messages name it: "GA run 3"."""
        raise NotImplementedError

    def failure_name(self) -> str:
        """What "<name> failed: …" calls the algorithm."""
        raise NotImplementedError

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
            if self.history:  # the paused message would stay on screen, stale
                self.message_posted.emit(f"{self.title()} continued from generation "
                                         f"{self.history[-1].generation}")
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
        self._generations = None  # first: the slot's "changed" must see no paused run
        if self.is_running():
            self.slot.stop()  # on_ended says where it stopped
        elif had_paused_run:
            self._say_where()  # nothing runs to end: say it here
        if had_paused_run:
            self.paused_run_dropped.emit()

    def reset(self) -> None:
        """Drop the run and its history (the caller has stopped any run)."""
        assert not self.is_running(), "reset while running: stop the slot first"
        self._generations = None
        self.setup = None
        self.history = []
        self.history_cleared.emit()

    def finished(self) -> bool:
        """The current run reached its number of generations."""
        return bool(self.history) and self.setup is not None \
            and self.history[-1].generation >= self.setup.task.generations

    def best_chain(self) -> Chain | None:
        """A copy of the window's chain holding the current run's best."""
        if not self.history or self.setup is None:
            return None
        chain = self.live.chain.copy()
        self._load_best(chain, self.history[-1])
        return chain

    def _new_run(self, limit: int | None) -> Iterator[Any] | None:
        live = self.live
        chain = live.chain.copy()  # the worker reads the architecture while it runs
        try:
            inputs, targets = live.data_tensors()
            setup = self._prepare(chain, inputs, targets)
        except (SessionError, BatchTooSmallError) as error:
            self.message_posted.emit(f"cannot evolve: {error}")
            return None
        self.setup = setup
        self._boundary_chain = chain.copy()
        self._generations = self._generations_of(setup)
        self.history = []
        self.run_number = self.next_number()
        self.run_started.emit(self.run_number)
        self._announce(setup)
        source = self._generations if limit is None else _take(self._generations, limit)
        return self._run_items(source)

    def _run_items(self, generations: Iterator[Any] | None) -> Iterator[Any] | None:
        """Generations, with the best's decision boundary computed beside them."""
        if generations is None:
            return None
        extent, loss = self.live.boundary_extent(), self.live.session.loss
        chain = self._boundary_chain
        if extent is None or chain is None or self.setup is None:
            return generations

        def boundary(record: Any) -> np.ndarray:
            self._load_best(chain, record)
            return decision_values(chain, loss, extent, LIVE_RESOLUTION)

        return with_extras(generations, boundary)

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        records, boundaries = split_extras(items)
        if boundaries:
            self.boundary_computed.emit(boundaries[-1])
        if records:
            extend_history(self.history, records, self.thin)
            self.generations_arrived.emit(records)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.message_posted.emit(f"{self.failure_name()} failed: {error}")
            self._generations = None
            return
        if self.finished():
            self._generations = None
        self._say_where()

    def _say_where(self) -> None:
        """Where the run is (finished, stopped or paused) and its best loss."""
        if not self.history or self.setup is None:
            return
        last = self.history[-1]
        if self.finished():
            how = f"finished after {last.generation} generations"
        elif self._generations is None:
            how = f"stopped at generation {last.generation}"
        else:
            how = f"paused at generation {last.generation}"
        self.message_posted.emit(f"{self.title()} {how}, best loss {last.best:.4g}; "
                                 f"{USE_BEST}{self._note}")


def _take(items: Iterator[Any] | None, count: int) -> Iterator[Any]:
    """The next ``count`` items of a shared iterator, leaving the rest in it."""
    assert items is not None
    for _ in range(count):
        item = next(items, None)
        if item is None:
            return
        yield item
