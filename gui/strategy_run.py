"""OpenES or PSO over the chain's float weights in the window, beside the GA and driven
the same way (:class:`gui.generation_run.GenerationRun`). A run is set up by
:func:`engine.evolution.strategies.prepare_strategy`, as headless runs are; "Use the best
in the chain" loads the best float weights found.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.core.chain import Chain
from engine.data.tasks import EvolveTask
from engine.evolution.strategies import StrategySetup, load_weights, prepare_strategy
from engine.evolution.strategy_record import StrategyGeneration
from gui.generation_run import ALGORITHM_NAMES, GenerationRun
from gui.live_session import LiveSession
from gui.run_history import strategy_numbers
from gui.run_slot import RunSlot


class StrategyRun(GenerationRun):
    """OpenES or PSO; signals: those of :class:`gui.generation_run.GenerationRun`."""

    def __init__(self, live: LiveSession, slot: RunSlot,
                 task_of: Callable[[], EvolveTask],
                 numbers: Callable[[], int] | None = None) -> None:
        super().__init__(live, slot, numbers)
        self._task_of = task_of  # the one evolve task, owned by the state's GA run

    @property
    def task(self) -> EvolveTask:
        return self._task_of()

    def failure_name(self) -> str:
        return self._name()

    def _name(self) -> str:
        return ALGORITHM_NAMES[self.setup.task.algorithm] if self.setup else ""

    def _prepare(self, chain: Chain, inputs: torch.Tensor,
                 targets: torch.Tensor) -> StrategySetup:
        task = self.task
        ignored = task.islands
        if ignored > 1:  # islands are the GA's; the form hides them for a float algorithm
            task = task.model_copy(update={"islands": 1})
        setup = prepare_strategy(chain, inputs, targets, self.live.session.loss, task,
                                 self.live.session.seed)
        self._note = "" if ignored <= 1 else (f" ({ALGORITHM_NAMES[task.algorithm]} evolves one "
                                               f"population: {ignored} islands are the GA's)")
        return setup

    def _announce(self, setup: StrategySetup) -> None:
        super()._announce(setup)
        if self._note:
            self.message_posted.emit(self._note.strip(" ()"))

    def _load_best(self, chain: Chain, record: StrategyGeneration) -> None:
        load_weights(chain, record.best_weights)

    def thin(self, record: StrategyGeneration) -> StrategyGeneration:
        return strategy_numbers(record)

    def title(self) -> str:
        return f"{self._name()} run {self.run_number}"
