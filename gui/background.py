"""One computation at a time off the GUI thread, for panels' one-shot work (a benchmark,
a comparison of runs) that would freeze the window for a second or more."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Signal

from gui.worker import WorkerThread


class BackgroundTask(QObject):
    """Signals: ``done(result)`` on the GUI thread, or ``failed(message)``."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: WorkerThread | None = None
        self._generation = 0  # results of a dropped computation may still be queued

    def start(self, compute: Callable[[], Any]) -> None:
        """Run ``compute()`` on a worker thread (after the previous one has finished)."""
        self.stop()
        generation = self._generation

        def items() -> Iterator[Any]:
            yield compute()

        def progressed(results: list[Any]) -> None:
            if generation == self._generation:
                self.done.emit(results[-1])

        def failed(message: str) -> None:
            if generation == self._generation:
                self.failed.emit(message)

        self._thread = WorkerThread.run(items(), progressed, lambda: None, failed)

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_running()

    def stop(self) -> None:
        """Wait for a running computation (it cannot be cut short) and drop its result."""
        self._generation += 1
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
