"""Per-layer distributions as one image: layers × bins (makemore's overlaid histograms,
readable for a 200-layer chain).

Activations are binned on one common value axis. Gradients are binned by log₁₀|dL/da|,
so a gradient that vanishes with depth slides left instead of collapsing into a spike at
0 (a linear axis shared by layers whose gradients differ by 40 orders of magnitude
shows nothing but that spike); exact zeros are counted apart. Every layer's histogram
comes from one ``bincount`` over the concatenated values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.layers import Activation
from engine.core.residual import Residual
from engine.core.stepper import Pass

BINS = 60


@dataclass(frozen=True)
class Distributions:
    """Histograms of activation layers' outputs or output gradients."""

    of: str  # "output" or "grad"
    layers: tuple[int, ...]  # chain index of each row
    kinds: tuple[str, ...]
    edges: np.ndarray  # (bins + 1,) on the value axis (log10|g| for gradients)
    density: np.ndarray  # (rows, bins): a density per row (each row integrates to its share)
    zeros: np.ndarray  # (rows,) share of values exactly 0 (gradients; else 0)
    log_axis: bool  # the value axis is log10|value|

    @property
    def range(self) -> tuple[float, float]:
        return float(self.edges[0]), float(self.edges[-1])

    def centres(self) -> np.ndarray:
        return (self.edges[1:] + self.edges[:-1]) / 2


def sticky_range(low: float, high: float, previous: tuple[float, float] | None = None,
                 fill: float = 0.4) -> tuple[float, float]:
    """A range for data in [low, high]: ``previous`` while the data stays inside it and
    fills at least ``fill`` of it, else a rounded range a tenth wider than the data.
    Live plots use it so that small changes do not move the axes (and repaint them)."""
    if previous is not None:
        a, b = previous
        if a <= low and high <= b and (high - low) >= fill * (b - a):
            return previous
    if not (math.isfinite(low) and math.isfinite(high)):
        return (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.1
    step = 10.0 ** math.floor(math.log10(high - low + 2 * pad)) / 10
    return (math.floor((low - pad) / step) * step, math.ceil((high + pad) / step) * step)


def distributions(pass_: Pass, of: str = "output", bins: int = BINS,
                  previous: tuple[float, float] | None = None) -> Distributions | None:
    """Histograms of every activation layer's output (``of="output"``) or dL/d output
    (``of="grad"``) that the pass has computed; None when there is none. The bins span
    ``sticky_range`` of the values (``previous``: the range used last time)."""
    rows, kinds, tensors = [], [], []
    for index, layer in enumerate(pass_.chain.layers):
        tensor = pass_.outputs[index] if of == "output" else pass_.grad_outputs[index]
        # a residual block's output x + f(x) is a hidden state like an activation's
        if isinstance(layer, Activation | Residual) and tensor is not None:
            rows.append(index)
            kinds.append(layer.kind if isinstance(layer, Activation) else "residual")
            tensors.append(tensor.detach().reshape(-1).double())
    if not rows:
        return None
    sizes = torch.tensor([t.numel() for t in tensors])
    values = torch.cat(tensors)
    ids = torch.repeat_interleave(torch.arange(len(rows)), sizes)
    log_axis = of == "grad"
    zeros = torch.zeros(len(rows), dtype=torch.float64)
    if log_axis:
        is_zero = values == 0
        zeros.index_add_(0, ids, is_zero.double())
        keep = ~is_zero
        values, ids = values[keep].abs().log10(), ids[keep]
    finite = torch.isfinite(values)
    values, ids = values[finite], ids[finite]
    low, high = (float(values.min()), float(values.max())) if values.numel() else (0.0, 1.0)
    low, high = sticky_range(low, high, previous)
    width = (high - low) / bins
    bin_of = ((values - low) / width).floor().long().clamp_(0, bins - 1)
    counts = torch.bincount(ids * bins + bin_of, minlength=len(rows) * bins)
    counts = counts.reshape(len(rows), bins).double()
    density = counts / (sizes.double().clamp_min(1)[:, None] * width)
    edges = np.linspace(low, high, bins + 1)
    return Distributions(of, tuple(rows), tuple(kinds), edges, density.numpy(),
                         (zeros / sizes.double().clamp_min(1)).numpy(), log_axis)
