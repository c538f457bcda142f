"""The one place where the engine meets Qt: the current session and its live objects.

``AppState`` owns the session settings (architecture, data, loss, training settings),
the live chain, the stepping pass and the training worker. Panels call its methods on
user input and redraw when it signals; they never call each other. Signals are
past-tense events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain, SpecError
from engine.core.losses import TargetError, prepare_targets
from engine.core.optim import SGDConfig
from engine.core.plots import LIVE_RESOLUTION, decision_values, grid_extent
from engine.core.specs import ActivationSpec, LayerSpec, NetworkSpec, seed_example
from engine.core.stats import LayerStats, layer_stats
from engine.core.stepper import Pass, StepOrderError
from engine.core.training import Trainer, TrainStep
from engine.data.experiment import load_data
from engine.data.session import (
    EvolveTask,
    GeneratedData,
    Session,
    SessionError,
    TrainTask,
    load_session,
    save_session,
)
from gui.evolution_state import EvolutionRun
from gui.worker import WorkerThread, split_extras, with_extras


def default_session() -> Session:
    """The seed example: 1 → linear(0.3, 0.3) → tanh → linear(0.3, 0.3) → tanh, x = 10."""
    return Session(format="chainlab/1", name="Seed example", dtype="float64",
                   network=seed_example(), data=GeneratedData(dataset="seed_example",
                                                              samples=1),
                   loss="mse", task=TrainTask(lr=0.1, steps=1000))


class AppState(QObject):
    """The current session and everything computed from it.

    Signals
    -------
    chain_changed : the architecture or the parameters were rebuilt.
    data_changed : the dataset or the probe ranges changed.
    pass_changed : the stepping pass advanced or was recomputed.
    training_progressed(list) : new TrainStep snapshots arrived.
    training_state_changed(bool) : training started (True) or stopped (False).
    training_reset : the training history was cleared.
    session_changed : a session was opened, created or saved (path, name).
    dirty_changed(bool) : unsaved changes appeared or were saved.
    message_posted(str) : something the user should read in the status bar.
    """

    chain_changed = Signal()
    data_changed = Signal()
    pass_changed = Signal()
    training_progressed = Signal(list)
    training_state_changed = Signal(bool)
    training_reset = Signal()
    boundary_computed = Signal(object)  # numpy (resolution, resolution), or None
    session_changed = Signal()
    dirty_changed = Signal(bool)
    message_posted = Signal(str)

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.path: Path | None = None
        self.dirty = False
        self.problem = ""
        self.pass_: Pass | None = None
        self.trainer: Trainer | None = None
        self.history: list[TrainStep] = []
        self._worker: WorkerThread | None = None
        self.use_probe = True
        self.stepping_batch_size = 0  # 0 = the whole dataset
        self.evolution = EvolutionRun(self)
        self.chain_changed.connect(self.evolution.reset)
        self.data_changed.connect(self.evolution.reset)
        self._apply_session(session or default_session())

    # -- session ---------------------------------------------------------------------------

    def _apply_session(self, session: Session, base_dir: Path = Path()) -> None:
        """Build everything from ``session``; raises SessionError leaving state untouched."""
        dataset = load_data(session, base_dir)
        chain = self._build_chain(session.network, session.dtype, session.seed)
        self.stop_training()
        self.session, self.dataset, self.chain = session, dataset, chain
        self.pass_ = None
        self.base_dir = base_dir
        self.train_settings = session.task if isinstance(session.task, TrainTask) \
            else TrainTask()
        if isinstance(session.task, EvolveTask):
            self.evolution.set_task(session.task)
        self.last_task_kind = session.task.kind
        self._reset_probe()
        self._reset_training()
        self.data_changed.emit()
        self.chain_changed.emit()
        self.recompute()

    @staticmethod
    def _build_chain(network: NetworkSpec, dtype: str, seed: int) -> Chain:
        try:
            return Chain(network, dtype, torch.Generator().manual_seed(seed))
        except SpecError as error:
            raise SessionError(error.path, error.message) from None

    def new_session(self, session: Session | None = None) -> None:
        self._apply_session(session or default_session())
        self.path = None
        self._set_dirty(False)
        self.session_changed.emit()

    def open_session(self, path: str | Path) -> None:
        """Open a session file; on any error raise SessionError and keep the current one."""
        path = Path(path)
        session = load_session(path)
        self._apply_session(session, path.parent)
        self.path = path
        self._set_dirty(False)
        self.session_changed.emit()

    def current_session(self) -> Session:
        """The session as it stands, with the chain's current parameters written out."""
        task = self.evolution.task if self.last_task_kind == "evolve" else self.train_settings
        return self.session.model_copy(update={"network": self.chain.to_spec(), "task": task})

    def save(self, path: str | Path) -> None:
        path = Path(path)
        save_session(self.current_session(), path)
        self.path = path
        self._set_dirty(False)
        self.session_changed.emit()

    def _set_dirty(self, dirty: bool = True) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirty_changed.emit(dirty)

    def _update_session(self, **changes: object) -> None:
        self.session = self.session.model_copy(update=changes)
        self._set_dirty()

    # -- architecture ----------------------------------------------------------------------

    @property
    def network(self) -> NetworkSpec:
        return self.session.network

    def set_network(self, network: NetworkSpec) -> None:
        """Replace the architecture; the chain is re-initialised from the seed."""
        network = network.model_copy(update={"input_size": self.dataset.inputs.shape[1]})
        try:
            chain = self._build_chain(network, self.session.dtype, self.session.seed)
        except SessionError:
            # explicit parameters (from a session file) that no longer fit the new shapes
            network = network.without_parameters()
            chain = self._build_chain(network, self.session.dtype, self.session.seed)
            self.message_posted.emit("the parameters no longer fit the new shapes; "
                                     "re-initialised from the seed")
        self.stop_training()
        self.chain, self.pass_ = chain, None
        self._update_session(network=network)
        self._reset_training()
        self.chain_changed.emit()
        self.recompute()

    def set_layers(self, layers: list[LayerSpec]) -> None:
        self.set_network(NetworkSpec(input_size=self.network.input_size, layers=layers))

    def set_all_activations(self, kind: str) -> None:
        self.set_layers([s.model_copy(update={"kind": kind}) if isinstance(s, ActivationSpec)
                         else s for s in self.network.layers])

    def set_seed(self, seed: int) -> None:
        self._update_session(seed=seed)
        self.set_network(self.network.without_parameters())

    def set_loss(self, loss: str) -> None:
        self._update_session(loss=loss)
        self._reset_training()
        self.recompute()

    # -- data and the stepping batch -------------------------------------------------------

    def set_data(self, data: object) -> None:
        """Switch the dataset (a GeneratedData or CsvData); the network's input size follows."""
        candidate = self.session.model_copy(update={"data": data})
        try:
            dataset = load_data(candidate, self.base_dir)
        except SessionError as error:
            self.message_posted.emit(str(error))
            raise
        self.stop_training()
        self.dataset = dataset
        self.session = candidate
        self._reset_probe()
        self._set_dirty()
        self.data_changed.emit()
        if self.network.input_size != dataset.inputs.shape[1]:
            self.set_network(self.network.without_parameters())
        else:
            self._reset_training()
            self.recompute()

    def _reset_probe(self) -> None:
        """The sliders start at the first sample; a one-sample dataset is stepped as is."""
        dataset = self.dataset
        self.use_probe = dataset.size == 1
        self.probe = list(dataset.inputs[0])
        self.probe_target = float(dataset.targets_for(self.session.loss)
                                  .reshape(dataset.size, -1)[0, 0])

    def set_probe(self, feature: int, value: float) -> None:
        self.probe[feature] = value
        self.use_probe = True
        self.recompute()

    def set_probe_target(self, value: float) -> None:
        self.probe_target = value
        self.use_probe = True
        self.recompute()

    def set_stepping_batch(self, use_probe: bool, batch_size: int = 0) -> None:
        self.use_probe, self.stepping_batch_size = use_probe, batch_size
        self.recompute()

    def dataset_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples, targets prepared for the loss. Raises TargetError."""
        inputs = torch.tensor(self.dataset.inputs, dtype=self.chain.dtype)
        raw = torch.tensor(self.dataset.targets_for(self.session.loss), dtype=self.chain.dtype)
        return inputs, prepare_targets(self.session.loss, raw, self.chain.output_size)

    def stepping_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.use_probe:
            inputs = torch.tensor([self.probe], dtype=self.chain.dtype)
            raw = torch.full((1, 1 if self.session.loss == "cross_entropy"
                              else self.chain.output_size), self.probe_target,
                             dtype=self.chain.dtype)
            return inputs, prepare_targets(self.session.loss, raw, self.chain.output_size)
        inputs, targets = self.dataset_tensors()
        if 0 < self.stepping_batch_size < len(inputs):
            return inputs[:self.stepping_batch_size], targets[:self.stepping_batch_size]
        return inputs, targets

    # -- stepping --------------------------------------------------------------------------

    def _new_pass(self) -> Pass | None:
        try:
            inputs, targets = self.stepping_tensors()
        except TargetError as error:
            self._set_problem(f"targets do not fit the loss: {error}")
            return None
        self._set_problem("")
        return Pass(self.chain, inputs, targets, self.session.loss)

    def _set_problem(self, problem: str) -> None:
        self.problem = problem  # shown by the chain view on the next pass_changed

    def recompute(self) -> None:
        """A full forward and backward pass on the stepping batch (live view)."""
        if self.is_training():
            return
        self.pass_ = self._new_pass()
        if self.pass_ is not None:
            self._guarded(self.pass_.run)
        self.pass_changed.emit()

    def _guarded(self, action: object) -> bool:
        try:
            action()  # type: ignore[operator]
        except (StepOrderError, ValueError) as error:
            self.message_posted.emit(str(error))
            return False
        return True

    def step_forward(self) -> None:
        if self.is_training():
            return
        if self.pass_ is None or self.pass_.loss is not None:
            self.pass_ = self._new_pass()
            if self.pass_ is None:
                self.pass_changed.emit()
                return
        self._guarded(self.pass_.step_forward)
        self.pass_changed.emit()

    def step_backward(self) -> None:
        if self.is_training():
            return
        if self.pass_ is None:
            self.message_posted.emit("finish the forward pass first (no pass started)")
            return
        if self.pass_.phase == "done":
            self.message_posted.emit("the backward pass is complete; step forward to start "
                                     "a new pass")
            return
        self._guarded(self.pass_.step_backward)
        self.pass_changed.emit()

    def reset(self) -> None:
        """Re-initialise the chain from its spec and seed, clear training; recovers from NaN."""
        self.stop_training()
        self.chain = self._build_chain(self.network, self.session.dtype, self.session.seed)
        self.pass_ = None
        self._reset_training()
        self.chain_changed.emit()
        self.pass_changed.emit()
        self.message_posted.emit("reset: parameters re-initialised from the seed")

    # -- training --------------------------------------------------------------------------

    def _reset_training(self) -> None:
        self.trainer = None
        self.history = []
        self.training_reset.emit()
        if hasattr(self, "dataset"):
            self._emit_boundary()

    def set_train_settings(self, **changes: object) -> None:
        """lr and momentum take effect at the next step, without a reset."""
        self.train_settings = self.train_settings.model_copy(update=changes)
        if self.trainer is not None:
            optimizer = self.trainer.optimizer
            optimizer.lr = self.train_settings.lr
            optimizer.momentum = self.train_settings.momentum
            optimizer.weight_decay = self.train_settings.weight_decay
            if "batch_size" in changes:
                self.trainer.batch_size = self.train_settings.batch_size \
                    if 0 < self.train_settings.batch_size < self.dataset.size \
                    else self.dataset.size
        self._set_dirty()

    def _ensure_trainer(self) -> Trainer | None:
        if self.trainer is None:
            try:
                inputs, targets = self.dataset_tensors()
            except TargetError as error:
                self.message_posted.emit(f"cannot train: {error}")
                return None
            settings = self.train_settings
            config = SGDConfig(settings.lr, settings.momentum, settings.weight_decay,
                               settings.nesterov)
            self.trainer = Trainer(self.chain, inputs, targets, self.session.loss, config,
                                   settings.batch_size,
                                   torch.Generator().manual_seed(self.session.seed + 1))
        return self.trainer

    def is_training(self) -> bool:
        return self._worker is not None and self._worker.is_running()

    def start_training(self) -> None:
        if self.is_training() or self._ensure_trainer() is None:
            return
        self.evolution.pause()
        self.last_task_kind = "train"
        if self.history and self.history[-1].nonfinite is not None:
            self.message_posted.emit("the run went non-finite; press Reset to start again")
            return
        assert self.trainer is not None
        self._worker = WorkerThread.run(self._training_items(), self._on_worker_progressed,
                                        self._on_worker_stopped, self._on_worker_failed)
        self.training_state_changed.emit(True)

    def _training_items(self) -> Iterator[object]:
        """The trainer's steps, plus decision-boundary grids computed on the worker thread
        (so the GUI thread never reads the chain while the worker updates it)."""
        assert self.trainer is not None
        extent = self.boundary_extent()
        if extent is None:
            return self.trainer.steps()
        return with_extras(self.trainer.steps(), lambda _: self.boundary_values(extent))

    def boundary_extent(self) -> tuple[float, float, float, float] | None:
        """Where the decision boundary is drawn, or None for data that is not 2-D."""
        if self.dataset.inputs.shape[1] != 2 or not np.isfinite(self.dataset.inputs).all():
            return None
        return grid_extent(self.dataset.inputs)

    def boundary_values(self, extent: tuple[float, float, float, float]) -> np.ndarray:
        return decision_values(self.chain, self.session.loss, extent, LIVE_RESOLUTION)

    def pause_training(self) -> None:
        self.stop_training()

    def stop_training(self) -> None:
        """Stop and join the worker (also on window close)."""
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        worker.stop(receiver=self)
        self.training_state_changed.emit(False)
        self.recompute()
        self._emit_boundary()

    def train_step(self) -> None:
        """One SGD step on the GUI thread (the Step button while paused)."""
        if self.is_training() or self._ensure_trainer() is None:
            return
        assert self.trainer is not None
        if self.history and self.history[-1].nonfinite is not None:
            self.message_posted.emit("the run went non-finite; press Reset to start again")
            return
        self._on_worker_progressed([self.trainer.step()])
        self.recompute()
        self._emit_boundary()

    def _emit_boundary(self) -> None:
        extent = self.boundary_extent()
        self.boundary_computed.emit(None if extent is None else self.boundary_values(extent))

    def _on_worker_progressed(self, items: list[object]) -> None:
        steps, boundaries = split_extras(items)
        if boundaries:
            self.boundary_computed.emit(boundaries[-1])
        if not steps:
            return
        self.history.extend(steps)
        self._set_dirty()
        self.training_progressed.emit(steps)
        if steps[-1].nonfinite is not None:
            self.message_posted.emit(f"training stopped at step {steps[-1].step}: "
                                     f"{steps[-1].nonfinite.describe()}. Press Reset.")

    def _on_worker_stopped(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
            self.training_state_changed.emit(False)
            self.recompute()
            self._emit_boundary()

    def _on_worker_failed(self, message: str) -> None:
        self.message_posted.emit(f"training failed: {message}")
        self._on_worker_stopped()

    # -- read-only views for panels --------------------------------------------------------

    def pass_stats(self) -> list[LayerStats]:
        """Per-layer statistics of the current pass, computed once per pass state."""
        if self.pass_ is None:
            return []
        key = (id(self.pass_), self.pass_.forward_done, self.pass_.backward_done)
        if self._stats_key != key:
            self._stats_key, self._stats = key, layer_stats(self.pass_)
        return self._stats

    _stats_key: tuple[int, int, int] | None = None
    _stats: list[LayerStats] = []  # noqa: RUF012 - replaced, never mutated

    def probe_ranges(self) -> list[tuple[float, float]]:
        """Slider range per input feature: the data's range, padded, at least ±1."""
        low, high = self.dataset.inputs.min(0), self.dataset.inputs.max(0)
        span = np.maximum(high - low, 1.0)
        return [(float(a - 0.25 * s), float(b + 0.25 * s)) for a, b, s in zip(low, high, span,
                                                                            strict=True)]

    def load_parameters(self, write: object) -> None:
        """Let ``write(chain)`` set the chain's parameters (e.g. the GA's best), then redraw."""
        self.stop_training()
        write(self.chain)  # type: ignore[operator]
        self._set_dirty()
        self.recompute()

    def stop_everything(self) -> None:
        self.evolution.stop_everything()
        self.stop_training()

