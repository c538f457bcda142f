"""The one place where the engine meets Qt: the current session and its live objects.

``AppState`` owns the session (architecture, data, loss, dtype, seed, settings), the
chain the window shows, the stepping pass and what it steps through
(:class:`SteppingInputs`), and the :class:`RunSlot` with its peer runs
(training; evolution: the GA's, or OpenES's and PSO's in ``strategy``; the 4-bit grid
comparison). Panels call its methods on user input and redraw when it
signals; they never call each other. Signals are past-tense events.

Every edit of the session goes through :meth:`AppState._edit`, which stops the running
run *before* anything changes and resets the runs the edit invalidates afterwards; the
new objects are built first, so an edit that fails leaves everything as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from engine.core.chain import Chain
from engine.core.layers import BatchTooSmallError
from engine.core.losses import TargetError
from engine.core.plots import LIVE_RESOLUTION, decision_values, grid_extent
from engine.core.spec_edits import with_activation
from engine.core.specs import LayerSpec, LinearSpec, NetworkSpec, seed_example
from engine.core.stats import LayerStats, layer_stats
from engine.core.stepper import Pass, StepOrderError
from engine.core.training import TrainStep
from engine.data.datasets import Dataset
from engine.data.experiment import build_chain, data_tensors, load_data
from engine.data.norms_lab import with_norm
from engine.data.session import (
    Data,
    GeneratedData,
    PanelSettings,
    Session,
    SessionError,
    load_session,
    save_session,
    storage_formats,
)
from engine.data.stepping_inputs import SteppingInputs, slider_ranges
from engine.data.tasks import EvolveTask, PrecisionSpec, StepTask, TrainTask
from gui.comparison_run import GridComparisonRun
from gui.evolution_run import EvolutionRun
from gui.generation_run import GenerationRun, algorithm_text
from gui.island_run import IslandRun
from gui.run_slot import RunSlot
from gui.strategy_run import StrategyRun
from gui.training_run import TrainingRun

BOTH_RUNS = ("training", "evolution")


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
    chain_changed : a new chain (architecture, dtype or seed) replaced the old one.
    parameters_changed : the chain's parameters changed (training, reset, "use best").
    data_changed : the dataset or the slider ranges changed.
    settings_changed : the loss, training or evolution settings changed.
    pass_changed : the stepping pass advanced or was recomputed.
    boundary_changed : the chain's decision boundary changed (read it with ``boundary()``,
        which computes it only when a visible view asks).
    session_changed : a session was opened, created or saved (path, name).
    dirty_changed(bool) : unsaved changes appeared or were saved.
    message_posted(str) : something the user should read in the status bar.
    refusal_withdrawn(str) : a stepping refusal posted before no longer holds (the pass
        moved on): take it down if it is still shown.
    number_inspected(str, str, str) : a value to show in the Numbers lab: its exact text,
        its format, and where it came from ("Show bits").
    """

    chain_changed = Signal()
    parameters_changed = Signal()
    data_changed = Signal()
    settings_changed = Signal()
    pass_changed = Signal()
    boundary_changed = Signal()
    session_changed = Signal()
    dirty_changed = Signal(bool)
    message_posted = Signal(str)
    refusal_withdrawn = Signal(str)
    number_inspected = Signal(str, str, str)

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.path: Path | None = None
        self.dirty = False
        self.problem = ""
        self.pass_: Pass | None = None
        self.base_dir = Path()
        # the last value "Show bits" asked for: its text, format and where it came from
        self.inspected: tuple[str, str, str] | None = None
        self.stepping_inputs = SteppingInputs()
        self.slot = RunSlot()
        self.training = TrainingRun(self, self.slot)
        self.evolution = EvolutionRun(self, self.slot)  # owns the evolve task
        self.run_count = 0  # evolution runs of this session, all algorithms together
        self.evolution.next_number = self._next_run_number
        self.strategy = StrategyRun(self, self.slot, lambda: self.evolution.task,
                                    self._next_run_number)
        self.islands = IslandRun(self, self.slot, lambda: self.evolution.task,
                                 self._next_run_number)
        self.grid_comparison = GridComparisonRun(self, self.slot, lambda: self.evolution.task)
        self.training.progressed.connect(lambda _: self._set_dirty())
        self._apply_session(session or default_session())

    # -- the one edit path -----------------------------------------------------------------

    @contextmanager
    def _edit(self, resets: tuple[str, ...] = BOTH_RUNS, dirty: bool = True,
              why: str = "the chain, its data or the loss changed") -> Iterator[None]:
        """Stop the run, apply the edit (the ``with`` body), reset the runs it invalidates
        ("evolution": the evolution runs and the comparison, which ``why`` names;
        "algorithm": the evolution runs only)."""
        self.slot.stop()
        yield
        self.pass_ = None  # of the old chain or data: never shown beside the new ones
        self._reset_runs(resets, why)
        if dirty:
            self._set_dirty()

    def _reset_runs(self, resets: tuple[str, ...], why: str = "") -> None:
        if "training" in resets:
            self.training.reset()
        if "evolution" in resets or "algorithm" in resets:
            self.evolution.reset()
            self.strategy.reset()
            self.islands.reset()
        if "evolution" in resets:
            self.grid_comparison.reset(why)

    # -- session ---------------------------------------------------------------------------

    def _apply_session(self, session: Session, base_dir: Path = Path()) -> None:
        """Build everything from ``session``; raises SessionError leaving state untouched."""
        dataset = load_data(session, base_dir)
        chain = build_chain(session.network, session.dtype, session.seed)
        with self._edit(dirty=False, why=""):
            self.session, self.dataset, self.chain = session, dataset, chain
            self.run_count = 0  # a new session numbers its runs from 1
            self.base_dir = base_dir
            panels = session.panels or PanelSettings()
            task = session.task
            self.training.set_settings(panels.train or (task if isinstance(task, TrainTask)
                                                        else TrainTask()))
            self.evolution.set_task(panels.evolve or (task if isinstance(task, EvolveTask)
                                                      else EvolveTask()))
            self.last_task_kind = self.progress_shown = task.kind
            self.stepping_inputs.reset(dataset, session.loss)
            self.stepping_inputs.restore(panels)
        self.data_changed.emit()
        self.chain_changed.emit()
        self.settings_changed.emit()
        self._parameters_shown()

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
        """The session as it stands: the chain's current parameters and running statistics,
        the task last run, and every panel's settings."""
        task: StepTask | TrainTask | EvolveTask = StepTask()
        if self.last_task_kind == "train":
            task = self.training.settings
        elif self.last_task_kind == "evolve":
            task = self.evolution.task
        panels = self.stepping_inputs.saved_in(
            PanelSettings(train=self.training.settings, evolve=self.evolution.task))
        return self.session.model_copy(update={"network": self.chain.to_spec(), "task": task,
                                               "panels": panels})

    def save(self, path: str | Path, name: str | None = None) -> None:
        """Write the session to ``path``; ``name`` (Save As: the file's name) renames it
        first, so that a file never carries the name of the example it started from."""
        path = Path(path)
        session = self.current_session()
        if name is not None:
            session = session.model_copy(update={"name": name})
        save_session(session, path)  # first: a failed write changes nothing here
        if name is not None:
            self.session = self.session.model_copy(update={"name": name})
        self.path = path
        self._set_dirty(False)
        self.session_changed.emit()

    def _set_dirty(self, dirty: bool = True) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirty_changed.emit(dirty)

    # -- architecture, dtype, seed, loss ---------------------------------------------------

    @property
    def network(self) -> NetworkSpec:
        return self.session.network

    def set_network(self, network: NetworkSpec) -> None:
        """Replace the architecture; the chain is re-initialised from the seed."""
        network = network.model_copy(update={"input_size": self.dataset.inputs.shape[1]})
        try:
            chain = build_chain(network, self.session.dtype, self.session.seed)
        except SessionError:
            # explicit parameters (from a session file) that no longer fit the new shapes
            network = network.without_parameters()
            chain = build_chain(network, self.session.dtype, self.session.seed)
            self.message_posted.emit("the parameters no longer fit the new shapes; "
                                     "re-initialised from the seed")
        with self._edit():
            self.chain = chain
            self.session = self.session.model_copy(update={"network": network})
        self.chain_changed.emit()
        self._parameters_shown()

    def set_layers(self, layers: list[LayerSpec]) -> None:
        self.set_network(NetworkSpec(input_size=self.network.input_size, layers=layers))

    def set_all_activations(self, kind: str) -> None:
        """Every activation, those inside residual blocks too."""
        self.set_layers(with_activation(list(self.network.layers), kind))

    def set_chain_norm(self, kind: str | None) -> None:
        """A norm of ``kind`` in every block, or none at all: after every hidden linear
        layer, or in a residual chain first inside every block (pre-norm)."""
        self.set_network(with_norm(self.network, kind))

    def set_seed(self, seed: int) -> None:
        """A new seed re-draws the initial parameters and a generated dataset, as a
        headless run of the saved session would."""
        session = self.session.model_copy(update={
            "seed": seed, "network": self.network.without_parameters()})
        dataset = load_data(session, self.base_dir)
        chain = build_chain(session.network, session.dtype, seed)
        with self._edit():
            self.session, self.dataset, self.chain = session, dataset, chain
            self.stepping_inputs.reset(dataset, session.loss)
        self.data_changed.emit()
        self.chain_changed.emit()
        self._parameters_shown()

    def set_dtype(self, dtype: str) -> None:
        """Rebuild the chain in ``dtype`` with its current parameters (rounded to it)."""
        session = self.session.model_copy(update={"dtype": dtype,
                                                  "network": self.chain.to_spec()})
        chain = build_chain(session.network, dtype, session.seed)
        with self._edit():
            self.session, self.chain = session, chain
            precision = self.training.settings.precision
            if precision is not None and precision.storage not in storage_formats(dtype):
                # float64 storage cannot outlive a float64 chain: back to the compute dtype
                self.training.set_settings(
                    self.training.settings.model_copy(update={"precision": None}))
        self.chain_changed.emit()
        self.settings_changed.emit()
        self._parameters_shown()

    def set_loss(self, loss: str) -> None:
        with self._edit():
            self.session = self.session.model_copy(update={"loss": loss})
            self.stepping_inputs.reset_target(self.dataset, loss)
        self.settings_changed.emit()
        self.data_changed.emit()  # the target slider reads the targets as the loss does
        self._parameters_shown()

    def reset(self) -> None:
        """Back to the chain the session began with: its file's parameters when it has
        them, else initialised from the seed; clears both runs and recovers from a run
        that went non-finite."""
        chain = build_chain(self.network, self.session.dtype, self.session.seed)
        with self._edit():
            self.chain = chain
        self._parameters_shown()
        self.message_posted.emit(
            "reset: back to the session's own parameters, as opened or typed in (a new "
            "seed re-initialises)"
            if self.network.has_parameters()
            else "reset: parameters re-initialised from the seed")

    def adopt_parameters(self, source: Chain, why: str) -> None:
        """Take ``source``'s parameters as the chain's own (an edit: training restarts
        from them; the evolution history stays)."""
        with self._edit(resets=("training",)):
            self.chain.load_state(source)
        self.message_posted.emit(why)
        self._parameters_shown()

    def set_parameter(self, layer: int, name: str, position: tuple[int, ...],
                      value: float) -> None:
        """Set one weight or bias by hand (an edit: training restarts from it)."""
        tensor = self.chain.layers[layer].params[name].clone()
        tensor[position] = value
        with self._edit(resets=("training",)):
            self.chain.layers[layer].set_param(name, tensor)
            self.session = self.session.model_copy(update={"network": self.chain.to_spec()})
        self._parameters_shown()

    def show_parameters(self, source: Chain, boundary: np.ndarray | None = None) -> None:
        """A run's progress: show ``source``'s parameters (not an edit; the run goes on).
        ``boundary`` is the decision boundary the worker computed beside them, if any."""
        self.chain.load_state(source)
        self._parameters_shown(boundary)

    def _parameters_shown(self, boundary: np.ndarray | None = None) -> None:
        self.parameters_changed.emit()
        self.recompute()
        self._boundary = boundary  # None: computed when a visible view asks for it
        self._boundary_known = boundary is not None
        self.boundary_changed.emit()

    # -- data and the stepping batch -------------------------------------------------------

    def set_data(self, data: Data) -> None:
        """Switch the dataset. The network's input size follows it, and for K ≥ 3 classes
        its output width and the loss (cross entropy) too."""
        candidate = self.session.model_copy(update={"data": data})
        try:
            dataset = load_data(candidate, self.base_dir)
        except SessionError as error:
            self.message_posted.emit(str(error))
            raise
        network, loss = self._network_for(dataset)
        chain = self.chain if network is self.network \
            else build_chain(network, candidate.dtype, candidate.seed)
        with self._edit():
            self.session = candidate.model_copy(update={"network": network, "loss": loss})
            self.dataset, self.chain = dataset, chain
            self.stepping_inputs.reset(dataset, self.session.loss)
        self.data_changed.emit()
        self.settings_changed.emit()
        self.chain_changed.emit()
        self._parameters_shown()

    def _network_for(self, dataset: Dataset) -> tuple[NetworkSpec, str]:
        network, loss = self.network, self.session.loss
        if network.input_size != dataset.inputs.shape[1]:
            network = network.model_copy(update={"input_size": dataset.inputs.shape[1]})
            network = network.without_parameters()
        if dataset.classes >= 3:
            last = max((i for i, s in enumerate(network.layers) if isinstance(s, LinearSpec)),
                       default=None)
            if last is not None and (network.output_size() != dataset.classes
                                     or loss != "cross_entropy"):
                layers = list(network.layers)
                layers[last] = layers[last].model_copy(update={
                    "out_features": dataset.classes, "weight": None, "bias": None})
                network = NetworkSpec(input_size=network.input_size, layers=layers)
                network = network.without_parameters()
                loss = "cross_entropy"
                self.message_posted.emit(f"{dataset.classes} classes: the last linear layer "
                                         f"now has {dataset.classes} outputs and the loss "
                                         "is cross_entropy")
        return network, loss

    def set_probe(self, feature: int, value: float) -> None:
        self.stepping_inputs.set_probe(feature, value)
        self.recompute()

    def set_probe_target(self, value: float) -> None:
        self.stepping_inputs.set_target(value)
        self.recompute()

    def set_stepping_batch(self, use_probe: bool, batch_size: int = 0) -> None:
        self.stepping_inputs.set_batch(use_probe, batch_size)
        self.recompute()

    def data_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples, targets prepared for the loss. Raises SessionError."""
        return data_tensors(self.dataset, self.session.loss, self.chain)

    def stepping_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The stepping batch; raises SessionError or TargetError."""
        return self.stepping_inputs.tensors(self.dataset, self.session.loss, self.chain)

    def probe_ranges(self) -> list[tuple[float, float]]:
        """Slider range per input feature (:func:`slider_ranges`)."""
        return slider_ranges(self.dataset)

    # -- training and evolution, as the toolbar and status bar see them -------------------

    def is_training(self) -> bool:
        return self.training.is_running()

    @property
    def history(self) -> list[TrainStep]:
        return self.training.history

    def set_train_settings(self, **changes: object) -> None:
        """lr, momentum, weight decay, Nesterov and batch size reach a running trainer at
        its next step, without a reset."""
        self.training.set_settings(self.training.settings.model_copy(update=changes))
        self._set_dirty()

    def set_precision(self, precision: PrecisionSpec | None) -> None:
        """Keep the trained weights in a narrower format (None: the session dtype). An
        edit: the trainer restarts, rounding its weights to the format at its start."""
        with self._edit(resets=("training",)):
            self.training.set_settings(
                self.training.settings.model_copy(update={"precision": precision}))
        self.settings_changed.emit()

    def set_evolve_task(self, task: EvolveTask) -> None:
        """New evolution settings. Another algorithm (or the GA going from one population
        to islands or back) ends the run of the one before and clears its history (the
        plots show one algorithm's run), and says so."""
        self.grid_comparison.note_task(task)
        old_run, old = self.evolution_run(), self.evolution.task
        if self._run_for(task) is old_run and task.algorithm == old.algorithm:
            self.evolution.set_task(task)
            self._set_dirty()
            return
        ended = f"{old_run.title()} ended: {algorithm_text(task)} chosen" \
            if old_run.history else ""
        if self.slot.running == "comparison":  # it needs no stop: it runs both
            self.evolution.set_task(task)
            self._reset_runs(("algorithm",))
            self._set_dirty()
        else:
            with self._edit(resets=("algorithm",)):
                self.evolution.set_task(task)
        if ended:
            self.evolution_run().message_posted.emit(ended)

    def evolution_run(self) -> GenerationRun:
        """The run of the chosen algorithm: the GA's (one population or islands), or
        OpenES's or PSO's."""
        return self._run_for(self.evolution.task)

    def _run_for(self, task: EvolveTask) -> GenerationRun:
        if task.algorithm != "ga":
            return self.strategy
        return self.islands if task.islands > 1 else self.evolution

    def _next_run_number(self) -> int:
        self.run_count += 1
        return self.run_count

    # Every way of running a task goes through here, so that the session saves (and the
    # status bar shows) the task that ran last. Stepping the pass is no task: the session
    # keeps saving the last one, but the status bar shows the pass (``progress_shown``).
    def start_training(self) -> None:
        self.last_task_kind = self.progress_shown = "train"
        self.training.start()

    def step_training(self) -> None:
        self.last_task_kind = self.progress_shown = "train"
        self.training.step()

    def start_evolution(self) -> None:
        self.last_task_kind = self.progress_shown = "evolve"
        self.evolution_run().start()

    def step_evolution(self) -> None:
        self.last_task_kind = self.progress_shown = "evolve"
        self.evolution_run().step()

    def resume_evolution(self) -> None:
        self.last_task_kind = self.progress_shown = "evolve"
        self.evolution_run().resume()

    def stop_everything(self) -> None:
        """Stop and join whatever runs (also on window close)."""
        self.slot.stop()

    # -- stepping --------------------------------------------------------------------------

    def _new_pass(self) -> Pass | None:
        try:
            inputs, targets = self.stepping_tensors()
        except (TargetError, SessionError) as error:
            self.problem = f"targets do not fit the loss: {error}"
            return None
        self.problem = ""
        return Pass(self.chain, inputs, targets, self.session.loss)

    def recompute(self) -> None:
        """A full forward and backward pass on the stepping batch (live view)."""
        self.pass_ = self._new_pass()
        if self.pass_ is not None and self._guarded(self.pass_.run):
            self._withdraw_refusal()
        self.pass_changed.emit()

    def _guarded(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except BatchTooSmallError as error:
            self._refuse(f"{error}: " + (
                "step on more samples (Stepping batch: the data, first N ≥ 2)"
                if self.dataset.size >= 2 else
                "the data has one sample; generate or load more on the Training page"))
            return False
        except (StepOrderError, ValueError) as error:
            self._refuse(str(error))
            return False
        return True

    @property
    def refusal(self) -> str:
        """Why the last stepping action was refused, while that still holds ("" if
        none): the Chain page shows it beside the pass it stopped."""
        return self._refusal

    def _refuse(self, why: str) -> None:
        """Say why a stepping action was refused; the pass moving on withdraws it."""
        self._refusal = why
        self.message_posted.emit(why)

    def _withdraw_refusal(self) -> None:
        if self._refusal:
            self.refusal_withdrawn.emit(self._refusal)
            self._refusal = ""

    _refusal = ""

    def step_forward(self) -> None:
        """The next layer forward; past the loss, a new pass begins (and that is said)."""
        restarted = self.pass_ is not None and self.pass_.loss is not None
        if self.pass_ is None or restarted:
            self.pass_ = self._new_pass()
            if self.pass_ is None:
                self.pass_changed.emit()
                return
        self._step(self.pass_.step_forward, "a new pass from the input: the last one had "
                   "reached the loss" if restarted else "")

    def step_backward(self) -> None:
        if self.pass_ is None:
            self._refuse("finish the forward pass first (no pass started)")
            return
        if self.pass_.phase == "done":
            self._refuse("the backward pass is complete; step forward to start a new pass")
            return
        self._step(self.pass_.step_backward)

    def _step(self, step: Callable[[], object], note: str = "") -> None:
        self.progress_shown = "step"
        if self._guarded(step):
            self._withdraw_refusal()  # a refusal still shown would contradict the pass
            if note:
                self.message_posted.emit(note)
        self.pass_changed.emit()

    # -- read-only views for panels --------------------------------------------------------

    def inspect_number(self, value: float, fmt: str, source: str) -> None:
        """Show ``value`` (a number held in format ``fmt``) in the Numbers lab. repr of a
        Python float round-trips exactly, so the lab encodes the very value held. Kept in
        ``inspected`` too: a lab built in answer to the signal missed it."""
        self.inspected = (repr(float(value)), fmt, source)
        self.number_inspected.emit(*self.inspected)

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

    def boundary_extent(self) -> tuple[float, float, float, float] | None:
        """Where the decision boundary is drawn, or None for data that is not 2-D."""
        if self.dataset.inputs.shape[1] != 2 or not np.isfinite(self.dataset.inputs).all():
            return None
        return grid_extent(self.dataset.inputs)

    _boundary: np.ndarray | None = None
    _boundary_known = False

    def boundary(self) -> np.ndarray | None:
        """The chain's decision boundary on the live grid (None for data that is not 2-D):
        a worker's when it sent one, else computed now and kept until the chain changes
        (a deep chain's grid costs a forward pass of 2 304 samples)."""
        if not self._boundary_known:
            extent = self.boundary_extent()
            self._boundary = None if extent is None else decision_values(
                self.chain, self.session.loss, extent, LIVE_RESOLUTION)
            self._boundary_known = True
        return self._boundary
