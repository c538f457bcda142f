"""The 4-bit grid against float search in the window: GA (4-bit), OpenES (float),
OpenES's best snapped to the grid, and SGD, by :func:`engine.evolution.comparison.
grid_comparison`, on the worker through the :class:`RunSlot`.

All four start from the chain's initialisation (the session's network drawn from its
seed, whatever the window's chain holds now), with the session's evolve task (the GA's
and OpenES's settings, population, α) and the Training page's learning rate and
momentum for SGD, for one budget of forward passes each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.core.optim import SGDConfig
from engine.data.experiment import build_chain
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.comparison import CurvePoint, grid_comparison, summary_line
from gui.live_session import LiveSession
from gui.run_slot import RunSlot


class GridComparisonRun(QObject):
    """Signals: started(int): a comparison with this budget began; points_arrived(list
    [CurvePoint]); cleared(): its points were dropped (the chain or data changed);
    ended(str): it finished or stopped, with the summary of its final losses, or failed
    (the message); message_posted(str)."""

    kind = "comparison"
    started = Signal(int)
    points_arrived = Signal(list)
    cleared = Signal()
    ended = Signal(str)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot,
                 task_of: Callable[[], EvolveTask]) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self._task_of = task_of
        self.points: list[CurvePoint] = []
        self.budget = 0

    def is_running(self) -> bool:
        return self.slot.is_running(self)

    def start(self, evaluations: int, sgd: SGDConfig) -> None:
        self.slot.start(self, lambda: self._items(evaluations, sgd))

    def stop(self) -> None:
        if self.is_running():
            self.slot.stop()

    def reset(self) -> None:
        """Drop the points (the caller has stopped any run)."""
        self.points = []
        self.cleared.emit()

    def _items(self, evaluations: int, sgd: SGDConfig) -> Iterator[Any] | None:
        live = self.live
        session = live.session
        try:
            inputs, targets = live.data_tensors()
            chain = build_chain(session.network.without_parameters(), session.dtype,
                                session.seed)
            items = grid_comparison(chain, inputs, targets, session.loss, self._task_of(),
                                    session.seed, sgd, evaluations)
        except (SessionError, ValueError) as error:
            self.message_posted.emit(f"cannot compare: {error}")
            return None
        self.points = []
        self.budget = evaluations
        self.started.emit(evaluations)
        return items

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        self.points.extend(items)
        self.points_arrived.emit(items)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.ended.emit(f"comparison failed: {error}")
            return
        last = self.points[-1] if self.points else None
        complete = last is not None and last.curve == "sgd" and (
            last.evaluations >= self.budget or not math.isfinite(last.loss))
        self.ended.emit(summary_line(self.points) + ("" if complete else " (stopped)"))
