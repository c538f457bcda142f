"""Settings of a genetic-algorithm run (the session's ``"task": {"kind": "evolve"}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.core.specs import Frozen


class EvolveTask(Frozen):
    """Population evolution over 4-bit log-quantised weights; see :mod:`engine.evolution.ga`."""

    kind: Literal["evolve"] = "evolve"
    population: int = Field(100, ge=2, le=1_000_000)
    elite: int = Field(2, ge=0)
    selection: Literal["uniform", "tournament", "rank"] = "tournament"
    tournament_size: int = Field(3, ge=1)
    crossover: bool = True
    children_per_pair: Literal[1, 2] = 2
    mutation_rate: float = Field(0.015, ge=0.0, le=1.0)
    generations: int = Field(100, ge=1, le=10_000_000)
    scales: float | list[float] = Field(1.0, description="alpha per linear layer, or one for all")
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    seed_from_network: bool = Field(False, description="start from the network's own "
                                    "parameters snapped to the grid, and mutated copies")
