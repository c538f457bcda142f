"""Coalesce bursts of calls (slider drags) into at most one call per interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    """``throttle(*args)`` runs ``fn`` at once if idle, else once more with the latest
    arguments when the interval has passed (leading and trailing edge, as superqt's
    ``qthrottled``)."""

    def __init__(self, fn: Callable[..., Any], interval_ms: int = 33,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._pending: tuple[Any, ...] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self, *args: Any) -> None:
        if self._timer.isActive():
            self._pending = args
            return
        self._fn(*args)
        self._timer.start()

    def flush(self) -> None:
        if self._pending is not None:
            self._timer.stop()
            self._on_timeout()

    def _on_timeout(self) -> None:
        if self._pending is not None:
            args, self._pending = self._pending, None
            self._fn(*args)
            self._timer.start()
