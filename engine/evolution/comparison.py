"""What the GA is compared with: SGD on the same network and data, the error of
quantising a float network onto the GA's 4-bit grid, and :func:`grid_comparison`: the GA
(4-bit), OpenES (float), OpenES's best weights quantised to the 4-bit grid, and SGD on
one chain for one budget of forward passes. It shows what the 4-bit grid costs: a float
search on the same chain goes far below the GA, and loses it all when snapped to the
grid."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.chain import Chain
from engine.core.optim import SGDConfig
from engine.core.stepper import Pass
from engine.core.training import Trainer
from engine.data.tasks import EvolveTask
from engine.evolution.genome import chain_genome, load_genome
from engine.evolution.setup import prepare_evolution
from engine.evolution.strategies import prepare_strategy, quantised_losses


@dataclass(frozen=True)
class SgdPoint:
    forward_passes: int  # full-batch forward passes so far (one per step)
    seconds: float  # wall time since the run started, backward passes included
    loss: float  # before this step's update


def sgd_curve(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
              config: SGDConfig, seconds: float, max_steps: int = 1_000_000,
              seed: int = 0) -> Iterator[SgdPoint]:
    """Full-batch SGD on ``chain`` (changed in place) for ``seconds`` of wall time.

    Each step costs a forward and a backward pass; it is counted as one forward pass, and
    the wall time shows the whole cost.
    """
    trainer = Trainer(chain, inputs, targets, loss, config, 0,
                      torch.Generator().manual_seed(seed))
    started = time.perf_counter()
    for record in trainer.steps(max_steps):
        elapsed = time.perf_counter() - started
        yield SgdPoint(record.step, elapsed, record.loss)
        if elapsed >= seconds or record.nonfinite is not None:
            return


@dataclass(frozen=True)
class QuantisationReport:
    relative_error: float  # ‖W − Q(W)‖ / ‖W‖ over every linear parameter
    float_loss: float
    quantised_loss: float


def quantisation_report(chain: Chain, scales: list[float], inputs: torch.Tensor,
                        targets: torch.Tensor, loss: str) -> QuantisationReport:
    """How far the chain's parameters move when snapped to the 4-bit grid, and what that
    does to the loss. Works on copies: ``chain`` is not touched (its batch-norm running
    statistics included)."""
    float_loss = _loss(chain.copy(), inputs, targets, loss)
    quantised = chain.copy()
    load_genome(quantised, chain_genome(chain, scales), scales)
    quantised_loss = _loss(quantised, inputs, targets, loss)
    before, after = _linear_parameters(chain), _linear_parameters(quantised)
    norm = float(torch.linalg.vector_norm(before))
    error = float(torch.linalg.vector_norm(before - after))
    return QuantisationReport(error / norm if norm > 0 else 0.0, float_loss, quantised_loss)


def _loss(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str) -> float:
    value = Pass(chain, inputs, targets, loss).run().loss
    assert value is not None
    return float(value)


def _linear_parameters(chain: Chain) -> torch.Tensor:
    return torch.cat([layer.params[name].reshape(-1) for _, layer in chain.linear_layers()
                      for name in ("weight", "bias")])


# the curves of grid_comparison, in the order they are computed, and their names
CURVES = ("ga", "es", "es_4bit", "sgd")
CURVE_LABELS = {"ga": "GA 4-bit", "es": "ES float", "es_4bit": "ES→4-bit", "sgd": "SGD"}
QUANTISE_CHUNK = 256  # recorded weight sets quantised and evaluated per batched call


@dataclass(frozen=True)
class CurvePoint:
    """One point of a :func:`grid_comparison` curve."""

    curve: str  # one of CURVES
    evaluations: int  # full-batch forward passes so far (an SGD step counts as one)
    seconds: float  # wall time since that method started
    loss: float  # ga, es: the best so far; es_4bit: that generation's best quantised;
    #              sgd: before the step's update


def grid_comparison(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                    task: EvolveTask, seed: int, sgd: SGDConfig, evaluations: int,
                    seconds: float | None = None) -> Iterator[CurvePoint]:
    """The GA over 4-bit codes, OpenES over float weights, OpenES's best weights snapped
    to the 4-bit grid, and full-batch SGD, on ``chain`` for ``evaluations`` forward
    passes each; one point per generation (per step for SGD), curve after curve.

    ``task`` gives the GA's settings, OpenES's (``task.openes``), the population (made
    even for OpenES by adding one) and α (``task.scales``); its ``algorithm`` and
    ``generations`` are ignored and ``islands`` is taken as 1. A method stops at the
    first generation that reaches ``evaluations`` (so it may pass it by less than one
    generation), or after ``seconds`` of wall time when given. SGD runs ``evaluations``
    steps from ``chain``'s own parameters; each step costs a forward and a backward pass
    and counts as one (:func:`sgd_curve`), the wall time shows the whole cost.

    The es_4bit point of an ES generation is the loss of that generation's best weights
    (the best so far) quantised to the grid at α (:func:`quantised_losses`); it carries
    that generation's evaluations and seconds, since the quantised forward passes are a
    reading, made after OpenES has finished so they do not count in its wall time.
    ``chain`` is not changed. The same arguments give the same points, the seconds aside.
    """
    if evaluations < 1:
        raise ValueError(f"the budget must be at least 1 forward pass, got {evaluations}")
    limit = math.inf if seconds is None else seconds
    common = {"islands": 1, "generations": 1}
    ga_task = task.model_copy(update={**common, "algorithm": "ga"})
    ga = prepare_evolution(chain, inputs, targets, loss, ga_task, seed)
    for stats in ga.generations(limit=0):
        yield CurvePoint("ga", stats.evaluations, stats.seconds, stats.best)
        if stats.evaluations >= evaluations or stats.seconds >= limit:
            break
    es_task = task.model_copy(update={**common, "algorithm": "openes",
                                      "population": task.population + task.population % 2})
    es = prepare_strategy(chain, inputs, targets, loss, es_task, seed)
    records = []
    for record in es.generations(limit=0):
        records.append(record)
        yield CurvePoint("es", record.evaluations, record.seconds, record.best)
        if record.evaluations >= evaluations or record.seconds >= limit:
            break
    weights = np.stack([record.best_weights for record in records])  # (records, genome)
    for start in range(0, len(records), QUANTISE_CHUNK):
        chunk = records[start:start + QUANTISE_CHUNK]
        losses = quantised_losses(es.evaluator, weights[start:start + QUANTISE_CHUNK])
        for record, value in zip(chunk, losses.tolist(), strict=True):
            yield CurvePoint("es_4bit", record.evaluations, record.seconds, value)
    for point in sgd_curve(chain.copy(), inputs, targets, loss, sgd, limit,
                           max_steps=evaluations, seed=seed):
        yield CurvePoint("sgd", point.forward_passes, point.seconds, point.loss)


def final_losses(points: list[CurvePoint]) -> dict[str, float]:
    """Each curve's last loss (the best so far for ga and es), in CURVES order; curves
    with no point are left out."""
    last = {point.curve: point.loss for point in points}
    return {curve: last[curve] for curve in CURVES if curve in last}


def summary_line(points: list[CurvePoint], budget: int | None = None) -> str:
    """"GA 4-bit 0.647 · ES float 0.0231 · …": each curve's final loss, 3 digits. With
    ``budget``, a curve that ended short of it (stopped, or SGD gone non-finite) says
    after how many forward passes, so that unequal budgets are not read as equal."""
    reached = {point.curve: point.evaluations for point in points}
    parts = []
    for curve, value in final_losses(points).items():
        part = f"{CURVE_LABELS[curve]} {value:.3g}"
        if budget is not None and reached[curve] < budget:
            part += f" after {reached[curve]:,} passes".replace(",", "\u2009")
        parts.append(part)
    return " · ".join(parts)
