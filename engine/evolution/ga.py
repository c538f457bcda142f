"""A genetic algorithm over 4-bit log-quantised weights, with no gradient anywhere.

Each individual is a whole weight set (a genome of 4-bit codes, see :mod:`engine.evolution.genome`).
One generation: the best ``elite`` are copied unchanged; parents are chosen (uniform,
tournament or rank-weighted); uniform crossover mixes each pair code by code; every bit
of every child flips with probability ``mutation_rate``. Selection, crossover and
mutation act on the whole population at once as tensor operations, and the population's
losses come from :class:`engine.evolution.population.PopulationEvaluator`.

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
from engine.evolution.genome import CODES
from engine.evolution.population import PopulationEvaluator

SAMPLE_ROWS = 48  # individuals shown by the genome view
BIT_WEIGHTS = (1, 2, 4, 8)
DENSE_MUTATION_RATE = 0.1  # above this, one uniform draw per bit is cheaper than skipping
# byte b → eight masks, 0xFF where bit k of b is set: one random byte gives eight coins
_BYTE_MASKS = torch.tensor([[0xFF * ((byte >> bit) & 1) for bit in range(8)]
                            for byte in range(256)], dtype=torch.uint8)
# code c → its four bits in four 16-bit fields of an int64 (bit b at 16·b): summing these
# over the individuals counts every bit's ones at once, each in its own field
_SPREAD_BITS = torch.tensor([sum(((code >> bit) & 1) << (16 * bit) for bit in range(4))
                             for code in range(CODES)], dtype=torch.int64)
_FIELD_SHIFTS = torch.tensor([16 * bit for bit in range(4)], dtype=torch.int64)
_FIELD_MASK = 0xFFFF
# counts below 2^15 keep the top field, and so the int64 sum, clear of the sign bit
PACKED_COUNT_LIMIT = (1 << 15) - 1
# Below this per-bit rate a geometric gap can pass 2^63 (and wrap) as an int64 draw:
# those rates draw the gaps in float64 and clamp them.
INTEGER_GAP_MIN_RATE = 1e-12


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
    """The population's codes and losses, and the operators that make the next one."""

    def __init__(self, evaluator: PopulationEvaluator, task: EvolveTask,
                 generator: torch.Generator, initial: torch.Tensor | None = None) -> None:
        self.evaluator, self.task, self.generator = evaluator, task, generator
        self.device = evaluator.device
        size = evaluator.layout.size
        if initial is None:
            self.codes = torch.randint(0, CODES, (task.population, size), generator=generator,
                                       device=self.device, dtype=torch.uint8)
        else:
            self.codes = initial.to(self.device, torch.uint8)
        self.losses = self._nan_to_inf(evaluator.losses(self.codes))
        self.evaluations = len(self.codes)
        self.lineage: Lineage | None = None
        self._order: torch.Tensor | None = None  # of self.losses, best first
        self._sorted: torch.Tensor | None = None  # self.losses in that order
        self._scratch = torch.empty_like(self.codes)  # reused: fresh megabytes page-fault
        self._byte_masks = _BYTE_MASKS.to(self.device)
        self._spread_bits = _SPREAD_BITS.to(self.device)
        self._field_shifts = _FIELD_SHIFTS.to(self.device)

    @staticmethod
    def _nan_to_inf(losses: torch.Tensor) -> torch.Tensor:
        # an individual whose loss is NaN is the worst, not an unorderable one
        return torch.nan_to_num(losses, nan=math.inf, posinf=math.inf)

    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=self.device)

    def select_parents(self, count: int) -> torch.Tensor:
        """Indices of ``count`` parents by the task's selection rule."""
        n = self.codes.shape[0]
        task = self.task
        if task.selection == "uniform":
            return torch.randint(0, n, (count,), generator=self.generator, device=self.device)
        if task.selection == "tournament":
            entrants = torch.randint(0, n, (count, task.tournament_size),
                                     generator=self.generator, device=self.device)
            winner = self.losses.take(entrants).argmin(1, keepdim=True)
            return entrants.gather(1, winner).view(-1)
        # rank-weighted: the best has weight n, the worst 1
        ranks = torch.empty(n, device=self.device)
        ranks[self.order()] = torch.arange(
            n, 0, -1, dtype=ranks.dtype, device=self.device)
        return torch.multinomial(ranks, count, replacement=True, generator=self.generator)

    def order(self) -> torch.Tensor:
        """Indices of the individuals from the lowest loss to the highest (ties by index)."""
        if self._order is None:
            self._sorted, self._order = self.losses.sort(stable=True)
        return self._order

    def forget_order(self) -> None:
        """The losses changed in place (migrants arrived): sort again when asked."""
        self._order = self._sorted = None

    def step(self) -> None:
        """Replace the population by the next generation and evaluate its children."""
        task, n = self.task, self.codes.shape[0]
        elites = self.order()[:task.elite]
        children_needed = n - task.elite
        per_pair = task.children_per_pair
        pairs = math.ceil(children_needed / per_pair)
        parents = self.select_parents(2 * pairs).reshape(pairs, 2)
        # (pairs, 2, genome): one gather for both parents
        pair_codes = self.codes.index_select(0, parents.view(-1)).view(pairs, 2, -1)
        first, second = pair_codes[:, 0], pair_codes[:, 1]
        size = first.shape[1]
        # the next generation: the elites, then the children with a pair's side by side
        next_codes = torch.empty(task.elite + pairs * per_pair, size, dtype=torch.uint8,
                                 device=self.device)
        torch.index_select(self.codes, 0, elites, out=next_codes[:task.elite])
        children = next_codes[task.elite:].view(pairs, per_pair, size)
        if task.crossover:
            mask = self._coin_flips(pairs, size)  # 0xFF: the code comes from the first parent
            # where the mask is set, swap the second parent's code for the first's
            swap = torch.bitwise_xor(first, second).bitwise_and_(mask)
            torch.bitwise_xor(second, swap, out=children[:, 0])
            if per_pair == 2:
                torch.bitwise_xor(first, swap, out=children[:, 1])
        else:  # children copy one parent each
            mask = torch.full_like(first, 0xFF)
            children[:, 0] = first
            if per_pair == 2:
                children[:, 1] = second
        offspring = next_codes[task.elite:n]
        flips = self._mutation_masks(offspring.shape)
        offspring ^= flips
        self._record_lineage(parents, mask, flips, offspring, first, second)
        child_losses = self.evaluator.losses(offspring)
        losses = torch.empty(n, dtype=child_losses.dtype, device=self.device)
        torch.index_select(self.losses, 0, elites, out=losses[:task.elite])
        torch.nan_to_num(child_losses, nan=math.inf, posinf=math.inf,
                         out=losses[task.elite:])
        self.codes, self.losses = next_codes[:n], losses
        self.forget_order()
        self.evaluations += offspring.shape[0]

    def _coin_flips(self, rows: int, columns: int) -> torch.Tensor:
        """Fair coins (rows, columns) as uint8 masks, 0x00 or 0xFF, eight from each random
        byte (the generator, not the arithmetic, is what costs here)."""
        per_row = (columns + 7) // 8
        random_bytes = torch.randint(0, 256, (rows * per_row,), generator=self.generator,
                                     device=self.device, dtype=torch.int32)
        masks = self._byte_masks.index_select(0, random_bytes)
        return masks.view(rows, per_row * 8)[:, :columns]

    def _mutation_masks(self, shape: torch.Size) -> torch.Tensor:
        """An xor mask per code: each of its 4 bits set independently with probability p.

        For small p the flipped bits are found by geometric skipping: in a Bernoulli(p)
        process the gaps between successes are Geometric(p), so drawing the gaps gives
        exactly the same distribution as one coin per bit, with p·bits draws instead of
        bits draws.
        """
        rate = self.task.mutation_rate
        masks = torch.zeros(shape, dtype=torch.uint8, device=self.device)
        if rate == 0.0 or masks.numel() == 0:
            return masks
        if rate >= DENSE_MUTATION_RATE:
            for weight in BIT_WEIGHTS:
                masks |= (self._rand(*shape) < rate).to(torch.uint8) * weight
            return masks
        positions = self._bernoulli_positions(masks.numel() * 4, rate)
        # position 4·c + b is bit b of code c; a code's bits are distinct, so adding
        # their weights sets them (one scatter instead of one per bit)
        weights = torch.bitwise_left_shift(1, positions & 3).to(torch.uint8)
        masks.view(-1).index_add_(0, positions >> 2, weights)
        return masks

    def _bernoulli_positions(self, total: int, rate: float) -> torch.Tensor:
        """Sorted indices of successes among ``total`` independent Bernoulli(rate) trials."""
        expected = total * rate
        found: list[torch.Tensor] = []
        reached = -1
        while reached < total:
            draws = int(expected + 6 * math.sqrt(expected) + 16)
            positions = torch.cumsum(self._geometric_gaps(draws, rate, total), 0).add_(reached)
            found.append(positions)
            reached = int(positions[-1])
            expected = max((total - reached) * rate, 1.0)
        positions = found[0] if len(found) == 1 else torch.cat(found)
        # sorted: the successes are the positions before the first one past the end
        return positions[:int(torch.searchsorted(positions, total))]

    def _geometric_gaps(self, count: int, rate: float, total: int) -> torch.Tensor:
        """``count`` Geometric(rate) draws (trials up to and including a success, ≥ 1) as
        int64; at tiny rates drawn in float64 and clamped past ``total`` first."""
        if rate >= INTEGER_GAP_MIN_RATE:
            return torch.empty(count, dtype=torch.int64, device=self.device).geometric_(
                rate, generator=self.generator)
        gaps = torch.empty(count, dtype=torch.float64, device=self.device).geometric_(
            rate, generator=self.generator)
        return gaps.clamp_(max=total + 1).long()

    def _record_lineage(self, parents: torch.Tensor, mask: torch.Tensor, flips: torch.Tensor,
                        offspring: torch.Tensor, first: torch.Tensor,
                        second: torch.Tensor) -> None:
        if offspring.shape[0] == 0:
            self.lineage = None
            return
        # one copy of the five rows, split into views of it
        rows = torch.stack([first[0], second[0], offspring[0], flips[0], mask[0]]).cpu().numpy()
        mother, father = parents[0].tolist()
        self.lineage = Lineage(parents=(mother, father), from_first_parent=rows[4].astype(bool),
                               flipped=rows[3], parent_codes=rows[:2], child_codes=rows[2])

    def diversity(self) -> float:
        """Mean Hamming distance (bits) over all pairs of individuals, from bit counts:
        at each bit, n₁·n₀ of the N(N−1)/2 pairs differ."""
        n = self.codes.shape[0]
        if n < 2:
            return 0.0
        ones = self._bit_counts()
        # Σ n₁·n₀ over the bits, exact in int64
        return int(ones.mul(n - ones).sum()) / (n * (n - 1) / 2)


    def _bit_counts(self) -> torch.Tensor:
        """How many individuals set each bit of each code (genome · 4,) int64, in no
        particular order."""
        if self.codes.shape[0] <= PACKED_COUNT_LIMIT:
            # one gather and one column sum: each code's four bits in 16-bit fields
            spread = torch.index_select(self._spread_bits, 0, self.codes.view(-1).int(),
                                        out=self._spread_buffer(self.codes.numel()))
            fields = spread.view(self.codes.shape).sum(0)  # (genome,)
            return fields.unsqueeze(1).bitwise_right_shift(self._field_shifts) \
                .bitwise_and_(_FIELD_MASK).view(-1)
        # one contiguous pass per bit (a broadcast shift of all four bits at once
        # measured 3x slower)
        return torch.cat([
            _column_counts(torch.bitwise_right_shift(self.codes, bit, out=self._scratch)
                           .bitwise_and_(1))
            for bit in range(len(BIT_WEIGHTS))]).long()

    def _spread_buffer(self, size: int) -> torch.Tensor:
        # reused: a fresh one (megabytes at large N) would be page-faulted in every time
        buffer = self.__dict__.get("_spread")
        if buffer is None or buffer.shape[0] < size:
            buffer = self._spread = torch.empty(size, dtype=torch.int64, device=self.device)
        return buffer[:size]

    def stats(self, generation: int, started: float) -> GenerationStats:
        order = self.order()
        assert self._sorted is not None
        best, worst, mean, std = self._summary()
        # a fresh tensor: its array is a copy, and the best genome is its first row
        sample = self.codes.index_select(0, order[:SAMPLE_ROWS]).cpu().numpy()
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


    def _summary(self) -> tuple[float, float, float, float]:
        """Best, worst, and the mean and standard deviation of the finite losses (inf
        and 0 where there are too few); one read from the device when all are finite."""
        assert self._sorted is not None
        ends = self._sorted[[0, -1]]
        if self.losses.shape[0] > 1:
            std, mean = torch.std_mean(self.losses)
            best, worst, *moments = torch.cat([ends, torch.stack([mean, std])]).tolist()
            # NaN losses are inf already: finite ends mean that all are finite
            if -math.inf < best and worst < math.inf:
                return best, worst, moments[0], moments[1]
        best, worst = ends.tolist()
        finite = self.losses[torch.isfinite(self.losses)]
        if finite.numel() < 2:
            return best, worst, float(finite.sum()) if finite.numel() else math.inf, 0.0
        std, mean = torch.std_mean(finite)
        return best, worst, *torch.stack([mean, std]).tolist()


def _column_counts(bits: torch.Tensor) -> torch.Tensor:
    """Column sums (columns,) int32 of a (rows, columns) uint8 tensor of 0s and 1s.

    Blocks of 255 rows are summed in uint8 first, which cannot overflow: summing into
    int32 directly would first copy the whole tensor to int32, several times slower.
    """
    if bits.shape[1] == 0:  # a chain with no linear layer has an empty genome
        return torch.zeros(0, dtype=torch.int32, device=bits.device)
    whole = len(bits) - len(bits) % 255
    counts = bits[whole:].sum(0, dtype=torch.int32)
    if whole:
        blocks = bits[:whole].view(-1, 255, bits.shape[1]).sum(1, dtype=torch.uint8)
        counts += blocks.sum(0, dtype=torch.int32)
    return counts


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
    generator = torch.Generator(device=evaluator.device).manual_seed(seed)
    started = time.perf_counter()
    population = Population(evaluator, task, generator, initial)
    yield population.stats(0, started)
    limit = task.generations if generations is None else generations
    generation = 0
    while limit <= 0 or generation < limit:
        generation += 1
        population.step()
        yield population.stats(generation, started)
