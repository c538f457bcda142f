"""The one way to turn a validated :class:`Session` into live objects.

The headless runner and the GUI both build their chain, data, targets and trainer here,
so that the same session gives the same numbers in both (a test runs one session both
ways and compares the histories). The GA's live objects are built the same way in
:mod:`engine.evolution.setup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.core.chain import Chain, SpecError
from engine.core.losses import TargetError, prepare_targets
from engine.core.optim import SGDConfig
from engine.core.precision import Precision, Storage
from engine.core.specs import NetworkSpec, NormSpec, walk_specs
from engine.core.training import Trainer
from engine.data.datasets import Dataset, DatasetError, load_csv, make_dataset
from engine.data.session import CsvData, GeneratedData, Session, SessionError
from engine.data.tasks import PrecisionSpec, TrainTask

# The minibatch order has a generator of its own, seeded apart from the initialisers';
# stochastic rounding another, so both roundings see the same minibatches.
MINIBATCH_SEED_OFFSET = 1
ROUNDING_SEED_OFFSET = 2


@dataclass(frozen=True)
class Experiment:
    session: Session
    chain: Chain
    dataset: Dataset
    inputs: torch.Tensor  # (samples, input_size)
    targets: torch.Tensor  # prepared for the session's loss


def load_data(session: Session, base_dir: Path) -> Dataset:
    """The session's dataset; raises :class:`SessionError` (path ``data``)."""
    data = session.data
    try:
        if isinstance(data, GeneratedData):
            return make_dataset(data.dataset, data.samples, data.noise, session.seed,
                                data.classes)
        if isinstance(data, CsvData):
            path = Path(data.path)
            return load_csv(path if path.is_absolute() else base_dir / path,
                            data.input_columns, data.target_column, data.task)
    except DatasetError as error:
        raise SessionError("data", str(error)) from None
    try:
        targets = np.asarray(data.targets, dtype=np.float64)
    except ValueError as error:  # ragged rows of targets
        raise SessionError("data.targets", f"cannot form a table: {error}") from None
    inputs = np.asarray(data.inputs, dtype=np.float64)
    return Dataset(inputs, targets, "regression",
                   tuple(f"x{i + 1}" for i in range(inputs.shape[1])))


def build_chain(network: NetworkSpec, dtype: str, seed: int) -> Chain:
    """The chain, its initialisers drawn from a generator seeded with ``seed``."""
    try:
        return Chain(network, dtype, torch.Generator().manual_seed(seed))
    except SpecError as error:
        raise SessionError(error.path, error.message) from None


def data_tensors(dataset: Dataset, loss: str, chain: Chain) -> tuple[torch.Tensor,
                                                                     torch.Tensor]:
    """All samples in the chain's dtype, and their targets prepared for ``loss``.

    Raises :class:`SessionError` when the data does not fit the chain or the loss.
    """
    if dataset.inputs.shape[1] != chain.input_size:
        raise SessionError("network.input_size", f"the data has {dataset.inputs.shape[1]} "
                           f"input column(s), the network takes {chain.input_size}")
    inputs = torch.tensor(dataset.inputs, dtype=chain.dtype)
    raw = torch.tensor(dataset.targets_for(loss), dtype=chain.dtype)
    try:
        targets = prepare_targets(loss, raw, chain.output_size)
    except TargetError as error:
        raise SessionError("data.targets", f"{error} (loss {loss!r})") from None
    return inputs, targets


def build_experiment(session: Session, base_dir: Path = Path()) -> Experiment:
    """Build the chain (initialisers drawn from the session seed) and load the data."""
    chain = build_chain(session.network, session.dtype, session.seed)
    dataset = load_data(session, base_dir)
    has_batch_norm = any(isinstance(s, NormSpec) and s.kind == "batch"
                         for _, s in walk_specs(session.network.layers))
    if has_batch_norm and dataset.size < 2:
        # every pass the runner makes is in training mode, as torch.nn.BatchNorm1d's
        raise SessionError("data", "batch norm normalises each feature over the batch and "
                           "needs at least 2 samples in training mode; the data has 1")
    inputs, targets = data_tensors(dataset, session.loss, chain)
    return Experiment(session, chain, dataset, inputs, targets)


def make_trainer(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                 task: TrainTask, seed: int) -> Trainer:
    """SGD with the task's settings on ``chain`` (trained in place: pass a copy to keep
    the original); minibatches drawn from a generator seeded with seed + 1, stochastic
    rounding (with ``task.precision``) from one seeded with seed + 2."""
    config = SGDConfig(task.lr, task.momentum, task.weight_decay, task.nesterov)
    generator = torch.Generator().manual_seed(seed + MINIBATCH_SEED_OFFSET)
    return Trainer(chain, inputs, targets, loss, config, task.batch_size, generator,
                   make_storage(task.precision, seed))


def make_storage(precision: PrecisionSpec | None, seed: int) -> Storage | None:
    if precision is None:
        return None
    return Storage(Precision(precision.storage, precision.rounding),
                   torch.Generator().manual_seed(seed + ROUNDING_SEED_OFFSET))
