"""Per-layer statistics the gradient-flow views plot (after Karpathy's makemore part 3).

Saturation counts elements, as makemore does: |tanh| > 0.97, sigmoid outside
[0.03, 0.97]. A dead ReLU is a unit (column) that outputs 0 for every sample in the batch.

Every layer's statistics are computed together, in float64: the layers' tensors of one
shape are stacked and reduced at once, so a 600-layer chain of repeated blocks costs a
few tensor operations, not thousands. Norms are taken in float64, so a float32 layer
whose values are finite never shows ‖·‖ = ∞.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch

from engine.core.layers import Activation, Linear
from engine.core.residual import Residual, walk
from engine.core.stepper import Pass

SATURATION_TANH = 0.97
SATURATION_SIGMOID = (0.03, 0.97)


@dataclass(frozen=True)
class LayerStats:
    output_l2: float
    output_mean_abs: float
    output_std: float
    grad_l2: float | None  # of dL/d(output)
    grad_mean_abs: float | None
    # linear layers, and residual blocks (over all the weights of their linear layers)
    grad_weight_l2: float | None
    saturated: float | None  # share, tanh/sigmoid activations only
    dead: float | None  # share of units, relu activations only

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True)
class _Reduced:
    """Per-tensor reductions of a list of tensors (float64, one value per tensor)."""

    l2: list[float]
    mean_abs: list[float]
    std: list[float]


def _reduce(tensors: list[torch.Tensor]) -> _Reduced:
    """Per-tensor statistics, computed for all tensors of one shape at once (a chain of
    repeated blocks has a handful of shapes however deep it is)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, tensor in enumerate(tensors):
        groups.setdefault(tuple(tensor.shape), []).append(index)
    l2 = [0.0] * len(tensors)
    mean_abs = [0.0] * len(tensors)
    std = [0.0] * len(tensors)
    for indices in groups.values():
        stacked = torch.stack([tensors[i] for i in indices]).double()
        flat = stacked.reshape(len(indices), -1)  # (tensors, elements)
        group_l2 = torch.linalg.vector_norm(flat, dim=1).tolist()
        group_mean_abs = flat.abs().mean(1).tolist()
        group_std = flat.std(1).tolist() if flat.shape[1] > 1 else [0.0] * len(indices)
        for position, index in enumerate(indices):
            l2[index] = group_l2[position]
            mean_abs[index] = group_mean_abs[position]
            std[index] = group_std[position]
    return _Reduced(l2, mean_abs, std)


def layer_stats(pass_: Pass) -> list[LayerStats]:
    """Statistics of every layer that the pass has reached (outputs) and left (gradients)."""
    layers = pass_.chain.layers
    reached = 0
    while reached < len(layers) and pass_.outputs[reached] is not None:
        reached += 1
    outputs = [t for t in pass_.outputs[:reached] if t is not None]
    out = _reduce(outputs)
    with_grad = [i for i in range(reached) if pass_.grad_outputs[i] is not None]
    grads = _reduce([t for i in with_grad if (t := pass_.grad_outputs[i]) is not None])
    grad_at = {index: n for n, index in enumerate(with_grad)}
    weight_grads = {i: grad for i in range(reached)
                    if (grad := _weight_gradient(layers[i], pass_.grads(i))) is not None}
    weighted = list(weight_grads)
    weight_l2 = _reduce(list(weight_grads.values())).l2
    weight_at = {index: n for n, index in enumerate(weighted)}
    shares = _activation_shares(pass_, reached)
    stats = []
    for index in range(reached):
        g = grad_at.get(index)
        w = weight_at.get(index)
        saturated, dead = shares.get(index, (None, None))
        stats.append(LayerStats(
            output_l2=out.l2[index], output_mean_abs=out.mean_abs[index],
            output_std=out.std[index],
            grad_l2=None if g is None else grads.l2[g],
            grad_mean_abs=None if g is None else grads.mean_abs[g],
            grad_weight_l2=None if w is None else weight_l2[w],
            saturated=saturated, dead=dead))
    return stats


def _weight_gradient(layer: object, grads: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """dL/dW of a linear layer; of a residual block, its linear layers' dL/dW as one
    vector (None before the backward pass reached the layer)."""
    if isinstance(layer, Linear):
        return grads.get("weight")
    if isinstance(layer, Residual) and grads:
        names = [f"{path}.weight" for path, inner in walk(layer.layers, "body.")
                 if isinstance(inner, Linear)]
        if names:
            return torch.cat([grads[name].reshape(-1) for name in names])
    return None


def _activation_shares(pass_: Pass, reached: int) -> dict[int, tuple[float | None,
                                                                     float | None]]:
    """(saturated share, dead share) of each tanh/sigmoid/relu layer, computed for all
    layers of one kind and shape at once."""
    groups: dict[tuple[str, tuple[int, ...]], list[int]] = {}
    for index in range(reached):
        layer, out = pass_.chain.layers[index], pass_.outputs[index]
        if isinstance(layer, Activation) and layer.kind in ("tanh", "sigmoid", "relu") \
                and out is not None:
            groups.setdefault((layer.kind, tuple(out.shape)), []).append(index)
    shares: dict[int, tuple[float | None, float | None]] = {}
    for (kind, _shape), indices in groups.items():
        stacked = torch.stack([t for i in indices if (t := pass_.outputs[i]) is not None])
        if kind == "tanh":
            values = (stacked.abs() > SATURATION_TANH).double().mean((1, 2)).tolist()
            shares.update({i: (v, None) for i, v in zip(indices, values, strict=True)})
        elif kind == "sigmoid":
            low, high = SATURATION_SIGMOID
            outside = (stacked < low) | (stacked > high)
            values = outside.double().mean((1, 2)).tolist()
            shares.update({i: (v, None) for i, v in zip(indices, values, strict=True)})
        else:  # a dead unit is 0 for every sample of the batch
            values = (stacked == 0).all(1).double().mean(1).tolist()
            shares.update({i: (None, v) for i, v in zip(indices, values, strict=True)})
    return shares


def update_to_data_ratio(weight: torch.Tensor, update: torch.Tensor) -> float:
    """std(ΔW) / std(W) for the update ΔW applied to W (makemore's update:data ratio,
    ``(lr * grad).std() / W.std()`` without momentum; with momentum ΔW is what the
    optimizer really applied). About 1e-3 is the healthy rule of thumb; NaN when
    std(W) = 0."""
    weight_std = float(weight.double().std()) if weight.numel() > 1 else 0.0
    update_std = float(update.double().std()) if update.numel() > 1 else 0.0
    return update_std / weight_std if weight_std > 0 else math.nan
