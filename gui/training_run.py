"""SGD training in the window: settings, the trainer on a chain of its own, its history.

The trainer is built by :func:`engine.data.experiment.make_trainer`, as headless runs
build theirs, on a copy of the window's chain; its generator runs on a worker through
the :class:`RunSlot`. While it runs, snapshots of its chain (with the decision boundary,
computed beside it on the worker) come back at most ten times a second and the state
shows them, so every view stays live. Pause keeps the trainer (momentum, batch order)
for Run to continue; any edit of the session resets it (:meth:`reset`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.core.training import Trainer, TrainStep
from engine.data.experiment import make_trainer
from engine.data.session import SessionError, check_precision
from engine.data.tasks import TrainTask
from gui.live_session import LiveSession
from gui.run_slot import RunSlot
from gui.worker import split_extras, with_extras

DEFAULT_THREADS = torch.get_num_threads()
SMALL_STEP_FLOPS = 20e6  # below this, a step's ops are too short to share between cores


def intra_op_threads(trainer: Trainer) -> int:
    """Torch threads for training on a worker: one for small chains. A second thread
    only helps large products; on small ones the worker's and the GUI thread's OpenMP
    teams contend, and a worker thread ran at 40% of the speed of the same steps on one
    thread (bench/bench_interaction.py)."""
    weights = sum(p.numel() for _, p in trainer.chain.parameters())
    return 1 if 6 * trainer.batch_size * weights < SMALL_STEP_FLOPS else DEFAULT_THREADS


@dataclass(frozen=True)
class TrainingSnapshot:
    """The trainer's chain as it stood after a step (a copy) and its decision boundary."""

    chain: Chain
    boundary: np.ndarray | None


class TrainingRun(QObject):
    """Signals: progressed(list[TrainStep]), history_cleared(), message_posted(str)."""

    kind = "training"
    progressed = Signal(list)
    history_cleared = Signal()
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot) -> None:
        super().__init__()
        self.live, self.slot = live, slot
        self.settings = TrainTask()
        self.trainer: Trainer | None = None
        self.history: list[TrainStep] = []

    # -- settings --------------------------------------------------------------------------

    def set_settings(self, settings: TrainTask) -> None:
        """New settings; lr, momentum, weight decay, Nesterov and batch size reach a
        running trainer at its next step (no reset)."""
        self.settings = settings
        trainer = self.trainer
        if trainer is not None:
            trainer.optimizer.config = SGDConfig(settings.lr, settings.momentum,
                                                 settings.weight_decay, settings.nesterov)
            trainer.set_batch_size(settings.batch_size)

    # -- running ---------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self.slot.is_running(self)

    def went_nonfinite(self) -> bool:
        return bool(self.history) and self.history[-1].nonfinite is not None

    def steps_done(self) -> int:
        return self.trainer.step_count if self.trainer is not None else 0

    def reached_limit(self) -> bool:
        """The run has made the session's number of steps (what a headless run makes)."""
        return self.steps_done() >= self.settings.steps

    def start(self) -> None:
        """Run (or continue) on the worker until paused or at the Steps setting."""
        if self.is_running():
            return
        if self.reached_limit():
            self.message_posted.emit(f"already at step {self.steps_done()}, the Steps "
                                     "setting: raise it to train further")
            return
        self.slot.start(self, self._items)

    def pause(self) -> None:
        if self.is_running():
            self.slot.stop()

    def step(self) -> None:
        """One SGD step on the GUI thread (pauses a run first)."""
        self.pause()
        trainer = self._ready_trainer()
        if trainer is None:
            return
        self.on_items([trainer.step()])
        self.live.show_parameters(trainer.chain)

    def reset(self) -> None:
        """Drop the trainer and its history (the caller has stopped any run)."""
        assert not self.is_running(), "reset while running: stop the slot first"
        self.trainer = None
        self.history = []
        self.history_cleared.emit()

    def _ready_trainer(self) -> Trainer | None:
        if self.went_nonfinite():
            self.message_posted.emit("the run went non-finite; press Reset to start again")
            return None
        if self.trainer is None:
            live = self.live
            try:
                inputs, targets = live.data_tensors()
                check_precision(self.settings.precision, live.session.dtype)
            except SessionError as error:
                self.message_posted.emit(f"cannot train: {error}")
                return None
            self.trainer = make_trainer(live.chain.copy(), inputs, targets, live.session.loss,
                                        self.settings, live.session.seed)
        return self.trainer

    def _items(self) -> Iterator[Any] | None:
        trainer = self._ready_trainer()
        if trainer is None:
            return None
        torch.set_num_threads(intra_op_threads(trainer))
        extent = self.live.boundary_extent()
        loss = self.live.session.loss

        def snapshot(_: TrainStep) -> TrainingSnapshot:  # on the worker: its own chain
            chain = trainer.chain.copy()
            boundary = None if extent is None else decision_values(chain, loss, extent,
                                                                   LIVE_RESOLUTION)
            return TrainingSnapshot(chain, boundary)

        return with_extras(self._until_limit(trainer), snapshot)

    def _until_limit(self, trainer: Trainer) -> Iterator[TrainStep]:
        # reads the setting at every step: raising Steps during a run lets it go on
        for record in trainer.steps():
            yield record
            if trainer.step_count >= self.settings.steps:
                return

    # -- the slot's callbacks --------------------------------------------------------------

    def on_items(self, items: list[Any]) -> None:
        steps, snapshots = split_extras(items)
        if snapshots:
            latest: TrainingSnapshot = snapshots[-1]
            self.live.show_parameters(latest.chain, latest.boundary)
        if not steps:
            return
        self.history.extend(steps)
        self.progressed.emit(steps)
        last = steps[-1]
        if last.nonfinite is not None:
            self.message_posted.emit(f"training stopped at step {last.step}: "
                                     f"{last.nonfinite.describe()}. Press Reset.")

    def on_ended(self, error: str | None) -> None:
        torch.set_num_threads(DEFAULT_THREADS)
        if error is not None:
            self.message_posted.emit(f"training failed: {error}")
        elif self.reached_limit() and not self.went_nonfinite():
            self.message_posted.emit(f"stopped at step {self.steps_done()}, the Steps "
                                     "setting: raise it to train further")
        if self.trainer is not None:  # the worker is joined: its chain is ours to read
            self.live.show_parameters(self.trainer.chain)
