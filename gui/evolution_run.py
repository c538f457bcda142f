"""Population evolution in the window: the evolve task, the running GA (set up by
:func:`engine.evolution.setup.prepare_evolution`, as headless runs are; its lifecycle is
:class:`gui.generation_run.GenerationRun`'s), and the comparison with SGD.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.data.experiment import build_chain
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.comparison import QuantisationReport, quantisation_report, sgd_curve
from engine.evolution.ga import GenerationStats
from engine.evolution.genome import load_genome
from engine.evolution.setup import EvolutionSetup, layer_scales, prepare_evolution
from gui.generation_run import GenerationRun
from gui.live_session import LiveSession
from gui.run_history import ga_numbers
from gui.run_slot import RunSlot


class EvolutionRun(GenerationRun):
    """The one-population GA; it owns the session's evolve task (the other runs read it).
    Signals: those of :class:`gui.generation_run.GenerationRun`."""

    def __init__(self, live: LiveSession, slot: RunSlot) -> None:
        super().__init__(live, slot)
        self._task = EvolveTask()
        self.comparison = SgdComparison(live, slot)

    @property
    def task(self) -> EvolveTask:
        return self._task

    def set_task(self, task: EvolveTask) -> None:
        """New settings; a run in progress keeps its own until a new Start."""
        self._task = task

    def scales(self) -> list[float]:
        return layer_scales(self.live.chain, self.task)

    def _prepare(self, chain: Chain, inputs: torch.Tensor,
                 targets: torch.Tensor) -> EvolutionSetup:
        return prepare_evolution(chain, inputs, targets, self.live.session.loss, self.task,
                                 self.live.session.seed)

    def _load_best(self, chain: Chain, record: GenerationStats) -> None:
        load_genome(chain, torch.from_numpy(record.best_genome), self.setup.scales)

    def thin(self, record: GenerationStats) -> GenerationStats:
        return ga_numbers(record)

    def title(self) -> str:
        return f"GA run {self.run_number}"

    def failure_name(self) -> str:
        return "GA"

    # -- beside the GA ---------------------------------------------------------------------

    def quantisation(self) -> QuantisationReport | None:
        """What snapping the window's chain to the 4-bit grid does (computed on copies)."""
        try:
            inputs, targets = self.live.data_tensors()
        except SessionError as error:
            self.message_posted.emit(f"cannot compute: {error}")
            return None
        return quantisation_report(self.live.chain, self.scales(), inputs, targets,
                                   self.live.session.loss)


class SgdComparison(QObject):
    """Full-batch SGD from the chain's initialisation for as long as the GA has run.
    Signals: points_arrived(list[SgdPoint]), message_posted(str)."""

    kind = "comparison"
    points_arrived = Signal(list)
    message_posted = Signal(str)

    def __init__(self, live: LiveSession, slot: RunSlot) -> None:
        super().__init__()
        self.live, self.slot = live, slot

    def start(self, config: SGDConfig, seconds: float) -> None:
        self.slot.start(self, lambda: self._items(config, seconds))

    def _items(self, config: SGDConfig, seconds: float) -> Iterator[Any] | None:
        live = self.live
        try:
            inputs, targets = live.data_tensors()
        except SessionError as error:
            self.message_posted.emit(f"cannot run SGD: {error}")
            return None
        session = live.session
        chain = build_chain(session.network.without_parameters(), session.dtype, session.seed)
        return sgd_curve(chain, inputs, targets, session.loss, config,
                         min(max(seconds, 0.5), 60.0))

    def on_items(self, items: list[Any]) -> None:
        self.points_arrived.emit(items)

    def on_ended(self, error: str | None) -> None:
        if error is not None:
            self.message_posted.emit(f"SGD comparison failed: {error}")

