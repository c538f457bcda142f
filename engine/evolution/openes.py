"""OpenES (Salimans et al. 2017, "Evolution Strategies as a Scalable Alternative to
Reinforcement Learning") over a chain's float weights.

A mean θ (genome,) is perturbed with antithetic Gaussian noise; the population's losses,
replaced by centred ranks, weight the noise into a gradient estimate, and Adam (as in
evosax's and EvoX's OpenES; or plain SGD) moves θ down it. No autograd.

Random draws, all from one ``torch.Generator`` in the chain's dtype, in this order:

1. Without a start: θ₀ = α · (2·rand(genome) − 1), uniform within ±α of each parameter's
   layer (the range the GA's 4-bit grid spans).
2. Each generation g: z = randn(N/2, genome); ε = [z; −z] (N, genome), row i + N/2 the
   mirror of row i; the population is θ_g + σ·ε.

Each generation evaluates θ_g and its N perturbations in one call (N + 1 evaluations).
Then, with the losses L (NaN as +inf) ranked from the lowest (rank 0, ties by index),
u_i = rank_i / (N − 1) − 1/2 and the gradient estimate is g = εᵀu / (N·σ). SGD:
θ ← θ − lr·g. Adam (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected, t = 1, 2, …):
m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − lr·m̂ / (√v̂ + ε).
Generation g's record is made before that update.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from engine.data.tasks import EvolveTask
from engine.evolution.population import PopulationEvaluator
from engine.evolution.strategy_record import (
    BestSoFar,
    StrategyGeneration,
    alpha_per_weight,
    finite_losses,
    record,
)

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def centred_ranks(losses: torch.Tensor) -> torch.Tensor:
    """Rank of each loss from the lowest (ties by index), scaled to [−1/2, 1/2].

    Shape: ``losses`` (N,), N ≥ 2; returns (N,) in the losses' dtype.
    """
    n = len(losses)
    ranks = torch.empty(n, dtype=losses.dtype, device=losses.device)
    ranks[losses.argsort(stable=True)] = torch.arange(n, dtype=losses.dtype,
                                                      device=losses.device)
    return ranks / (n - 1) - 0.5


class OpenES:
    """The mean, the optimiser's moments and the last generation's noise."""

    def __init__(self, evaluator: PopulationEvaluator, task: EvolveTask,
                 generator: torch.Generator, start: torch.Tensor | None) -> None:
        if task.population % 2:
            raise ValueError(f"OpenES needs an even population (antithetic pairs), got "
                             f"{task.population}")
        self.evaluator, self.generator = evaluator, generator
        self.settings = task.openes
        self.size, self.dtype, self.device = evaluator.layout.size, evaluator.dtype, \
            evaluator.device
        self.population = task.population
        if start is None:
            alpha = alpha_per_weight(evaluator.layout, evaluator.scales, self.dtype,
                                     self.device)
            uniform = torch.rand(self.size, generator=generator, dtype=self.dtype,
                                 device=self.device)
            self.theta = alpha * (2 * uniform - 1)
        else:
            self.theta = start.to(self.device, self.dtype).reshape(-1).clone()
        self.m = torch.zeros_like(self.theta)
        self.v = torch.zeros_like(self.theta)
        self.updates = 0
        self.evaluations = 0

    def sample(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw this generation's noise and evaluate θ and θ + σε.

        Returns ε (N, genome), the population (N, genome) and the losses (N + 1,), the
        mean's first, NaN as +inf.
        """
        z = torch.randn(self.population // 2, self.size, generator=self.generator,
                        dtype=self.dtype, device=self.device)
        noise = torch.cat([z, -z])
        candidates = self.theta + self.settings.sigma * noise
        losses = self.evaluator.losses_from_weights(torch.cat([self.theta[None], candidates]))
        self.evaluations += len(candidates) + 1
        return noise, candidates, finite_losses(losses)

    def update(self, noise: torch.Tensor, losses: torch.Tensor) -> None:
        """One step of θ down the rank-shaped gradient estimate (losses (N,))."""
        sigma, lr = self.settings.sigma, self.settings.lr
        gradient = centred_ranks(losses) @ noise / (len(noise) * sigma)
        self.updates += 1
        if self.settings.optimizer == "sgd":
            self.theta = self.theta - lr * gradient
            return
        beta1, beta2 = ADAM_BETAS
        self.m = beta1 * self.m + (1 - beta1) * gradient
        self.v = beta2 * self.v + (1 - beta2) * gradient * gradient
        m_hat = self.m / (1 - beta1 ** self.updates)
        v_hat = self.v / (1 - beta2 ** self.updates)
        self.theta = self.theta - lr * m_hat / (v_hat.sqrt() + ADAM_EPS)


def evolve(evaluator: PopulationEvaluator, task: EvolveTask, seed: int,
           start: torch.Tensor | None = None,
           generations: int | None = None) -> Iterator[StrategyGeneration]:
    """Yield generation 0 (the noise around θ₀), then one record per update.

    ``start`` (genome,) is θ₀ (the network's own weights), or None for uniform within ±α.
    ``generations`` overrides ``task.generations`` (0: until the caller stops). The same
    device, task and seed give bit-identical histories.
    """
    generator = torch.Generator(device=evaluator.device).manual_seed(seed)
    started = time.perf_counter()
    state = OpenES(evaluator, task, generator, start)
    best = BestSoFar(state.size, state.dtype, state.device)
    limit = task.generations if generations is None else generations
    generation = 0
    while True:
        noise, candidates, losses = state.sample()
        best.offer(losses[:1], state.theta[None])
        best.offer(losses[1:], candidates)
        yield record(generation, best, losses[1:], started, state.evaluations,
                     center=float(losses[0]))
        if 0 < limit <= generation:
            return
        state.update(noise, losses[1:])
        generation += 1
