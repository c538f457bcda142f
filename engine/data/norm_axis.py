"""Which entries one normalisation averages over, and what batch norm does differently.

For a (batch × features) tensor, batch norm normalises each feature (a column) over the
batch; layer, RMS, L1 and L2 norm each normalise one sample (a row) over its features.
:func:`axis_mask` gives the entries that share a chosen entry's statistics.
:func:`batch_of_one` runs the engine's batch norm and ``torch.nn.BatchNorm1d`` on a
batch of one sample in training mode and in eval mode and reports what each did;
:func:`train_vs_eval` computes one small batch's output in both modes for every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.layers import BatchTooSmallError, Norm
from engine.core.specs import NORM_KINDS, NormSpec

AXIS_TEXT = {
    "batch": "each feature over the batch (a column): mean and variance per feature",
    "layer": "each sample over its features (a row): mean and variance per sample",
    "rms": "each sample over its features (a row): root mean square per sample",
    "l1": "each sample over its features (a row): divided by the sum of |x|",
    "l2": "each sample over its features (a row): divided by √(sum of x²)",
}


def axis_mask(kind: str, batch: int, features: int, row: int, column: int) -> np.ndarray:
    """The entries whose statistics normalise entry (``row``, ``column``).

    Returns
    -------
    np.ndarray
        Shape (batch, features), bool: the column ``column`` for batch norm, the row
        ``row`` for every other kind.
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"unknown norm kind {kind!r}")
    if not (0 <= row < batch and 0 <= column < features):
        raise IndexError(f"entry ({row}, {column}) outside a {batch} × {features} tensor")
    mask = np.zeros((batch, features), dtype=bool)
    if kind == "batch":
        mask[:, column] = True
    else:
        mask[row, :] = True
    return mask


def make_norm(kind: str, features: int, dtype: torch.dtype = torch.float64) -> Norm:
    """The engine's norm layer with the defaults a :class:`NormSpec` of ``kind`` gets."""
    spec = NormSpec.model_validate({"kind": kind})
    return Norm(kind, features, spec.resolved_eps(torch.finfo(dtype).eps), dtype,
                spec.momentum)


@dataclass(frozen=True)
class EntryView:
    """How entry (row, column) of a batch is normalised by one kind, from the engine's norm
    in training mode (default affine parameters: weight 1, bias 0)."""

    kind: str
    value: float  # x[row, column]
    statistics: tuple[tuple[str, float], ...]  # (name, value) over the masked entries
    output: float  # the norm's output at (row, column)
    count: int  # entries the statistics are taken over


def entry_view(kind: str, x: np.ndarray, row: int, column: int) -> EntryView:
    """The statistics that normalise ``x[row, column]`` (``x``: (batch, features)) and
    the engine's output there."""
    x = np.asarray(x, dtype=np.float64)
    batch, features = x.shape
    mask = axis_mask(kind, batch, features, row, column)
    values = torch.tensor(x[mask])
    stats: tuple[tuple[str, float], ...]
    if kind in ("batch", "layer"):
        stats = (("mean", float(values.mean())),
                 ("variance (biased)", float(values.var(unbiased=False))))
    elif kind == "rms":
        stats = (("root mean square", float(values.pow(2).mean().sqrt())),)
    else:
        stats = ((f"L{kind[1]} norm", float(torch.linalg.vector_norm(
            values, 1.0 if kind == "l1" else 2.0))),)
    output, _ = make_norm(kind, x.shape[1]).forward(torch.tensor(x), training=True)
    return EntryView(kind, float(x[row, column]), stats, float(output[row, column]),
                     int(mask.sum()))


@dataclass(frozen=True)
class BatchOfOne:
    """Batch norm on a single sample ``x`` (1, features)."""

    x: np.ndarray
    engine_training: str  # what the engine did in training mode: its error, or "ran"
    torch_training: str  # what torch.nn.BatchNorm1d did
    both_refuse: bool
    engine_eval: np.ndarray  # (1, features), on the running statistics
    torch_eval: np.ndarray
    running_mean: np.ndarray  # (features,) the statistics eval mode used
    running_var: np.ndarray


def _attempt(run: Callable[[], object]) -> str:
    try:
        run()
    except (BatchTooSmallError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    return "ran"


def batch_of_one(x: np.ndarray) -> BatchOfOne:
    """Run batch norm on one sample (shape (1, features)) in both modes, engine and torch.

    Both start from fresh running statistics (mean 0, variance 1), so eval mode returns
    x / √(1 + eps).
    """
    tensor = torch.tensor(np.asarray(x, dtype=np.float64).reshape(1, -1))
    features = tensor.shape[1]
    layer = make_norm("batch", features)
    module = torch.nn.BatchNorm1d(features, eps=layer.eps, momentum=layer.momentum).double()
    engine_training = _attempt(lambda: layer.forward(tensor, training=True))
    module.train()
    torch_training = _attempt(lambda: module(tensor))
    engine_eval, _ = layer.forward(tensor, training=False)
    module.eval()
    with torch.no_grad():
        torch_eval = module(tensor)
    return BatchOfOne(
        x=tensor.numpy().copy(), engine_training=engine_training,
        torch_training=torch_training,
        both_refuse=engine_training != "ran" and torch_training != "ran",
        engine_eval=engine_eval.numpy().copy(), torch_eval=torch_eval.numpy().copy(),
        running_mean=layer.buffers["running_mean"].numpy().copy(),
        running_var=layer.buffers["running_var"].numpy().copy())


@dataclass(frozen=True)
class TrainVsEval:
    """One norm kind on one batch in training and in eval mode.

    ``tracked_eval`` is eval mode after ``tracked_steps`` training passes on this batch
    were committed to the running statistics (batch norm's only change).
    """

    kind: str
    training: np.ndarray  # (batch, features)
    fresh_eval: np.ndarray
    tracked_eval: np.ndarray
    tracked_steps: int
    max_difference_fresh: float  # max |training - fresh_eval|
    max_difference_tracked: float


def train_vs_eval(kind: str, x: np.ndarray, tracked_steps: int = 10) -> TrainVsEval:
    """Outputs of the engine's ``kind`` norm for ``x`` (batch, features) in both modes."""
    tensor = torch.tensor(np.asarray(x, dtype=np.float64))
    layer = make_norm(kind, tensor.shape[1])
    training, context = layer.forward(tensor, training=True)
    fresh, _ = layer.forward(tensor, training=False)
    for _ in range(tracked_steps):
        layer.track(context)
    tracked, _ = layer.forward(tensor, training=False)
    return TrainVsEval(
        kind=kind, training=training.numpy().copy(), fresh_eval=fresh.numpy().copy(),
        tracked_eval=tracked.numpy().copy(), tracked_steps=tracked_steps,
        max_difference_fresh=float((training - fresh).abs().max()),
        max_difference_tracked=float((training - tracked).abs().max()))


def example_batch(batch: int = 4, features: int = 5, seed: int = 0) -> np.ndarray:
    """A small batch whose features have different scales and offsets (so that batch
    norm and the per-sample norms visibly disagree). Shape (batch, features)."""
    rng = np.random.default_rng(seed)
    scales = np.linspace(0.5, 3.0, features)
    offsets = np.linspace(-1.0, 2.0, features)
    return rng.normal(size=(batch, features)) * scales + offsets
