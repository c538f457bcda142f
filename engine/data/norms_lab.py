"""Normalisation switched on and off for a whole chain, and the two chains side by side.

:func:`with_norm` rewrites a :class:`NetworkSpec` so that every block (linear → [norm] →
activation) has a norm of one kind right after its linear layer, or none at all.
:func:`side_by_side` runs one forward and backward pass of the chain without norms and of
the chain with them, on the same batch and from the same linear weights, and returns per
block the mean and std of the linear outputs (pre-norm) and of what the block's
nonlinearity receives (post-norm), and the gradient flow ‖dL/da‖ and ‖dL/dW‖.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.layers import Linear, Norm
from engine.core.specs import NORM_KINDS, LinearSpec, NetworkSpec, NormSpec
from engine.core.stepper import Pass
from engine.data.datasets import Dataset
from engine.data.experiment import MINIBATCH_SEED_OFFSET, build_chain, data_tensors


def with_norm(network: NetworkSpec, kind: str | None) -> NetworkSpec:
    """The chain with a norm of ``kind`` after every hidden linear layer (None: no norms).

    Every norm layer of ``network`` is dropped, wherever it sits; then each linear layer
    but the last (the output layer) is followed by a norm of ``kind``. A norm that was
    already there with the same kind is kept as it was (its eps, momentum and any explicit
    parameters); a new one has the defaults. Linear and activation layers are unchanged.

    Parameters
    ----------
    network : NetworkSpec
    kind : str or None
        One of ``NORM_KINDS`` or None.

    Returns
    -------
    NetworkSpec
        Same ``input_size``; ``len(linear layers) - 1`` norms of ``kind`` (or none).
    """
    if kind is not None and kind not in NORM_KINDS:
        raise ValueError(f"unknown norm kind {kind!r}; expected one of {NORM_KINDS}")
    layers = list(network.layers)
    linear_at = [i for i, spec in enumerate(layers) if isinstance(spec, LinearSpec)]
    hidden = set(linear_at[:-1])
    result: list[Any] = []
    for index, spec in enumerate(layers):
        if isinstance(spec, NormSpec):
            continue
        result.append(spec)
        if index in hidden and kind is not None:
            following = layers[index + 1] if index + 1 < len(layers) else None
            if isinstance(following, NormSpec) and following.kind == kind:
                result.append(following)
            else:
                result.append(NormSpec.model_validate({"kind": kind}))
    return NetworkSpec(input_size=network.input_size, layers=result)


def norm_kind_of(network: NetworkSpec) -> str | None:
    """The kind of the chain's norms when they are all of one kind (None: no norms or
    mixed kinds)."""
    kinds = {spec.kind for spec in network.layers if isinstance(spec, NormSpec)}
    return kinds.pop() if len(kinds) == 1 else None


@dataclass(frozen=True)
class Blocks:
    """Where each block sits in a chain: per linear layer, the layer that feeds the
    block's nonlinearity (the norm, or the linear layer itself) and the block's last
    layer (before the next linear layer)."""

    linear: tuple[int, ...]
    normalised: tuple[int, ...]  # the norm after the linear layer, else the linear layer
    last: tuple[int, ...]

    @classmethod
    def of(cls, chain: Chain) -> Blocks:
        layers = chain.layers
        linear = [i for i, layer in enumerate(layers) if isinstance(layer, Linear)]
        ends = [*linear[1:], len(layers)]
        normalised = [i + 1 if i + 1 < len(layers) and isinstance(layers[i + 1], Norm) else i
                      for i in linear]
        return cls(tuple(linear), tuple(normalised), tuple(end - 1 for end in ends))


@dataclass(frozen=True)
class NormProfile:
    """One chain's pass on one batch, per block (one entry per linear layer, the output
    layer last). Statistics are over every entry of the (batch, width) tensor, the std
    with the biased variance (as the norms themselves use).

    ``post_*`` describe what the block's nonlinearity receives: the norm's output, or,
    in a block without a norm, the linear output again (``has_norm`` False).
    """

    kind: str | None
    pre_mean: np.ndarray  # (blocks,)
    pre_std: np.ndarray
    post_mean: np.ndarray
    post_std: np.ndarray
    has_norm: np.ndarray  # (blocks,) bool
    grad_activation: np.ndarray  # ‖dL/da‖, a the block's output (the next layer's input)
    grad_weight: np.ndarray  # ‖dL/dW‖ of the block's linear layer
    loss: float


@dataclass(frozen=True)
class SideBySide:
    """The chain without norms and with norms of ``kind``: same linear weights, same batch."""

    kind: str | None  # None: no norms on either side (both profiles alike)
    without: NormProfile
    with_norm: NormProfile
    batch: int


def profile(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
            kind: str | None) -> NormProfile:
    """Per-block statistics of one training-mode forward and backward pass.

    Shapes: ``inputs`` (batch, input_size); every array of the result (blocks,).
    """
    pass_ = Pass(chain, inputs, targets, loss).run()
    blocks = Blocks.of(chain)

    def moments(indices: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        tensors = [pass_.outputs[i] for i in indices]
        means = [float(t.double().mean()) for t in tensors if t is not None]
        stds = [float(t.double().std(unbiased=False)) for t in tensors if t is not None]
        return np.array(means), np.array(stds)

    pre_mean, pre_std = moments(blocks.linear)
    post_mean, post_std = moments(blocks.normalised)
    grad_activation = [_l2(pass_.grad_outputs[i]) for i in blocks.last]
    grad_weight = [_l2(pass_.grads(i).get("weight")) for i in blocks.linear]
    assert pass_.loss is not None
    return NormProfile(
        kind=kind, pre_mean=pre_mean, pre_std=pre_std, post_mean=post_mean,
        post_std=post_std,
        has_norm=np.array([n != i for n, i in zip(blocks.normalised, blocks.linear,
                                                  strict=True)]),
        grad_activation=np.array(grad_activation), grad_weight=np.array(grad_weight),
        loss=float(pass_.loss))


def _l2(tensor: torch.Tensor | None) -> float:
    return float("nan") if tensor is None else float(torch.linalg.vector_norm(tensor.double()))


def twin_chains(network: NetworkSpec, kind: str | None, dtype: str,
                seed: int) -> tuple[Chain, Chain]:
    """(without norms, with norms of ``kind``), built from ``seed``; the second chain's
    linear layers get the first one's very weights and biases."""
    without = build_chain(with_norm(network, None), dtype, seed)
    normed = build_chain(with_norm(network, kind), dtype, seed)
    source = [layer for layer in without.layers if isinstance(layer, Linear)]
    target = [layer for layer in normed.layers if isinstance(layer, Linear)]
    for mine, theirs in zip(target, source, strict=True):
        for name, tensor in theirs.params.items():
            mine.set_param(name, tensor)
    return without, normed


def first_batch(dataset: Dataset, loss: str, chain: Chain, batch_size: int,
                seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch the trainer would draw first (batch_size 0 or ≥ the data: all of it).

    Shapes: (batch, input_size) and the targets prepared for ``loss``.
    """
    inputs, targets = data_tensors(dataset, loss, chain)
    if 0 < batch_size < len(inputs):
        generator = torch.Generator().manual_seed(seed + MINIBATCH_SEED_OFFSET)
        rows = torch.randperm(len(inputs), generator=generator)[:batch_size]
        return inputs[rows], targets[rows]
    return inputs, targets


def side_by_side(network: NetworkSpec, kind: str | None, dataset: Dataset, loss: str,
                 dtype: str = "float32", seed: int = 0, batch_size: int = 0) -> SideBySide:
    """The chain without norms beside the chain with norms of ``kind``.

    Both are built from ``seed`` with the same linear weights (:func:`twin_chains`) and
    run, in training mode, on the same batch (:func:`first_batch`).

    Raises
    ------
    BatchTooSmallError
        batch norm on a batch of one sample.
    """
    without, normed = twin_chains(network, kind, dtype, seed)
    inputs, targets = first_batch(dataset, loss, without, batch_size, seed)
    return SideBySide(kind=kind, without=profile(without, inputs, targets, loss, None),
                      with_norm=profile(normed, inputs, targets, loss, kind),
                      batch=len(inputs))
