"""Particle swarm optimisation (global-best PSO, Kennedy and Eberhart 1995, with the
inertia weight of Shi and Eberhart 1998) over a chain's float weights. No autograd.

Each particle i has a position x_i (a weight set, (genome,)), a velocity v_i and the best
position it has visited, p_i; the swarm's best is g. One generation:

    v ← w·v + c₁·r₁ ⊙ (p − x) + c₂·r₂ ⊙ (g − x),  clamped to ±max_velocity·α
    x ← x + v

with fresh uniform r₁, r₂ for every particle and parameter; then every particle is
evaluated, p_i moves to x_i where the loss is strictly lower (NaN counts as +inf, so
never), and g is the p_i with the lowest loss (the first on ties). Positions are not
bounded. α is each parameter's layer scale (``task.scales``).

Random draws, all from one ``torch.Generator`` in the chain's dtype, in this order:

1. positions: U = rand(N, genome); x = c + init_range·α·(2U − 1) with c the start
   (the network's weights) or 0; with a start, particle 0 is exactly c.
2. velocities: V = rand(N, genome); v = max_velocity·α·(2V − 1).
3. each generation: r₁ = rand(N, genome), then r₂ = rand(N, genome).
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


class Swarm:
    """Positions, velocities and personal bests of N particles; (N, genome) each."""

    def __init__(self, evaluator: PopulationEvaluator, task: EvolveTask,
                 generator: torch.Generator, start: torch.Tensor | None) -> None:
        self.evaluator, self.generator = evaluator, generator
        self.settings = task.pso
        n, size = task.population, evaluator.layout.size
        self.dtype, self.device = evaluator.dtype, evaluator.device
        alpha = alpha_per_weight(evaluator.layout, evaluator.scales, self.dtype, self.device)
        self.max_velocity = self.settings.max_velocity * alpha  # (genome,)
        spread = self._uniform(n, size) * (self.settings.init_range * alpha)
        if start is None:
            self.positions = spread
        else:
            centre = start.to(self.device, self.dtype).reshape(-1)
            self.positions = centre + spread
            self.positions[0] = centre
        self.velocities = self._uniform(n, size) * self.max_velocity
        self.losses = finite_losses(evaluator.losses_from_weights(self.positions))
        self.evaluations = n
        self.personal = self.positions.clone()
        self.personal_losses = self.losses.clone()

    def _uniform(self, *shape: int) -> torch.Tensor:
        """Uniform in [−1, 1)."""
        return 2 * torch.rand(shape, generator=self.generator, dtype=self.dtype,
                              device=self.device) - 1

    def _rand(self) -> torch.Tensor:
        return torch.rand(self.positions.shape, generator=self.generator, dtype=self.dtype,
                          device=self.device)

    def global_best(self) -> torch.Tensor:
        """The best personal best (genome,), the first of equal losses."""
        return self.personal[int(self.personal_losses.argmin())]

    def step(self) -> None:
        """Move every particle once, evaluate it and update the bests."""
        s = self.settings
        r1, r2 = self._rand(), self._rand()
        x = self.positions
        velocities = (s.inertia * self.velocities + s.cognitive * r1 * (self.personal - x)
                      + s.social * r2 * (self.global_best() - x))
        self.velocities = torch.maximum(torch.minimum(velocities, self.max_velocity),
                                        -self.max_velocity)
        self.positions = x + self.velocities
        self.losses = finite_losses(self.evaluator.losses_from_weights(self.positions))
        self.evaluations += len(self.positions)
        improved = self.losses < self.personal_losses
        self.personal[improved] = self.positions[improved]
        self.personal_losses[improved] = self.losses[improved]


def evolve(evaluator: PopulationEvaluator, task: EvolveTask, seed: int,
           start: torch.Tensor | None = None,
           generations: int | None = None) -> Iterator[StrategyGeneration]:
    """Yield generation 0 (the initial swarm), then one record per move.

    ``start`` (genome,) is the swarm's centre and particle 0 (the network's own weights),
    or None for positions uniform within ±init_range·α of 0. ``generations`` overrides
    ``task.generations`` (0: until the caller stops). The same device, task and seed give
    bit-identical histories.
    """
    generator = torch.Generator(device=evaluator.device).manual_seed(seed)
    started = time.perf_counter()
    swarm = Swarm(evaluator, task, generator, start)
    best = BestSoFar(evaluator.layout.size, swarm.dtype, swarm.device)
    limit = task.generations if generations is None else generations
    generation = 0
    while True:
        best.offer(swarm.personal_losses, swarm.personal)
        yield record(generation, best, swarm.losses, started, swarm.evaluations)
        if 0 < limit <= generation:
            return
        swarm.step()
        generation += 1
