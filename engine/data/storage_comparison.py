"""One training run per storage format, side by side: what low precision does to SGD.

Every run starts from the same session (same initial weights, same minibatches) and
differs only in the format its weights are kept in (:mod:`engine.core.precision`). For
stochastic rounding the weights are averaged over several rounding seeds, which shows
what stochastic rounding promises: right on average, where nearest rounding never
moves a swamped weight at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.experiment import ROUNDING_SEED_OFFSET, build_experiment, make_trainer
from engine.data.session import Session, check_precision
from engine.data.tasks import PrecisionSpec, TrainTask


@dataclass(frozen=True)
class StorageRun:
    """One format's run. Shapes: ``losses`` (steps,), ``weights`` (steps + 1, linear
    layers) holding each linear layer's first weight W[0, 0] from before the first step,
    ``swamped`` (steps, linear layers); with ``repeats`` > 1 each is the mean over the
    rounding seeds."""

    label: str
    precision: PrecisionSpec | None
    repeats: int
    losses: np.ndarray
    weights: np.ndarray
    swamped: np.ndarray


def compare_storage(session: Session, task: TrainTask,
                    precisions: Sequence[PrecisionSpec | None], steps: int,
                    stochastic_repeats: int = 16, base_dir: Path = Path(),
                    should_stop: Callable[[], bool] = lambda: False) -> list[StorageRun]:
    """Train ``session`` for ``steps`` steps with ``task``'s SGD settings once per entry
    of ``precisions`` (None: the session dtype, no storage rounding). Raises
    :class:`SessionError` for a format wider than the session dtype."""
    for precision in precisions:
        check_precision(precision, session.dtype)
    runs = []
    for precision in precisions:
        repeats = stochastic_repeats if precision is not None \
            and precision.rounding == "stochastic" else 1
        trials = [_train(session, task.model_copy(update={"precision": precision}), steps,
                         session.seed + k, base_dir) for k in range(repeats)]
        if should_stop():
            break
        losses, weights, swamped = (np.mean([t[i] for t in trials], axis=0) for i in range(3))
        runs.append(StorageRun(_label(precision, session.dtype), precision, repeats,
                               losses, weights, swamped))
    return runs


def _train(session: Session, task: TrainTask, steps: int, rounding_seed: int,
           base_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    experiment = build_experiment(session, base_dir)
    chain = experiment.chain
    trainer = make_trainer(chain, experiment.inputs, experiment.targets, session.loss, task,
                           session.seed)
    if trainer.storage is not None:  # another rounding seed, the same minibatches
        trainer.storage.generator = torch.Generator().manual_seed(
            rounding_seed + ROUNDING_SEED_OFFSET)
    linear = [layer for _, layer in chain.linear_layers()]

    def first_weights() -> list[float]:
        return [float(layer.params["weight"][0, 0]) for layer in linear]

    losses: list[float] = []
    weights = [first_weights()]
    swamped: list[list[float]] = []
    for record in trainer.steps(steps):
        losses.append(record.loss)
        weights.append(first_weights())
        swamped.append(list(record.swamped) or [0.0] * len(linear))
    while len(losses) < steps:  # a run that went non-finite: the rest is NaN
        losses.append(np.nan)
        weights.append([np.nan] * len(linear))
        swamped.append([np.nan] * len(linear))
    return np.asarray(losses), np.asarray(weights), np.asarray(swamped)


def _label(precision: PrecisionSpec | None, dtype: str) -> str:
    if precision is None:
        return f"{dtype} (compute dtype)"  # "×N" in a legend: the mean of N rounding seeds
    return f"{precision.storage}, {precision.rounding}"
