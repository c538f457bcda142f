"""The one way to set up a GA run from a chain, its data and an ``evolve`` task.

The headless runner and the GUI's Evolution panel both start their runs here, so the
same session, seed and settings give the same history in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from engine.core.chain import Chain
from engine.data.session import SessionError
from engine.data.tasks import EvolveTask
from engine.evolution.ga import GenerationStats, evolve, resolve_device, seeded_population
from engine.evolution.genome import GenomeLayout, chain_genome, resolve_scales
from engine.evolution.population import PopulationEvaluator


@dataclass(frozen=True)
class EvolutionSetup:
    """A GA run ready to go: ``generations()`` yields its history."""

    task: EvolveTask
    seed: int
    scales: list[float]
    device: torch.device
    device_note: str  # why the requested device was not used, or ""
    evaluator: PopulationEvaluator
    initial: torch.Tensor | None  # the seeded population, or None for random codes

    def generations(self, limit: int | None = None) -> Iterator[GenerationStats]:
        """Generation 0, then one record per generation: ``task.generations`` of them, or
        ``limit`` (0 = until the caller stops)."""
        return evolve(self.evaluator, self.task, self.seed, initial=self.initial,
                      generations=limit)


def check_evolvable(chain: Chain) -> None:
    """A network without a linear layer has an empty genome: every individual the same,
    and a run would be a loop over nothing (a float strategy's crashed). SessionError."""
    if not GenomeLayout.of(chain).layers:
        raise SessionError("network.layers", "the network has no linear layer: there are "
                           "no weights to evolve")


def layer_scales(chain: Chain, task: EvolveTask) -> list[float]:
    """α per linear layer; a list of the wrong length (a chain edited after the settings
    were made) falls back to its first value for every layer."""
    layers = len(GenomeLayout.of(chain).layers)
    scales = task.scales
    if isinstance(scales, list) and len(scales) != layers:
        scales = scales[0] if scales else 1.0
    return resolve_scales(scales, layers)


def prepare_evolution(chain: Chain, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
                      task: EvolveTask, seed: int) -> EvolutionSetup:
    """Evaluator, device and initial population for ``task`` on ``chain``'s architecture.

    ``chain`` is read, never changed: with ``task.seed_from_network`` its parameters
    snapped to the grid are the first individual, mutated copies the rest (a network
    holding NaN or ±Infinity raises SessionError).
    """
    check_evolvable(chain)
    scales = layer_scales(chain, task)
    device, note = resolve_device(task.device)
    evaluator = PopulationEvaluator(chain, inputs, targets, loss, scales, device)
    initial = None
    if task.seed_from_network:
        try:
            genome = chain_genome(chain, scales)
        except ValueError as error:
            raise SessionError("task.seed_from_network", f"the network's parameters: {error}") \
                from None
        initial = seeded_population(genome, task.population, task.mutation_rate,
                                    torch.Generator().manual_seed(seed))
    return EvolutionSetup(task, seed, scales, device, note, evaluator, initial)
