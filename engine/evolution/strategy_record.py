"""What the float strategies (OpenES, PSO) share: the per-generation record, the best
weights found so far, and α spread over the genome.

The float strategies evolve the same parameters as the GA's genome
(:mod:`engine.evolution.genome`: every linear layer's weights row-major, then its bias,
layer after layer) as real numbers in the chain's dtype, and evaluate them with
:meth:`engine.evolution.population.PopulationEvaluator.losses_from_weights`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.evolution.genome import GenomeLayout


@dataclass(frozen=True)
class StrategyGeneration:
    """One generation of a float strategy; arrays are copies.

    ``best`` and ``best_weights`` are the lowest loss evaluated so far and its weights
    (for OpenES the perturbed mean counts too), so ``best`` never rises; ``mean``,
    ``std``, ``worst`` and ``generation_best`` describe this generation's population only.
    """

    generation: int
    best: float
    generation_best: float
    mean: float  # of the finite losses
    std: float
    worst: float  # NaN counts as +inf
    seconds: float  # wall time since the run started
    evaluations: int  # individual forward passes so far (full batch each)
    best_weights: np.ndarray  # (genome,) in the chain's dtype (float32 unless float64)
    center: float | None  # OpenES: the loss of the mean that was perturbed; PSO: None


def alpha_per_weight(layout: GenomeLayout, scales: list[float], dtype: torch.dtype,
                     device: torch.device) -> torch.Tensor:
    """α of the linear layer each genome position belongs to.

    Shape: (genome,).
    """
    alpha = torch.empty(layout.size, dtype=dtype, device=device)
    for number, (out_features, in_features) in enumerate(layout.shapes):
        start = layout.offsets[number]
        alpha[start:start + out_features * (in_features + 1)] = scales[number]
    return alpha


def finite_losses(losses: torch.Tensor) -> torch.Tensor:
    """NaN becomes +inf: an individual whose loss is NaN is the worst, not unorderable."""
    return torch.nan_to_num(losses, nan=math.inf, posinf=math.inf)


class BestSoFar:
    """The lowest loss offered so far and a copy of its weights (the first on ties)."""

    def __init__(self, size: int, dtype: torch.dtype, device: torch.device) -> None:
        self.loss = math.inf
        self.weights = torch.zeros(size, dtype=dtype, device=device)
        self._offered = False  # until then the weights are a placeholder

    def offer(self, losses: torch.Tensor, weights: torch.Tensor) -> None:
        """Shape: ``losses`` (N,) with NaN already +inf, ``weights`` (N, genome)."""
        if len(losses) == 0:
            return
        index = int(losses.argmin())  # the first of equal minima
        loss = float(losses[index])
        if loss < self.loss or not self._offered:
            self._offered = True
            self.loss = loss
            self.weights = weights[index].clone()


def record(generation: int, best: BestSoFar, losses: torch.Tensor, started: float,
           evaluations: int, center: float | None = None) -> StrategyGeneration:
    """The record of a generation whose population losses (N,) are ``losses``."""
    finite = losses[torch.isfinite(losses)]
    return StrategyGeneration(
        generation=generation,
        best=best.loss,
        generation_best=float(losses.min()),
        mean=float(finite.mean()) if finite.numel() else math.inf,
        std=float(finite.std()) if finite.numel() > 1 else 0.0,
        worst=float(losses.max()),
        seconds=time.perf_counter() - started,
        evaluations=evaluations,
        best_weights=best.weights.cpu().numpy().copy(),
        center=center,
    )
