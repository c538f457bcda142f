"""What a session does with its chain and data: the ``task`` object of a session file.

``step`` is one forward and backward pass, ``train`` minibatch SGD
(:mod:`engine.core.training`), ``evolve`` a genetic algorithm (:mod:`engine.evolution.ga`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from engine.core.specs import Frozen

PositiveFloat = Annotated[float, Field(gt=0)]


class StepTask(Frozen):
    kind: Literal["step"] = "step"


StorageFormat = Literal["float64", "float32", "float16", "bfloat16", "float8_e4m3fn",
                        "float8_e5m2"]


class PrecisionSpec(Frozen):
    """Weights kept in ``storage`` (rounded after every update) while the chain computes
    in the session dtype; see :mod:`engine.core.precision`."""

    storage: StorageFormat
    rounding: Literal["nearest", "stochastic"] = "nearest"


class TrainTask(Frozen):
    kind: Literal["train"] = "train"
    optimizer: Literal["sgd"] = "sgd"
    lr: float = Field(0.03, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    nesterov: bool = False
    steps: int = Field(100, gt=0, le=10_000_000)
    batch_size: int = Field(0, ge=0, description="0 = full batch")
    precision: PrecisionSpec | None = Field(
        None, description="low-precision storage of the weights (default: off, the "
        "session dtype)")


class MigrationSpec(Frozen):
    """Ring migration between islands: every ``every`` generations each island sends
    copies of its ``count`` best genomes to the next; see :mod:`engine.evolution.islands`."""

    every: int = Field(10, ge=1, le=10_000_000)
    count: int = Field(2, ge=0, description="must be below population - elite when "
                       "islands > 1")


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
    scales: PositiveFloat | list[PositiveFloat] = Field(
        1.0, description="alpha per linear layer, or one for all (each > 0)")
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    seed_from_network: bool = Field(False, description="start from the network's own "
                                    "parameters snapped to the grid, and mutated copies")
    islands: int = Field(1, ge=1, le=64, description="populations evolved side by side, "
                         "each of `population` individuals (1: one population)")
    migration: MigrationSpec = Field(MigrationSpec(), description="ring migration "
                                     "between islands (ignored with one island)")
