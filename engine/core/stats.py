"""Per-layer statistics the gradient-flow views plot (after Karpathy's makemore part 3).

Saturation counts elements, as makemore does: |tanh| > 0.97, sigmoid outside
[0.03, 0.97]. A dead ReLU is a unit (column) that outputs 0 for every sample in the batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from engine.core.layers import Activation, Linear
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
    grad_weight_l2: float | None  # linear layers only
    saturated: float | None  # share, tanh/sigmoid activations only
    dead: float | None  # share of units, relu activations only

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _f(t: torch.Tensor) -> float:
    return float(t)


def _std(t: torch.Tensor) -> float:
    return _f(t.std()) if t.numel() > 1 else 0.0


def layer_stats(pass_: Pass) -> list[LayerStats]:
    """Statistics of every layer that the pass has reached (outputs) and left (gradients)."""
    stats = []
    for index, layer in enumerate(pass_.chain.layers):
        out = pass_.outputs[index]
        if out is None:
            break
        grad = pass_.grad_outputs[index]
        saturated = dead = None
        if isinstance(layer, Activation):
            if layer.kind == "tanh":
                saturated = _f((out.abs() > SATURATION_TANH).to(out.dtype).mean())
            elif layer.kind == "sigmoid":
                low, high = SATURATION_SIGMOID
                saturated = _f(((out < low) | (out > high)).to(out.dtype).mean())
            elif layer.kind == "relu":
                dead = _f((out == 0).all(0).to(out.dtype).mean())
        grad_weight = pass_.grads(index).get("weight") if isinstance(layer, Linear) else None
        stats.append(LayerStats(
            output_l2=_f(torch.linalg.vector_norm(out)),
            output_mean_abs=_f(out.abs().mean()),
            output_std=_std(out),
            grad_l2=_f(torch.linalg.vector_norm(grad)) if grad is not None else None,
            grad_mean_abs=_f(grad.abs().mean()) if grad is not None else None,
            grad_weight_l2=_f(torch.linalg.vector_norm(grad_weight))
            if grad_weight is not None else None,
            saturated=saturated,
            dead=dead,
        ))
    return stats


def update_to_data_ratio(weight: torch.Tensor, update: torch.Tensor) -> float:
    """std(ΔW) / std(W) for the update ΔW applied to W (makemore's update:data ratio,
    ``(lr * grad).std() / W.std()`` without momentum; with momentum ΔW is what the
    optimizer really applied). About 1e-3 is the healthy rule of thumb; NaN when
    std(W) = 0."""
    weight_std = _std(weight)
    return _std(update) / weight_std if weight_std > 0 else math.nan


@dataclass(frozen=True)
class LayerHistogram:
    """Histogram of one activation layer's outputs or output gradients (makemore part 3)."""

    index: int
    kind: str
    centers: tuple[float, ...]
    density: tuple[float, ...]
    mean: float
    std: float


def histograms(pass_: Pass, of: str = "output", bins: int = 60) -> list[LayerHistogram]:
    """Density histograms of every activation layer's ``output`` or ``grad`` (dL/d output),
    each over its own range, for the overlaid plots."""
    result = []
    for index, layer in enumerate(pass_.chain.layers):
        tensor = pass_.outputs[index] if of == "output" else pass_.grad_outputs[index]
        if not isinstance(layer, Activation) or tensor is None:
            continue
        values = tensor.detach().reshape(-1).double()
        values = values[torch.isfinite(values)]
        if values.numel() == 0:
            continue
        low, high = float(values.min()), float(values.max())
        if high <= low:
            low, high = low - 0.5, high + 0.5
        counts = torch.histc(values, bins=bins, min=low, max=high)
        width = (high - low) / bins
        density = counts / (counts.sum() * width)
        centers = torch.linspace(low + width / 2, high - width / 2, bins, dtype=torch.float64)
        result.append(LayerHistogram(index, layer.kind, tuple(centers.tolist()),
                                     tuple(density.tolist()), float(values.mean()),
                                     _std(values)))
    return result
