"""The GUI's side of population evolution: settings, the running generator, its worker.

``EvolutionRun`` belongs to the AppState; panels call its methods and redraw on its
signals. The GA generator (:func:`engine.evolution.evolve`) runs on a worker thread;
Pause keeps the generator (and so the population) for Start to continue; Reset drops it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.plots import LIVE_RESOLUTION, decision_values
from engine.data.tasks import EvolveTask
from engine.evolution.comparison import SgdPoint, quantisation_report, sgd_curve
from engine.evolution.ga import GenerationStats, evolve, resolve_device, seeded_population
from engine.evolution.genome import GenomeLayout, chain_genome, load_genome, resolve_scales
from engine.evolution.population import PopulationEvaluator
from gui.worker import WorkerThread, split_extras, with_extras


class EvolutionRun(QObject):
    """Signals: generations_arrived(list), running_changed(bool), run_reset(),
    boundary_computed(object), comparison_arrived(list), message_posted(str)."""

    generations_arrived = Signal(list)
    running_changed = Signal(bool)
    run_reset = Signal()
    boundary_computed = Signal(object)
    comparison_arrived = Signal(list)
    message_posted = Signal(str)

    def __init__(self, state: object) -> None:
        super().__init__()
        self.state = state  # the AppState: chain, dataset, session
        self.task = EvolveTask()
        self.history: list[GenerationStats] = []
        self.device_note = ""
        self._generator: Iterator[GenerationStats] | None = None
        self._worker: WorkerThread | None = None
        self._comparison: WorkerThread | None = None
        self._boundary_chain: Chain | None = None

    # -- settings --------------------------------------------------------------------------

    def set_task(self, task: EvolveTask) -> None:
        """New settings; a run in progress keeps its own until Reset."""
        self.task = task

    def scales(self) -> list[float]:
        layers = len(GenomeLayout.of(self.state.chain).layers)  # type: ignore[attr-defined]
        scales = self.task.scales
        if isinstance(scales, list) and len(scales) != layers:
            scales = scales[0] if scales else 1.0
        return resolve_scales(scales, layers)

    # -- running ---------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._worker is not None and self._worker.is_running()

    def _ensure_generator(self) -> bool:
        if self._generator is not None:
            return True
        state = self.state
        try:
            inputs, targets = state.dataset_tensors()  # type: ignore[attr-defined]
        except ValueError as error:
            self.message_posted.emit(f"cannot evolve: {error}")
            return False
        device, self.device_note = resolve_device(self.task.device)
        if self.device_note:
            self.message_posted.emit(self.device_note)
        chain = state.chain  # type: ignore[attr-defined]
        scales = self.scales()
        evaluator = PopulationEvaluator(chain, inputs, targets, state.session.loss,  # type: ignore[attr-defined]
                                        scales, device)
        initial = self._initial_population(chain, scales) if self.task.seed_from_network \
            else None
        self._generator = evolve(evaluator, self.task, state.session.seed,  # type: ignore[attr-defined]
                                 initial=initial, generations=self.task.generations)
        self._boundary_chain = Chain(state.network, state.session.dtype,  # type: ignore[attr-defined]
                                     torch.Generator().manual_seed(0))
        self._scales = scales
        return True

    def _initial_population(self, chain: Chain, scales: list[float]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.state.session.seed)  # type: ignore[attr-defined]
        return seeded_population(chain_genome(chain, scales), self.task.population,
                                 self.task.mutation_rate, generator)

    def _items(self, generations: Iterator[GenerationStats]) -> Iterator[object]:
        """Generations, plus the best individual's decision boundary computed on the worker
        thread (on a chain of its own)."""
        extent = self.state.boundary_extent()  # type: ignore[attr-defined]
        if extent is None:
            return generations
        return with_extras(generations, lambda stats: self._boundary(stats.best_genome,
                                                                      extent))

    def _boundary(self, genome: np.ndarray, extent: tuple) -> np.ndarray:
        chain = self._boundary_chain
        assert chain is not None
        load_genome(chain, torch.from_numpy(genome), self._scales)
        return decision_values(chain, self.state.session.loss, extent, LIVE_RESOLUTION)  # type: ignore[attr-defined]

    def start(self, generations: int | None = None) -> None:
        """Run (or continue) in the background; ``generations`` limits this call."""
        if self.is_running():
            return
        self.state.stop_training()  # type: ignore[attr-defined]
        if not self._ensure_generator():
            return
        self.state.last_task_kind = "evolve"  # type: ignore[attr-defined]
        assert self._generator is not None
        source = self._generator if generations is None else itertools.islice(
            self._generator, generations)
        self._worker = WorkerThread.run(self._items(source), self._on_progressed,
                                        self._on_stopped, self._on_failed)
        self.running_changed.emit(True)

    def step(self) -> None:
        """One generation (generation 0 first, on a fresh run)."""
        self.start(generations=1)

    def pause(self) -> None:
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        worker.stop(receiver=self)
        self.running_changed.emit(False)

    def stop(self) -> None:
        """End the run: the population is dropped, the history stays on screen."""
        self.pause()
        self._generator = None

    def reset(self) -> None:
        self.pause()
        self.stop_comparison()
        self._generator = None
        self.history = []
        self.run_reset.emit()

    def use_best_in_chain(self) -> None:
        """Load the best individual's decoded weights into the main chain."""
        if not self.history:
            return
        self.state.load_parameters(lambda chain: load_genome(  # type: ignore[attr-defined]
            chain, torch.from_numpy(self.history[-1].best_genome), self._scales))

    def _on_progressed(self, items: list) -> None:
        stats, boundaries = split_extras(items)
        if boundaries:
            self.boundary_computed.emit(boundaries[-1])
        if stats:
            self.history.extend(stats)
            self.generations_arrived.emit(stats)

    def _on_stopped(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
            self.running_changed.emit(False)

    def _on_failed(self, message: str) -> None:
        self.message_posted.emit(f"evolution failed: {message}")
        self._on_stopped()

    # -- comparison with SGD ---------------------------------------------------------------

    def compare_with_sgd(self, lr: float, momentum: float) -> None:
        """SGD from the chain's initialisation, for as long as the GA has run so far."""
        if not self.history or self._comparison is not None:
            return
        state = self.state
        try:
            inputs, targets = state.dataset_tensors()  # type: ignore[attr-defined]
        except ValueError as error:
            self.message_posted.emit(f"cannot run SGD: {error}")
            return
        chain = Chain(state.network.without_parameters(), state.session.dtype,  # type: ignore[attr-defined]
                      torch.Generator().manual_seed(state.session.seed))  # type: ignore[attr-defined]
        budget = min(max(self.history[-1].seconds, 0.5), 60.0)
        curve = sgd_curve(chain, inputs, targets, state.session.loss,  # type: ignore[attr-defined]
                          SGDConfig(lr=lr, momentum=momentum), budget)
        self._comparison = WorkerThread.run(curve, self.comparison_arrived.emit,
                                            self.stop_comparison, self.message_posted.emit)

    def stop_comparison(self) -> None:
        if self._comparison is not None:
            comparison, self._comparison = self._comparison, None
            comparison.stop()

    def quantisation_text(self) -> str:
        state = self.state
        try:
            inputs, targets = state.dataset_tensors()  # type: ignore[attr-defined]
        except ValueError:
            return ""
        report = quantisation_report(state.chain, self.scales(), inputs, targets,  # type: ignore[attr-defined]
                                     state.session.loss)  # type: ignore[attr-defined]
        return (f"current chain on the 4-bit grid: ‖W − Q(W)‖/‖W‖ = "
                f"{report.relative_error:.3g}; loss {report.float_loss:.4g} (float) → "
                f"{report.quantised_loss:.4g} (quantised)")

    def stop_everything(self) -> None:
        self.pause()
        self.stop_comparison()


__all__ = ["EvolutionRun", "SgdPoint"]
