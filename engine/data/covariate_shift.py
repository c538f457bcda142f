"""Covariate shift, shown: how one block's input distribution moves while the chain trains.

The chain without norms and the chain with norms of one kind start from the same linear
weights (:func:`engine.data.norms_lab.twin_chains`) and train with the same SGD settings
on the same minibatches (each trainer's generator seeded alike). Every ``every`` steps
both are run forward, in training mode, on one fixed probe batch, and what the chosen
block's nonlinearity receives is recorded: its mean, std, 15/50/85th percentiles (as
Ioffe & Szegedy's Fig. 1 plots for a sigmoid's input) and a histogram over fixed bins,
with the probe loss. In the chain with norms that is the norm's output; without, the
linear output. A residual block's is what its branch receives (norm(x), or x).

:func:`covariate_shift` is a generator of :class:`ShiftFrame` (a GUI worker iterates it);
:func:`record_covariate_shift` collects the frames into a :class:`ShiftRecord`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.specs import NetworkSpec
from engine.core.stepper import Pass
from engine.data.datasets import Dataset
from engine.data.experiment import MINIBATCH_SEED_OFFSET, data_tensors, make_trainer
from engine.data.norms_lab import Blocks, block_tensors, twin_chains
from engine.data.tasks import TrainTask

PERCENTILES = (15.0, 50.0, 85.0)
RANGE_STDS = 4.0  # the bins span ± this many initial stds (of the wider of the two)


@dataclass(frozen=True)
class ShiftConfig:
    """What to train and what to record. ``block`` counts the chain's blocks from 0:
    its top-level linear layers and residual blocks (:class:`~engine.data.norms_lab.Blocks`)."""

    network: NetworkSpec
    kind: str
    block: int
    loss: str
    task: TrainTask
    dtype: str = "float32"
    seed: int = 0
    steps: int = 300
    every: int = 5
    bins: int = 41
    probe_size: int = 256


@dataclass(frozen=True)
class Snapshot:
    """One chain's recorded block input at one step."""

    mean: float
    std: float
    percentiles: tuple[float, float, float]
    counts: np.ndarray  # (bins,) share of the probe's entries in each bin
    outside: float  # share of entries outside the bins
    loss: float  # on the probe batch


@dataclass(frozen=True)
class ShiftFrame:
    step: int
    edges: np.ndarray  # (bins + 1,), the same in every frame of a run
    without: Snapshot
    with_norm: Snapshot


@dataclass(frozen=True)
class ShiftTrace:
    """One chain's recording: rows are recorded steps."""

    mean: np.ndarray  # (steps,)
    std: np.ndarray
    percentiles: np.ndarray  # (steps, 3)
    counts: np.ndarray  # (steps, bins)
    outside: np.ndarray
    loss: np.ndarray

    @classmethod
    def stack(cls, snapshots: Sequence[Snapshot]) -> ShiftTrace:
        return cls(mean=np.array([s.mean for s in snapshots]),
                   std=np.array([s.std for s in snapshots]),
                   percentiles=np.array([s.percentiles for s in snapshots]).reshape(-1, 3),
                   counts=np.array([s.counts for s in snapshots]),
                   outside=np.array([s.outside for s in snapshots]),
                   loss=np.array([s.loss for s in snapshots]))


@dataclass(frozen=True)
class ShiftRecord:
    """Frames collected into arrays: ``counts`` of each trace is (steps × bins), an image."""

    steps: np.ndarray  # (recorded,)
    edges: np.ndarray  # (bins + 1,)
    without: ShiftTrace
    with_norm: ShiftTrace

    @classmethod
    def collect(cls, frames: Sequence[ShiftFrame]) -> ShiftRecord:
        if not frames:
            raise ValueError("no frames recorded")
        return cls(steps=np.array([f.step for f in frames]), edges=frames[0].edges.copy(),
                   without=ShiftTrace.stack([f.without for f in frames]),
                   with_norm=ShiftTrace.stack([f.with_norm for f in frames]))


def _probe(dataset: Dataset, config: ShiftConfig,
           chain: Chain) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = data_tensors(dataset, config.loss, chain)
    if len(inputs) > config.probe_size:
        # a generator of its own: the trainers' minibatch order is not disturbed
        generator = torch.Generator().manual_seed(config.seed + MINIBATCH_SEED_OFFSET + 100)
        rows = torch.randperm(len(inputs), generator=generator)[:config.probe_size]
        return inputs[rows], targets[rows]
    return inputs, targets


def _block_input(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                 block: int) -> tuple[np.ndarray, float]:
    """(what block ``block``'s nonlinearity receives, flattened; the probe loss)."""
    pass_ = Pass(chain, inputs, targets, loss)
    while pass_.loss is None:
        pass_.step_forward()
    _, output, _ = block_tensors(pass_, Blocks.of(chain).starts[block])
    return output.detach().double().reshape(-1).numpy().copy(), float(pass_.loss)


def _snapshot(values: np.ndarray, loss: float, edges: np.ndarray) -> Snapshot:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        nan = float("nan")
        return Snapshot(nan, nan, (nan, nan, nan), np.zeros(len(edges) - 1), 1.0, loss)
    counts, _ = np.histogram(finite, bins=edges)
    p15, p50, p85 = (float(p) for p in np.percentile(finite, PERCENTILES))
    return Snapshot(mean=float(finite.mean()), std=float(finite.std()),
                    percentiles=(p15, p50, p85), counts=counts / values.size,
                    outside=1.0 - counts.sum() / values.size, loss=loss)


def fixed_edges(first: np.ndarray, second: np.ndarray, bins: int) -> np.ndarray:
    """Bins symmetric about 0 spanning ±4 initial stds of the wider of the two (at least
    ±1e-3), so both chains' histograms share one axis for the whole run."""
    finite = [v[np.isfinite(v)] for v in (first, second)]
    stds = [float(v.std()) if v.size else 0.0 for v in finite]
    centres = [abs(float(v.mean())) if v.size else 0.0 for v in finite]
    half = max(RANGE_STDS * max(stds) + max(centres), 1e-3)
    return np.linspace(-half, half, bins + 1)


def covariate_shift(config: ShiftConfig, dataset: Dataset) -> Iterator[ShiftFrame]:
    """Train both chains ``config.steps`` steps, yielding a frame at step 0 and every
    ``config.every`` steps (and at the last step).

    Raises
    ------
    IndexError
        ``config.block`` is not a block of the chain.
    """
    without, normed = twin_chains(config.network, config.kind, config.dtype, config.seed)
    blocks = len(Blocks.of(without).starts)
    if not 0 <= config.block < blocks:
        raise IndexError(f"block {config.block} out of range: the chain has {blocks}")
    probe = _probe(dataset, config, without)
    trainers = []
    for chain in (without, normed):
        inputs, targets = data_tensors(dataset, config.loss, chain)
        trainers.append(make_trainer(chain, inputs, targets, config.loss, config.task,
                                     config.seed))
    first = [_block_input(chain, *probe, config.loss, config.block)
             for chain in (without, normed)]
    edges = fixed_edges(first[0][0], first[1][0], config.bins)

    def frame(step: int, seen: list[tuple[np.ndarray, float]]) -> ShiftFrame:
        return ShiftFrame(step, edges.copy(), _snapshot(*seen[0], edges),
                          _snapshot(*seen[1], edges))

    yield frame(0, first)
    every = max(1, config.every)
    for step in range(1, config.steps + 1):
        for trainer in trainers:
            trainer.step()
        if step % every == 0 or step == config.steps:
            yield frame(step, [_block_input(chain, *probe, config.loss, config.block)
                               for chain in (without, normed)])


def record_covariate_shift(config: ShiftConfig, dataset: Dataset,
                           should_stop: Callable[[], bool] | None = None) -> ShiftRecord:
    """Collect :func:`covariate_shift`; ``should_stop()`` (checked after each frame) ends
    the run early with what was recorded so far."""
    frames = []
    for item in covariate_shift(config, dataset):
        frames.append(item)
        if should_stop is not None and should_stop():
            break
    return ShiftRecord.collect(frames)
