"""Run an engine generator on a QThread and hand its snapshots to the GUI thread in batches.

The generator (``Trainer.steps()``, ``evolve()``) knows nothing of threads. The worker
checks a stop flag between items, and emits what it collected at most every
``emit_interval`` seconds, so a fast loop never floods the GUI's event queue. Items are
immutable snapshots made by the engine, so passing them across threads is safe.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal, Slot

EXTRA_INTERVAL = 0.1  # seconds between extras (decision boundaries) computed by a worker


@dataclass(frozen=True)
class Extra:
    """Something the worker computed between two items (a decision-boundary grid)."""

    value: Any


def with_extras(items: Iterator[Any], make: Callable[[Any], Any],
                every: float = EXTRA_INTERVAL) -> Iterator[Any]:
    """``items``, plus ``Extra(make(item))`` after an item at most every ``every`` seconds.

    Runs on the worker thread, so whatever ``make`` reads is not being changed under it.
    """
    last = -math.inf
    for item in items:
        yield item
        if time.monotonic() - last >= every:
            last = time.monotonic()
            yield Extra(make(item))


def split_extras(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """(the plain items, the extras' values) of one batch from ``progressed``."""
    extras = [item.value for item in items if isinstance(item, Extra)]
    return [item for item in items if not isinstance(item, Extra)], extras


class GeneratorWorker(QObject):
    """Emits ``progressed(list)`` with new items, then ``finished()`` or ``failed(str)``."""

    progressed = Signal(list)
    finished = Signal()
    failed = Signal(str)

    def __init__(self, items: Iterator[Any], emit_interval: float = 1 / 30) -> None:
        super().__init__()
        self._items = items
        self._emit_interval = emit_interval
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        pending: list[Any] = []
        last_emit = time.monotonic()
        try:
            for item in self._items:
                pending.append(item)
                now = time.monotonic()
                if now - last_emit >= self._emit_interval:
                    self.progressed.emit(pending)
                    pending, last_emit = [], now
                if self._stop.is_set():
                    break
            if pending:
                self.progressed.emit(pending)
        except Exception as error:  # shown to the user; the app keeps running
            traceback.print_exc()
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        self.finished.emit()


class WorkerThread:
    """Owns one :class:`GeneratorWorker` and its QThread; ``stop()`` joins them."""

    def __init__(self, worker: GeneratorWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        worker.finished.connect(self.thread.quit)
        worker.failed.connect(self.thread.quit)

    @classmethod
    def run(cls, items: Iterator[Any], progressed: Callable[[list], None],
            finished: Callable[[], None], failed: Callable[[str], None]) -> WorkerThread:
        """Start iterating ``items`` on a new thread, reporting to the three callbacks
        (called on the GUI thread)."""
        worker = GeneratorWorker(items)
        worker.progressed.connect(progressed)
        worker.finished.connect(finished)
        worker.failed.connect(failed)
        thread = cls(worker)
        thread.start()
        return thread

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self, receiver: QObject | None = None) -> None:
        """Ask the generator to stop after its current item and wait for the thread (no
        time limit: a worker left running would race with whatever comes next).

        With ``receiver``, the snapshots the worker had already emitted are delivered to it
        now, so that when this returns the receiver has seen every item computed.
        """
        self.worker.request_stop()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait()
        if receiver is not None:
            QCoreApplication.sendPostedEvents(receiver, QEvent.Type.MetaCall)
