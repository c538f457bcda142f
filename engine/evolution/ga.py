"""A genetic algorithm over 4-bit log-quantised weights, with no gradient anywhere.

Each individual is a whole weight set (a genome of 4-bit codes, see :mod:`engine.evolution.genome`).
One generation: the best ``elite`` are copied unchanged; parents are chosen (uniform,
tournament or rank-weighted); uniform crossover mixes each pair code by code; every bit
of every child flips with probability ``mutation_rate``. Selection, crossover and
mutation act on the whole population at once as array operations, written once for
numpy's arrays (small populations on the CPU) and torch's (large ones, and on a GPU): see
:mod:`engine.evolution.ga_arrays`. The population's losses come from
:class:`engine.evolution.population.PopulationEvaluator`.

``evolve`` is a generator yielding one immutable :class:`GenerationStats` per generation;
it knows nothing of threads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.tasks import EvolveTask
from engine.evolution.ga_arrays import Array, GenerationArrays, arrays_for
from engine.evolution.population import PopulationEvaluator

SAMPLE_ROWS = 48  # individuals shown by the genome view
BIT_WEIGHTS = (1, 2, 4, 8)
DENSE_MUTATION_RATE = 0.1  # above this, one uniform draw per bit is cheaper than skipping


@dataclass(frozen=True)
class Lineage:
    """How the first non-elite child of a generation was made (for the genome view)."""

    parents: tuple[int, int]  # indices in the previous generation, best first
    from_first_parent: np.ndarray  # (genome,) bool: crossover mask, True = parent A's code
    flipped: np.ndarray  # (genome,) uint8: the bits that mutation flipped (xor mask)
    parent_codes: np.ndarray  # (2, genome) uint8
    child_codes: np.ndarray  # (genome,) uint8


@dataclass(frozen=True)
class GenerationStats:
    """One generation's results; arrays are copies."""

    generation: int
    best: float
    mean: float
    std: float
    worst: float
    diversity: float  # mean pairwise Hamming distance, bits
    seconds: float  # wall time since the run started
    evaluations: int  # individual forward passes so far (full batch each)
    best_genome: np.ndarray  # (genome,) uint8
    sample: np.ndarray  # (≤ SAMPLE_ROWS, genome) uint8, sorted best first
    elites: int  # the first `elites` rows of `sample` are this generation's elites
    lineage: Lineage | None


class Population:
    """The population's codes and losses, and the operators that make the next one.

    The arrays are ``arrays``' (numpy for small CPU populations, torch otherwise; see
    :mod:`engine.evolution.ga_arrays`); ``seed`` seeds its generator.
    """

    def __init__(self, evaluator: PopulationEvaluator, task: EvolveTask, seed: int,
                 initial: torch.Tensor | None = None,
                 arrays: GenerationArrays | None = None) -> None:
        self.evaluator, self.task = evaluator, task
        size = evaluator.layout.size
        if arrays is None:
            arrays = arrays_for(evaluator.device, seed, task.population * size)
        self.arrays = arrays
        if initial is None:
            self.codes = self.arrays.random_codes(task.population, size)
        else:
            self.codes = self.arrays.asarray(initial)
        self.losses = self.arrays.losses(evaluator, self.codes)
        self.evaluations = len(self.codes)
        self.lineage: Lineage | None = None
        self._order: Array | None = None  # of self.losses, best first
        self._sorted: Array | None = None  # self.losses in that order

    def select_parents(self, count: int) -> Array:
        """Indices of ``count`` parents by the task's selection rule."""
        n = self.codes.shape[0]
        task = self.task
        if task.selection == "uniform":
            return self.arrays.integers(n, (count,))
        if task.selection == "tournament":
            entrants = self.arrays.integers(n, (count, task.tournament_size))
            return self.arrays.tournament(self.losses, entrants)
        return self.arrays.rank_weighted(self.order(), count)

    def order(self) -> Array:
        """Indices of the individuals from the lowest loss to the highest (ties by index)."""
        if self._order is None:
            self._sorted, self._order = self.arrays.sort(self.losses)
        return self._order

    def forget_order(self) -> None:
        """The losses changed in place (migrants arrived): sort again when asked."""
        self._order = self._sorted = None

    def best(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the ``count`` best individuals' codes and losses, best first."""
        best = self.order()[:count]
        return (self.arrays.to_numpy(self.arrays.take(self.codes, best)).copy(),
                self.arrays.to_numpy(self.losses[best]).copy())

    def replace_worst(self, codes: np.ndarray, losses: np.ndarray) -> None:
        """Individuals from elsewhere (migrants, best first) take the places of the worst:
        the first replaces the worst, the next the second worst, …"""
        count = len(codes)
        if count == 0:
            return
        # the worst `count`, best of them first, take the migrants worst first
        worst = self.order()[self.codes.shape[0] - count:]
        self.codes[worst] = self.arrays.asarray(codes[::-1])
        self.losses[worst] = self.arrays.losses_from(losses[::-1], self.losses)
        self.forget_order()

    def step(self) -> None:
        """Replace the population by the next generation and evaluate its children."""
        task, n, arrays = self.task, self.codes.shape[0], self.arrays
        elites = self.order()[:task.elite]
        children_needed = n - task.elite
        per_pair = task.children_per_pair
        pairs = math.ceil(children_needed / per_pair)
        parents = self.select_parents(2 * pairs).reshape(pairs, 2)
        # (pairs, 2, genome): one gather for both parents
        pair_codes = arrays.take(self.codes, parents.reshape(-1)).reshape(pairs, 2, -1)
        first, second = pair_codes[:, 0], pair_codes[:, 1]
        size = first.shape[1]
        # the next generation: the elites, then the children with a pair's side by side
        next_codes = arrays.empty((task.elite + pairs * per_pair, size))
        arrays.take(self.codes, elites, out=next_codes[:task.elite])
        children = next_codes[task.elite:].reshape(pairs, per_pair, size)
        if task.crossover:
            mask = self._coin_flips(pairs, size)  # 0xFF: the code comes from the first parent
            # where the mask is set, swap the second parent's code for the first's
            swap = first ^ second
            swap &= mask
            arrays.xor(second, swap, out=children[:, 0])
            if per_pair == 2:
                arrays.xor(first, swap, out=children[:, 1])
        else:  # children copy one parent each
            mask = arrays.zeros(first.shape)
            mask |= 0xFF
            children[:, 0] = first
            if per_pair == 2:
                children[:, 1] = second
        offspring = next_codes[task.elite:n]
        flips = self._mutation_masks(tuple(offspring.shape))
        offspring ^= flips
        self._record_lineage(parents, mask, flips, offspring, first, second)
        child_losses = arrays.losses(self.evaluator, offspring)
        self.codes = next_codes[:n]
        self.losses = arrays.concat([self.losses[elites], child_losses])
        self.forget_order()
        self.evaluations += offspring.shape[0]

    def _coin_flips(self, rows: int, columns: int) -> Array:
        """Fair coins (rows, columns) as uint8 masks, 0x00 or 0xFF, eight from each random
        byte (the generator, not the arithmetic, is what costs here)."""
        per_row = (columns + 7) // 8
        random_bytes = self.arrays.random_bytes(rows * per_row)
        masks = self.arrays.take(self.arrays.byte_masks, random_bytes)
        return masks.reshape(rows, per_row * 8)[:, :columns]

    def _mutation_masks(self, shape: tuple[int, ...]) -> Array:
        """An xor mask per code: each of its 4 bits set independently with probability p.

        For small p the flipped bits are found by geometric skipping: in a Bernoulli(p)
        process the gaps between successes are Geometric(p), so drawing the gaps gives
        exactly the same distribution as one coin per bit, with p·bits draws instead of
        bits draws.
        """
        rate = self.task.mutation_rate
        masks = self.arrays.zeros(shape)
        if rate == 0.0 or math.prod(shape) == 0:
            return masks
        if rate >= DENSE_MUTATION_RATE:
            for weight in BIT_WEIGHTS:
                masks |= self.arrays.bits(shape, rate) * weight
            return masks
        positions = self._bernoulli_positions(math.prod(shape) * 4, rate)
        # position 4·c + b is bit b of code c; a code's bits are distinct, so adding
        # their weights sets them (one scatter instead of one per bit)
        weights = self.arrays.as_uint8(1 << (positions & 3))
        self.arrays.add_at(masks.reshape(-1), positions >> 2, weights)
        return masks

    def _bernoulli_positions(self, total: int, rate: float) -> Array:
        """Sorted indices of successes among ``total`` independent Bernoulli(rate) trials."""
        expected = total * rate
        found: list[Array] = []
        reached = -1
        while reached < total:
            draws = int(expected + 6 * math.sqrt(expected) + 16)
            positions = self.arrays.geometric(rate, draws, total).cumsum(0)
            positions += reached
            found.append(positions)
            reached = int(positions[-1])
            expected = max((total - reached) * rate, 1.0)
        positions = found[0] if len(found) == 1 else self.arrays.concat(found)
        # sorted: the successes are the positions before the first one past the end
        return positions[:self.arrays.searchsorted(positions, total)]

    def _record_lineage(self, parents: Array, mask: Array, flips: Array,
                        offspring: Array, first: Array, second: Array) -> None:
        if offspring.shape[0] == 0:
            self.lineage = None
            return
        # one copy of the five rows (one read from a GPU), split into views of it
        rows = self.arrays.to_numpy(self.arrays.stack(
            [first[0], second[0], offspring[0], flips[0], mask[0]]))
        mother, father = self.arrays.to_numpy(parents[0]).tolist()
        self.lineage = Lineage(parents=(mother, father), from_first_parent=rows[4].astype(bool),
                               flipped=rows[3], parent_codes=rows[:2], child_codes=rows[2])

    def diversity(self) -> float:
        """Mean Hamming distance (bits) over all pairs of individuals, from bit counts:
        at each bit, n₁·n₀ of the N(N−1)/2 pairs differ."""
        n = self.codes.shape[0]
        if n < 2:
            return 0.0
        ones = self.arrays.bit_counts(self.codes)
        # Σ n₁·n₀ over the bits, exact in int64
        return int((ones * (n - ones)).sum()) / (n * (n - 1) / 2)

    def stats(self, generation: int, started: float) -> GenerationStats:
        order = self.order()
        best, worst, mean, std = self.arrays.summary(self.losses, self._sorted)
        # a fresh array: the best genome is its first row
        sample = self.arrays.to_numpy(self.arrays.take(self.codes, order[:SAMPLE_ROWS]))
        return GenerationStats(
            generation=generation,
            best=best,
            mean=mean,
            std=std,
            worst=worst,
            diversity=self.diversity(),
            seconds=time.perf_counter() - started,
            evaluations=self.evaluations,
            best_genome=sample[0],
            sample=sample,
            elites=min(self.task.elite, SAMPLE_ROWS),
            lineage=self.lineage,
        )


def seeded_population(genome: torch.Tensor, size: int, rate: float,
                      generator: torch.Generator) -> torch.Tensor:
    """A population grown from one genome (a quantised float network): the genome itself,
    then copies with each bit flipped with probability max(rate, 0.01)."""
    population = genome.reshape(1, -1).repeat(size, 1)
    flip = max(rate, 0.01)
    for bit in range(4):
        flips = torch.rand(population.shape, generator=generator) < flip
        population ^= flips.to(torch.uint8) << bit
    population[0] = genome
    return population


def resolve_device(requested: str) -> tuple[torch.device, str]:
    """The device to run on and a note when the request could not be met."""
    if requested in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda"), ""
    if requested == "cuda":
        return torch.device("cpu"), "CUDA was requested but is not available; ran on the CPU"
    return torch.device("cpu"), ""


def evolve(evaluator: PopulationEvaluator, task: EvolveTask, seed: int,
           initial: torch.Tensor | None = None,
           generations: int | None = None) -> Iterator[GenerationStats]:
    """Yield generation 0 (the initial population), then one stats record per generation.

    ``generations`` overrides ``task.generations`` (None in the GUI: run until stopped).
    The same evaluator device, task and seed give bit-identical histories.
    """
    started = time.perf_counter()
    population = Population(evaluator, task, seed, initial)
    yield population.stats(0, started)
    limit = task.generations if generations is None else generations
    generation = 0
    while limit <= 0 or generation < limit:
        generation += 1
        population.step()
        yield population.stats(generation, started)
