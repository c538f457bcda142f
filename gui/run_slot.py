"""The one owner of background work: at most one run (training, evolution, a comparison)
at a time, as Orange3's ``ConcurrentMixin`` owns its task.

Starting a run stops the one before it, and stopping joins the worker thread and
delivers every snapshot it had computed before ``stop`` returns. Runs never share the
GUI's chain: each computes on its own objects and hands back immutable snapshots.
Panels enable their buttons from ``changed``; no click meets a stale state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from gui.worker import WorkerThread


class Run(Protocol):
    """What the slot calls back on the GUI thread."""

    kind: str  # "training", "evolution", "comparison"

    def on_items(self, items: list[Any]) -> None:
        """Snapshots the worker produced since the last call."""

    def on_ended(self, error: str | None) -> None:
        """The worker ended (done, stopped, or failed with ``error``) and was joined."""


class _Relay(QObject):
    """Receives one worker's signals on the GUI thread (a QObject, so that ``stop`` can
    deliver what that worker posted, and only that, with ``sendPostedEvents``)."""

    def __init__(self, slot: RunSlot, generation: int) -> None:
        super().__init__(slot)
        self.slot, self.generation = slot, generation

    @Slot(list)
    def items(self, batch: list[Any]) -> None:
        self.slot._on_items(self.generation, batch)

    @Slot()
    def finished(self) -> None:
        self.slot._on_finished(self.generation, None)

    @Slot(str)
    def failed(self, message: str) -> None:
        self.slot._on_finished(self.generation, message)


class RunSlot(QObject):
    """Signals: ``changed(str)``: the kind of run now going, or "" when idle;
    ``displaced(str, str)``: a run of the first kind was stopped to start the second."""

    changed = Signal(str)
    displaced = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._run: Run | None = None
        self._worker: WorkerThread | None = None
        self._relay: _Relay | None = None
        self._generation = 0  # tells a stale worker's late signals from the current one's

    @property
    def running(self) -> str:
        """The kind of the run in progress, or ""."""
        return self._run.kind if self._run is not None else ""

    def is_running(self, run: Run | None = None) -> bool:
        return self._run is not None and (run is None or self._run is run)

    def start(self, run: Run, make_items: Callable[[], Iterator[Any] | None]) -> bool:
        """Stop whatever runs, then iterate ``make_items()`` on a worker for ``run``.

        ``make_items`` is called after the previous run has stopped, so it sees the
        state that run left; it returns None to not start after all.
        """
        previous = self.running
        self.stop()
        if previous and previous != run.kind:
            self.displaced.emit(previous, run.kind)
        items = make_items()
        if items is None:
            return False
        self._generation += 1
        self._run = run
        self._relay = relay = _Relay(self, self._generation)
        self._worker = WorkerThread.run(items, relay.items, relay.finished, relay.failed)
        self.changed.emit(run.kind)
        return True

    def stop(self) -> None:
        """Stop the run after its current item and join it; its ``on_ended`` has been
        called, with every item it produced delivered first, when this returns."""
        worker, run, relay = self._worker, self._run, self._relay
        if worker is None or run is None:
            return
        worker.stop(receiver=relay)  # joins, then delivers what the worker had posted
        if self._run is run:  # (a delivered "finished" may have ended it already)
            self._end(run, None)

    def _on_items(self, generation: int, items: list[Any]) -> None:
        if generation == self._generation and self._run is not None:
            self._run.on_items(items)

    def _on_finished(self, generation: int, error: str | None) -> None:
        if generation != self._generation or self._run is None or self._worker is None:
            return  # a stopped run's last signal, delivered after it was ended
        self._worker.stop()  # joins the thread, which is finishing
        self._end(self._run, error)

    def _end(self, run: Run, error: str | None) -> None:
        if self._relay is not None:
            self._relay.deleteLater()
        self._run, self._worker, self._relay = None, None, None
        self._generation += 1  # anything still queued from that worker is stale now
        run.on_ended(error)
        self.changed.emit("")
