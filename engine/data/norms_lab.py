"""Normalisation switched on and off for a whole chain, and the two chains side by side.

:func:`with_norm` rewrites a :class:`NetworkSpec` so that every block (linear → [norm] →
activation) has a norm of one kind right after its linear layer, and every residual block
one first inside it (pre-norm, x + f(norm(x))), or no norm at all.
:func:`side_by_side` runs one forward and backward pass of the chain without norms and of
the chain with them, on the same batch and from the same linear weights, and returns per
block the mean and std of what the norm takes (the linear outputs; a residual block's
input x) and of what it gives on (the block's nonlinearity's input; what the residual
branch receives), and the gradient flow ‖dL/da‖ and ‖dL/dW‖.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.layers import Linear, Norm
from engine.core.residual import Residual, walk
from engine.core.spec_edits import with_block_norms
from engine.core.specs import (
    NORM_KINDS,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    walk_specs,
)
from engine.core.stepper import LayerRecord, Pass
from engine.data.datasets import Dataset
from engine.data.experiment import MINIBATCH_SEED_OFFSET, build_chain, data_tensors


def with_norm(network: NetworkSpec, kind: str | None) -> NetworkSpec:
    """The chain with a norm of ``kind`` in every block (None: no norms at all).

    Every norm layer of ``network`` is dropped, wherever it sits, residual blocks' own
    included. Then, in a chain with residual blocks, each block gets a norm of ``kind``
    first inside it (pre-norm, x + f(norm(x)): the residual stream itself is never
    normalised); in a chain without, each linear layer but the last (the output layer) is
    followed by one. A norm of the same kind already in that place (right after the
    linear layer, or first in the block) is kept as it was (its eps, momentum and any
    explicit parameters); a new one has the defaults. Linear and activation layers are
    unchanged.

    Parameters
    ----------
    network : NetworkSpec
    kind : str or None
        One of ``NORM_KINDS`` or None.

    Returns
    -------
    NetworkSpec
        Same ``input_size``; ``len(linear layers) - 1`` norms of ``kind``, or one per
        residual block in a chain with them (or none).
    """
    if kind is not None and kind not in NORM_KINDS:
        raise ValueError(f"unknown norm kind {kind!r}; expected one of {NORM_KINDS}")
    layers = list(network.layers)
    if any(isinstance(spec, ResidualSpec) for spec in layers):
        return NetworkSpec(input_size=network.input_size,
                           layers=with_block_norms(layers, kind))
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
    kinds = {spec.kind for _, spec in walk_specs(network.layers)
             if isinstance(spec, NormSpec)}
    return kinds.pop() if len(kinds) == 1 else None


@dataclass(frozen=True)
class Blocks:
    """Where each block sits in a chain, as top-level layer indices: a block starts at a
    linear layer or a residual block (``starts``) and ends before the next one (``last``:
    its last layer)."""

    starts: tuple[int, ...]
    last: tuple[int, ...]  # per start

    @classmethod
    def of(cls, chain: Chain) -> Blocks:
        starts = [i for i, layer in enumerate(chain.layers)
                  if isinstance(layer, Linear | Residual)]
        ends = [*starts[1:], len(chain.layers)]
        return cls(tuple(starts), tuple(end - 1 for end in ends))


@dataclass(frozen=True)
class NormProfile:
    """One chain's pass on one batch, per block (one entry per linear layer or residual
    block, the output layer last). Statistics are over every entry of the (batch, width)
    tensor, the std with the biased variance (as the norms themselves use).

    ``pre_*`` describe what a norm there takes: the linear layer's output, or a residual
    block's input x (the residual stream). ``post_*`` describe what goes on: the block's
    nonlinearity's input (the norm's output, or, with no norm, the linear output again),
    or what a residual block's branch receives (norm(x), or x itself). ``residual`` marks
    the residual blocks; their ‖dL/dW‖ is over all their linear layers' weights.
    """

    kind: str | None
    pre_mean: np.ndarray  # (blocks,)
    pre_std: np.ndarray
    post_mean: np.ndarray
    post_std: np.ndarray
    has_norm: np.ndarray  # (blocks,) bool
    residual: np.ndarray  # (blocks,) bool
    grad_activation: np.ndarray  # ‖dL/da‖, a the block's output (the next layer's input)
    grad_weight: np.ndarray  # ‖dL/dW‖ of the block's linear layer(s)
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
    pre: list[torch.Tensor] = []
    post: list[torch.Tensor] = []
    has_norm, residual, grad_weight = [], [], []
    for start in blocks.starts:
        layer = chain.layers[start]
        takes, gives, normed = block_tensors(pass_, start)
        pre.append(takes)
        post.append(gives)
        has_norm.append(normed)
        residual.append(isinstance(layer, Residual))
        if isinstance(layer, Residual):
            grads = [inner.grads["weight"] for inner in _walk_records(pass_.record(start).inner)
                     if inner.type == "linear" and "weight" in inner.grads]
            squares = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)
            grad_weight.append(math.sqrt(squares) if grads else float("nan"))
        else:
            grad_weight.append(_l2(pass_.grads(start).get("weight")))
    pre_mean, pre_std = _moments(pre)
    post_mean, post_std = _moments(post)
    assert pass_.loss is not None
    return NormProfile(
        kind=kind, pre_mean=pre_mean, pre_std=pre_std, post_mean=post_mean,
        post_std=post_std, has_norm=np.array(has_norm, dtype=bool),
        residual=np.array(residual, dtype=bool),
        grad_activation=np.array([_l2(pass_.grad_outputs[i]) for i in blocks.last]),
        grad_weight=np.array(grad_weight), loss=float(pass_.loss))


def block_tensors(pass_: Pass, start: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """What a norm in the block starting at layer ``start`` takes and what goes on from
    it, and whether there is a norm: for a linear layer, its output and the input of the
    block's nonlinearity (the norm after it, else the linear output again); for a residual
    block, its input x and what its branch receives (its first layer's output when that is
    a norm, else x). Needs the pass's forward through the block."""
    layer = pass_.chain.layers[start]
    if isinstance(layer, Residual):
        x = pass_.layer_input(start)
        assert x is not None
        first = layer.layers[0] if layer.layers else None
        if not isinstance(first, Norm):
            return x, x, False
        return x, torch.from_numpy(pass_.record(start).inner[0].output), True
    after = start + 1
    normed = after < pass_.size and isinstance(pass_.chain.layers[after], Norm)
    takes, gives = pass_.outputs[start], pass_.outputs[after if normed else start]
    assert takes is not None
    assert gives is not None
    return takes, gives, normed


def _moments(tensors: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([float(t.double().mean()) for t in tensors]),
            np.array([float(t.double().std(unbiased=False)) for t in tensors]))


def _walk_records(records: tuple[LayerRecord, ...]) -> Iterator[LayerRecord]:
    """A residual block's layer records, nested blocks' own included."""
    for record in records:
        yield record
        yield from _walk_records(record.inner)


def _l2(tensor: torch.Tensor | None) -> float:
    return float("nan") if tensor is None else float(torch.linalg.vector_norm(tensor.double()))


def twin_chains(network: NetworkSpec, kind: str | None, dtype: str,
                seed: int) -> tuple[Chain, Chain]:
    """(without norms, with norms of ``kind``), built from ``seed``; the second chain's
    linear layers get the first one's very weights and biases."""
    without = build_chain(with_norm(network, None), dtype, seed)
    normed = build_chain(with_norm(network, kind), dtype, seed)
    # every linear layer, residual blocks' own included, in the same order in both
    source = [layer for _, layer in walk(without.layers) if isinstance(layer, Linear)]
    target = [layer for _, layer in walk(normed.layers) if isinstance(layer, Linear)]
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
