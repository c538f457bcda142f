"""Turn a validated :class:`Session` into live objects: a chain, its data, its targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.core.chain import Chain, SpecError
from engine.core.losses import TargetError, prepare_targets
from engine.data.datasets import Dataset, DatasetError, load_csv, make_dataset
from engine.data.session import CsvData, GeneratedData, Session, SessionError


@dataclass
class Experiment:
    session: Session
    chain: Chain
    dataset: Dataset
    inputs: torch.Tensor  # (samples, input_size)
    targets: torch.Tensor  # prepared for the session's loss


def load_data(session: Session, base_dir: Path) -> Dataset:
    data = session.data
    try:
        if isinstance(data, GeneratedData):
            return make_dataset(data.dataset, data.samples, data.noise, session.seed)
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


def build_experiment(session: Session, base_dir: Path = Path()) -> Experiment:
    """Build the chain (initialisers drawn from the session seed) and load the data."""
    generator = torch.Generator().manual_seed(session.seed)
    try:
        chain = Chain(session.network, session.dtype, generator)
    except SpecError as error:
        raise SessionError(error.path, error.message) from None
    dataset = load_data(session, base_dir)
    if dataset.inputs.shape[1] != session.network.input_size:
        raise SessionError("network.input_size", f"the data has {dataset.inputs.shape[1]} "
                           f"input column(s), the network takes {session.network.input_size}")
    inputs = torch.tensor(dataset.inputs, dtype=chain.dtype)
    try:
        targets = prepare_targets(session.loss, torch.tensor(dataset.targets_for(session.loss),
                                                             dtype=chain.dtype),
                                  chain.output_size)
    except TargetError as error:
        raise SessionError("data.targets", f"{error} (loss {session.loss!r})") from None
    return Experiment(session, chain, dataset, inputs, targets)
