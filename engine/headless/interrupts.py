"""Ctrl-C and SIGTERM during a headless run.

The first one asks the run to stop after its current step or generation (the runner
polls :meth:`Interrupts.requested`), and the result computed so far is written, marked
``"interrupted": true``; the process then exits with 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM). A second one aborts at once: ``KeyboardInterrupt`` is raised,
and the caller removes whatever it had staged, writing nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers


class Interrupts:
    """A context manager: the handlers are installed on entry, the previous ones put
    back on exit."""

    def __init__(self) -> None:
        self.received: int | None = None  # the first signal's number
        self._previous: dict[int, Handler] = {}
        self._deferring = False
        self._abort_pending = False

    def __enter__(self) -> Interrupts:
        for number in (signal.SIGINT, signal.SIGTERM):
            # None: a handler not set from Python; put the default back for it
            self._previous[number] = signal.signal(number, self._on_signal) or signal.SIG_DFL
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def requested(self) -> bool:
        return self.received is not None

    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def exit_status(self) -> int:
        return 128 + (self.received or 0)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A second signal inside this block aborts only when the block is done: an
        exception raised in the middle of an extension module's import (PySide6) kills
        the interpreter instead of unwinding it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._abort_pending:
            raise KeyboardInterrupt

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """A second signal inside this block is ignored: the block finishes what cannot be
        half done (swapping the finished result into place); afterwards there is nothing
        left to abort."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            self._abort_pending = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            return
        if self._deferring:
            self._abort_pending = True
            return
        raise KeyboardInterrupt
