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
    [CurvePoint]); cleared(str): its points were dropped, and why ("" when it had none);
    settings_changed(): the evolve task it ran with was changed since (its points stay);
    ended(str): it finished or stopped, with the summary of its final losses, or failed
    (the message); ``outcome`` then says which ("done", "stopped" or "failed");
    message_posted(str)."""

    kind = "comparison"
    started = Signal(int)
    points_arrived = Signal(list)
    cleared = Signal(str)
    settings_changed = Signal()
    ended = Signal(str)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot,
                 task_of: Callable[[], EvolveTask]) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self._task_of = task_of
        self.points: list[CurvePoint] = []
        self.budget = 0
        self.task: EvolveTask | None = None  # what the points were computed with
        self.outcome = ""  # of the last run: "done", "stopped" or "failed"

    def is_running(self) -> bool:
        return self.slot.is_running(self)

    def start(self, evaluations: int, sgd: SGDConfig) -> None:
        self.slot.start(self, lambda: self._items(evaluations, sgd))

    def stop(self) -> None:
        if self.is_running():
            self.slot.stop()

    def reset(self, why: str = "the chain or its data changed") -> None:
        """Drop the points (the caller has stopped any run); ``why`` is said only when
        there were points to drop."""
        had_points = bool(self.points)
        self.points = []
        self.task = None
        self.cleared.emit(why if had_points else "")

    def note_task(self, task: EvolveTask) -> None:
        """The evolve task changed: say so once if the finished points used another."""
        if self.task is not None and _compared(task) != _compared(self.task) \
                and not self.is_running():
            self.task = None  # said once
            self.settings_changed.emit()

    def _items(self, evaluations: int, sgd: SGDConfig) -> Iterator[Any] | None:
        live = self.live
        session = live.session
        try:
            inputs, targets = live.data_tensors()
            chain = build_chain(session.network.without_parameters(), session.dtype,
                                session.seed)
            task = self._task_of()
            items = grid_comparison(chain, inputs, targets, session.loss, task,
                                    session.seed, sgd, evaluations)
        except (SessionError, ValueError) as error:
            self.message_posted.emit(f"cannot compare: {error}")
            return None
        self.points = []
        self.task = task
        self.budget = evaluations
        self.started.emit(evaluations)
        return items

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        self.points.extend(items)
        self.points_arrived.emit(items)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.outcome = "failed"
            self.ended.emit(f"comparison failed: {error}")
            return
        last = self.points[-1] if self.points else None
        complete = last is not None and last.curve == "sgd" and (
            last.evaluations >= self.budget or not math.isfinite(last.loss))
        self.outcome = "done" if complete else "stopped"
        self.ended.emit(summary_line(self.points, self.budget)
                        + ("" if complete else " (stopped)"))


def _compared(task: EvolveTask) -> dict[str, Any]:
    """The fields of ``task`` the comparison uses (the chosen algorithm, islands, the
    number of generations and PSO's settings are not)."""
    return task.model_dump(exclude={"algorithm", "islands", "migration", "generations",
                                    "pso"})
