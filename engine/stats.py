"""Per-layer statistics the gradient-flow views plot (after Karpathy's makemore part 3).

Saturation counts elements, as makemore does: |tanh| > 0.97, sigmoid outside
[0.03, 0.97]. A dead ReLU is a unit (column) that outputs 0 for every sample in the batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from engine.layers import Activation, Linear
from engine.stepper import Pass

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
        backward_reached = index >= pass_.size - pass_.backward_done
        grad_weight = layer.grads.get("weight") \
            if isinstance(layer, Linear) and backward_reached else None
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


def update_to_data_ratio(weight: torch.Tensor, grad: torch.Tensor, lr: float) -> float:
    """lr·std(dL/dW) / std(W); about 1e-3 is the healthy rule of thumb. NaN when std(W) = 0."""
    weight_std = _std(weight)
    return lr * _std(grad) / weight_std if weight_std > 0 else math.nan
