"""Evolution strategies over float weights beside the GA: set-up, dispatch, and the
4-bit comparison.

``task.algorithm`` picks the method: ``"ga"`` evolves 4-bit codes
(:mod:`engine.evolution.setup`, :mod:`engine.evolution.ga`); ``"openes"``
(:mod:`engine.evolution.openes`) and ``"pso"`` (:mod:`engine.evolution.pso`) evolve the
same parameters, in the same genome order, as real numbers in the chain's dtype, with
the same batched evaluator (``PopulationEvaluator.losses_from_weights``). Both yield one
:class:`~engine.evolution.strategy_record.StrategyGeneration` per generation.

A GUI or the headless runner calls :func:`prepare_strategy` and iterates
``setup.generations()``, exactly as with :func:`engine.evolution.setup.prepare_evolution`;
:func:`load_weights` puts a record's ``best_weights`` into a chain, and
:func:`quantised_losses` says what those weights lose when snapped to the GA's grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.core.chain import Chain
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution import openes, pso
from engine.evolution.ga import resolve_device
from engine.evolution.genome import GenomeLayout, decode, quantise
from engine.evolution.population import PopulationEvaluator
from engine.evolution.setup import check_evolvable, layer_scales
from engine.evolution.strategy_record import StrategyGeneration

ALGORITHMS = {"openes": openes.evolve, "pso": pso.evolve}


def evolve_strategy(evaluator: PopulationEvaluator, task: EvolveTask, seed: int,
                    start: torch.Tensor | None = None,
                    generations: int | None = None) -> Iterator[StrategyGeneration]:
    """The generator of ``task.algorithm`` ("openes" or "pso"): generation 0, then one
    record per generation, ``task.generations`` of them or ``generations`` (0 = until
    the caller stops).

    Shape: ``start`` (genome,) float, the weights to start from, or None.
    """
    if task.algorithm not in ALGORITHMS:
        raise ValueError(f"not a float strategy: {task.algorithm!r} (the GA is "
                         "engine.evolution.ga.evolve)")
    return ALGORITHMS[task.algorithm](evaluator, task, seed, start=start,
                                      generations=generations)


@dataclass(frozen=True)
class StrategySetup:
    """An OpenES or PSO run ready to go: ``generations()`` yields its history."""

    task: EvolveTask
    seed: int
    scales: list[float]  # α per linear layer: the float methods' ranges, the 4-bit grid
    device: torch.device
    device_note: str  # why the requested device was not used, or ""
    evaluator: PopulationEvaluator
    start: torch.Tensor | None  # (genome,) the network's weights, or None

    def generations(self, limit: int | None = None) -> Iterator[StrategyGeneration]:
        """Generation 0, then one record per generation: ``task.generations`` of them,
        or ``limit`` (0 = until the caller stops)."""
        return evolve_strategy(self.evaluator, self.task, self.seed, start=self.start,
                               generations=limit)


def prepare_strategy(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                     task: EvolveTask, seed: int) -> StrategySetup:
    """Evaluator, device and start for a float ``task`` on ``chain``'s architecture.

    ``chain`` is read, never changed: with ``task.seed_from_network`` its own float
    parameters are the start (a network holding NaN or ±Infinity raises SessionError).
    ``task.islands`` above 1 and an odd OpenES population raise SessionError too.
    """
    if task.algorithm not in ALGORITHMS:
        raise SessionError("task.algorithm", f"expected openes or pso, got "
                           f"{task.algorithm!r}")
    if task.islands > 1:
        raise SessionError("task.islands", f"islands are for the GA only; "
                           f"{task.algorithm} runs one population, got {task.islands}")
    if task.algorithm == "openes" and task.population % 2:
        raise SessionError("task.population", "OpenES evaluates perturbations in "
                           "antithetic pairs, so the population must be even, got "
                           f"{task.population}")
    check_evolvable(chain)
    scales = layer_scales(chain, task)
    device, note = resolve_device(task.device)
    evaluator = PopulationEvaluator(chain, inputs, targets, loss, scales, device)
    start = None
    if task.seed_from_network:
        start = chain_weights(chain)
        if not bool(torch.isfinite(start).all()):
            raise SessionError("task.seed_from_network", "the network's parameters hold "
                               "NaN or ±Infinity")
    return StrategySetup(task, seed, scales, device, note, evaluator, start)


def chain_weights(chain: Chain) -> torch.Tensor:
    """The chain's linear parameters as one vector in genome order, in its dtype.

    Shape: (genome,).
    """
    parts = [tensor.reshape(-1) for _, layer in chain.linear_layers()
             for tensor in (layer.params["weight"], layer.params["bias"])]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=chain.dtype)


def load_weights(chain: Chain, weights: torch.Tensor | np.ndarray) -> None:
    """Replace the chain's linear parameters by ``weights`` (genome,) in genome order."""
    flat = torch.as_tensor(weights).reshape(-1).cpu()
    layout = GenomeLayout.of(chain)
    if len(flat) != layout.size:
        raise ValueError(f"expected {layout.size} weights, got {len(flat)}")
    for number, (_, layer) in enumerate(chain.linear_layers()):
        out_features, in_features = layout.shapes[number]
        start = layout.offsets[number]
        middle = start + out_features * in_features
        layer.set_param("weight", flat[start:middle].reshape(out_features, in_features)
                        .to(chain.dtype))
        layer.set_param("bias", flat[middle:middle + out_features].to(chain.dtype))


def quantise_weights(weights: torch.Tensor, layout: GenomeLayout,
                     scales: list[float]) -> torch.Tensor:
    """The nearest 4-bit codes (uint8) of float weights, each layer on its own α grid
    (:func:`engine.evolution.genome.quantise`: ties to the smaller magnitude, beyond α
    clipped; NaN or ±Infinity raise ValueError).

    Shape: ``weights`` (..., genome) → codes of the same shape.
    """
    codes = torch.empty(weights.shape, dtype=torch.uint8, device=weights.device)
    for number, (out_features, in_features) in enumerate(layout.shapes):
        start = layout.offsets[number]
        end = start + out_features * (in_features + 1)
        codes[..., start:end] = quantise(weights[..., start:end], scales[number])
    return codes


def snap_to_grid(weights: torch.Tensor, layout: GenomeLayout,
                 scales: list[float]) -> torch.Tensor:
    """The grid values (in the weights' dtype) of :func:`quantise_weights`' codes.

    Shape: ``weights`` (..., genome) → the same.
    """
    snapped = torch.empty_like(weights)
    codes = quantise_weights(weights, layout, scales)
    for number, (out_features, in_features) in enumerate(layout.shapes):
        start = layout.offsets[number]
        end = start + out_features * (in_features + 1)
        snapped[..., start:end] = decode(codes[..., start:end], scales[number], weights.dtype)
    return snapped


def fitted_scales(weights: torch.Tensor | np.ndarray, layout: GenomeLayout) -> list[float]:
    """α per linear layer fitted to float weights (genome,): the layer's largest |w|, the
    smallest α that clips nothing (1.0 for a layer of zeros or non-finite values)."""
    flat = torch.as_tensor(weights).reshape(-1).double()
    scales = []
    for number, (out_features, in_features) in enumerate(layout.shapes):
        start = layout.offsets[number]
        largest = float(flat[start:start + out_features * (in_features + 1)].abs().max()) \
            if out_features else 0.0
        scales.append(largest if 0.0 < largest < math.inf else 1.0)
    return scales


def quantised_losses(evaluator: PopulationEvaluator, weights: torch.Tensor | np.ndarray,
                     scales: list[float] | None = None) -> torch.Tensor:
    """The loss of each weight set snapped to the GA's 4-bit grid ("the strategy, then
    quantised"): NaN for a set holding NaN or ±Infinity.

    ``scales``: α per linear layer, by default the evaluator's (``task.scales``);
    :func:`fitted_scales` gives α that clips nothing. The snapped values are evaluated
    as float weights, so any α works with the same evaluator.

    Shape: ``weights`` (N, genome) or (genome,) → losses (N,) or (1,).
    """
    flat = torch.as_tensor(weights).to(evaluator.device, evaluator.dtype)
    flat = flat.reshape(-1, evaluator.layout.size)
    usable = torch.isfinite(flat).all(1)
    losses = torch.full((len(flat),), math.nan, dtype=evaluator.dtype, device=evaluator.device)
    if bool(usable.any()):
        alphas = evaluator.scales if scales is None else scales
        snapped = snap_to_grid(flat[usable], evaluator.layout, alphas)
        losses[usable] = evaluator.losses_from_weights(snapped)
    return losses


def quantised_loss(evaluator: PopulationEvaluator, weights: torch.Tensor | np.ndarray,
                   scales: list[float] | None = None) -> float:
    """:func:`quantised_losses` of one weight set (genome,), e.g. a record's
    ``best_weights``."""
    return float(quantised_losses(evaluator, weights, scales)[0])
