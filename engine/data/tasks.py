"""What a session does with its chain and data: the ``task`` object of a session file.

``step`` is one forward and backward pass, ``train`` minibatch SGD
(:mod:`engine.core.training`), ``evolve`` a genetic algorithm (:mod:`engine.evolution.ga`)
or an evolution strategy over float weights (:mod:`engine.evolution.strategies`).
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


class OpenESSpec(Frozen):
    """OpenES settings (Salimans et al. 2017); see :mod:`engine.evolution.openes`."""

    sigma: float = Field(0.1, gt=0, le=100, description="standard deviation of the "
                         "Gaussian perturbations")
    lr: float = Field(0.1, gt=0, le=100, description="learning rate of the update")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="adam (beta1 0.9, "
                                              "beta2 0.999, eps 1e-8) or plain SGD")


class PSOSpec(Frozen):
    """Particle swarm settings; see :mod:`engine.evolution.pso`. The default weights are
    Clerc and Kennedy's constriction values (w 0.729, c1 = c2 1.49445)."""

    inertia: float = Field(0.729, ge=0, le=10, description="w: the share of the velocity "
                           "kept")
    cognitive: float = Field(1.49445, ge=0, le=10, description="c1: pull towards each "
                             "particle's own best")
    social: float = Field(1.49445, ge=0, le=10, description="c2: pull towards the swarm's best")
    init_range: float = Field(2.0, gt=0, le=100, description="positions start uniform "
                              "within ±init_range·alpha (around the network's parameters "
                              "with seed_from_network)")
    max_velocity: float = Field(1.0, gt=0, le=100, description="each velocity component "
                                "is clamped to ±max_velocity·alpha; the initial one is "
                                "uniform within it")


class EvolveTask(Frozen):
    """Population evolution: the GA over 4-bit log-quantised weights
    (:mod:`engine.evolution.ga`), or OpenES or PSO over float weights
    (:mod:`engine.evolution.strategies`)."""

    kind: Literal["evolve"] = "evolve"
    algorithm: Literal["ga", "openes", "pso"] = Field(
        "ga", description="ga: 4-bit codes; openes, pso: float weights (the GA's own "
        "settings are then ignored)")
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
    openes: OpenESSpec = Field(OpenESSpec(), description="used when algorithm is openes")
    pso: PSOSpec = Field(PSOSpec(), description="used when algorithm is pso")

    def effective(self) -> EvolveTask:
        """This task with every setting its run ignores at its default: the other
        algorithms' settings, the GA's own for a float algorithm, the tournament size
        without tournaments, migration with one island. Two tasks that run the same
        computation have equal effective tasks (sweeps run such cells once)."""
        defaults = EvolveTask()
        ignored: dict[str, object] = {}
        if self.algorithm != "openes":
            ignored["openes"] = defaults.openes
        if self.algorithm != "pso":
            ignored["pso"] = defaults.pso
        if self.algorithm != "ga":
            ignored.update({name: getattr(defaults, name) for name in GA_ONLY})
        elif self.selection != "tournament":
            ignored["tournament_size"] = defaults.tournament_size
        if self.islands == 1:
            ignored["migration"] = defaults.migration
        return self.model_copy(update=ignored)


# the GA's settings that OpenES and PSO ignore (islands they refuse instead)
GA_ONLY = ("elite", "selection", "tournament_size", "crossover", "children_per_pair",
           "mutation_rate")
