"""The array operations the genetic algorithm is written in: numpy's for small populations
on the CPU, torch's for large ones and on a GPU.

A generation of the GA is some 60 operations on small arrays (100 x 337 codes at N = 100).
On the CPU torch pays several microseconds of dispatch for each, and wakes its second
thread for anything over 32 768 elements, where numpy pays under one: in torch the GA's
bookkeeping was 40 % of a generation. So the GA (:mod:`engine.evolution.ga`) is written
once, in the operators numpy arrays and torch tensors share (``^``, ``&``, ``>>``,
slicing, ``reshape``, ``argmin``, ``cumsum``) and the methods here; its arrays are numpy's
for a CPU population of up to NUMPY_MAX_CODES codes (the torch evaluator gets zero-copy
views) and torch's otherwise. Each backend is deterministic for a seed; their random
streams differ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from engine.evolution.genome import CODES
from engine.evolution.population import PopulationEvaluator

Array = Any  # an np.ndarray on NumpyArrays, a torch.Tensor on TorchArrays

# byte b → eight masks, 0xFF where bit k of b is set: one random byte gives eight coins
_BYTE_MASKS = np.array([[0xFF * ((byte >> bit) & 1) for bit in range(8)]
                        for byte in range(256)], dtype=np.uint8)
# code c → its four bits in four 16-bit fields of an int64 (bit b at 16·b): summing these
# over the individuals counts every bit's ones at once, each in its own field
_SPREAD_BITS = np.array([sum(((code >> bit) & 1) << (16 * bit) for bit in range(4))
                         for code in range(CODES)], dtype=np.int64)
# the same in 8-bit fields of a uint32 and 16-bit ones of a uint64, for numpy's view of
# them as bytes or half-words
_SPREAD_BYTES = np.array([sum(((code >> bit) & 1) << (8 * bit) for bit in range(4))
                          for code in range(CODES)], dtype=np.uint32)
_SPREAD_WORDS = _SPREAD_BITS.astype(np.uint64)
_FIELD_SHIFTS = np.array([16 * bit for bit in range(4)], dtype=np.int64)
_FIELD_MASK = 0xFFFF
# counts below 2^15 keep the top field, and so the int64 sum, clear of the sign bit
PACKED_COUNT_LIMIT = (1 << 15) - 1
# Below this per-bit rate a geometric gap can pass 2^63 (and wrap) as an int64 draw:
# those rates draw the gaps in float64 and clamp them.
INTEGER_GAP_MIN_RATE = 1e-12
CODE_BITS = 4
# Populations of up to this many codes (individuals x genome size) run on numpy on the
# CPU: measured per generation on the benchmark's task (337 codes an individual), numpy
# was 15 % quicker at N = 100, even at N = 1 000, and 30 % slower at N = 10 000, where
# torch's two threads pay.
NUMPY_MAX_CODES = 1 << 18


class GenerationArrays:
    """What the GA needs beyond the operators numpy and torch share: random draws,
    gathers, sorting, and the two reductions whose fast forms differ."""

    byte_masks: Array  # (256, 8) uint8

    def random_codes(self, rows: int, columns: int) -> Array:
        """Uniform codes (rows, columns) uint8."""
        raise NotImplementedError

    def integers(self, high: int, shape: tuple[int, ...]) -> Array:
        """Uniform integers in [0, high), usable as indices."""
        raise NotImplementedError

    def random_bytes(self, count: int) -> Array:
        """``count`` uniform integers in [0, 256), usable as indices."""
        raise NotImplementedError

    def bits(self, shape: tuple[int, ...], rate: float) -> Array:
        """Independent Bernoulli(rate) draws (shape) as uint8 0 or 1."""
        raise NotImplementedError

    def geometric(self, rate: float, count: int, total: int) -> Array:
        """``count`` Geometric(rate) draws (trials up to and including a success, ≥ 1) as
        int64; at tiny rates drawn in float64 and clamped past ``total`` first."""
        raise NotImplementedError

    def rank_weighted(self, order: Array, count: int) -> Array:
        """``count`` indices drawn with replacement, the best (``order[0]``) with weight
        n, the worst 1."""
        raise NotImplementedError

    def tournament(self, losses: Array, entrants: Array) -> Array:
        """Each row of ``entrants`` (count, size)'s entrant with the lowest loss (the first
        among equals), (count,)."""
        raise NotImplementedError

    def sort(self, values: Array) -> tuple[Array, Array]:
        """The values sorted, and their order (ties by index)."""
        raise NotImplementedError

    def take(self, array: Array, rows: Array, out: Array | None = None) -> Array:
        """``array``'s rows at ``rows``, into ``out`` when given."""
        raise NotImplementedError

    def xor(self, first: Array, second: Array, out: Array) -> Array:
        raise NotImplementedError

    def zeros(self, shape: tuple[int, ...]) -> Array:
        """uint8 zeros."""
        raise NotImplementedError

    def empty(self, shape: tuple[int, ...]) -> Array:
        """An uninitialised uint8 array."""
        raise NotImplementedError

    def concat(self, arrays: list[Array]) -> Array:
        raise NotImplementedError

    def stack(self, arrays: list[Array]) -> Array:
        raise NotImplementedError

    def as_uint8(self, array: Array) -> Array:
        raise NotImplementedError

    def add_at(self, flat: Array, positions: Array, values: Array) -> None:
        """flat[positions] += values, repeated positions adding up."""
        raise NotImplementedError

    def searchsorted(self, ordered: Array, value: int) -> int:
        raise NotImplementedError

    def losses(self, evaluator: PopulationEvaluator, codes: Array) -> Array:
        """The evaluator's losses of ``codes``, NaN and ±inf as +inf (the worst, not an
        unorderable one)."""
        raise NotImplementedError

    def asarray(self, codes: torch.Tensor | np.ndarray) -> Array:
        """A copy of ``codes`` (uint8) on this backend, from any strides (a reversed
        view) and read-only memory (Ray's object store)."""
        raise NotImplementedError

    def losses_from(self, losses: np.ndarray, like: Array) -> Array:
        """``losses`` on this backend, in ``like``'s dtype."""
        raise NotImplementedError

    def to_numpy(self, array: Array) -> np.ndarray:
        """``array`` as numpy; shares memory with a fresh array on the CPU."""
        raise NotImplementedError

    def bit_counts(self, codes: Array) -> Array:
        """How many individuals set each bit of each code, (genome · 4,) int64, in no
        particular order."""
        raise NotImplementedError

    def summary(self, losses: Array, ordered: Array) -> tuple[float, float, float, float]:
        """Best, worst, and the mean and sample standard deviation of the finite losses
        (inf and 0 where there are too few). ``ordered`` is ``losses`` sorted."""
        raise NotImplementedError


class NumpyArrays(GenerationArrays):
    """The CPU's backend: numpy arrays and a PCG64 generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.byte_masks = _BYTE_MASKS
        # bit_counts' output, reused: a fresh array of over 128 KiB comes from mmap and
        # is page-faulted in every time
        self._spread = np.empty(0, dtype=np.uint32)

    def random_codes(self, rows: int, columns: int) -> np.ndarray:
        return self.rng.integers(0, CODES, (rows, columns), dtype=np.uint8)

    def integers(self, high: int, shape: tuple[int, ...]) -> np.ndarray:
        # int32 draws are a third quicker, and index as well
        return self.rng.integers(0, high, shape, dtype=np.int32 if high < 2**31 else np.int64)

    def random_bytes(self, count: int) -> np.ndarray:
        return self.rng.integers(0, 256, count, dtype=np.int32)

    def bits(self, shape: tuple[int, ...], rate: float) -> np.ndarray:
        return (self.rng.random(shape) < rate).view(np.uint8)

    def geometric(self, rate: float, count: int, total: int) -> np.ndarray:
        # by inversion: for E ~ Exp(1), P(⌈E/λ⌉ > k) = e^(−kλ) = (1 − p)^k with
        # λ = −log(1 − p); from the ziggurat's exponentials this is 1.7x quicker than
        # numpy's geometric. In float64, clamped past ``total`` (tiny rates would pass
        # 2^63) and to at least 1 (E can be 0).
        gaps = np.ceil(self.rng.standard_exponential(count) / -math.log1p(-rate))
        return np.clip(gaps, 1, total + 1, out=gaps).astype(np.int64)

    def rank_weighted(self, order: np.ndarray, count: int) -> np.ndarray:
        n = len(order)
        # the k-th best has weight n − k: draw a rank by the cumulative weights
        cumulative = np.cumsum(np.arange(n, 0, -1, dtype=np.float64))
        ranks = np.searchsorted(cumulative, self.rng.random(count) * cumulative[-1],
                                side="right")
        return order[np.minimum(ranks, n - 1)]

    def tournament(self, losses: np.ndarray, entrants: np.ndarray) -> np.ndarray:
        return entrants[np.arange(len(entrants)), losses[entrants].argmin(1)]

    def sort(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(values, kind="stable")
        return values[order], order

    def take(self, array: np.ndarray, rows: np.ndarray,
             out: np.ndarray | None = None) -> np.ndarray:
        return np.take(array, rows, axis=0, out=out)

    def xor(self, first: np.ndarray, second: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.bitwise_xor(first, second, out=out)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=np.uint8)

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape, dtype=np.uint8)

    def concat(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)

    def stack(self, arrays: list[np.ndarray]) -> np.ndarray:
        return np.stack(arrays)

    def as_uint8(self, array: np.ndarray) -> np.ndarray:
        return array.astype(np.uint8)

    def add_at(self, flat: np.ndarray, positions: np.ndarray, values: np.ndarray) -> None:
        np.add.at(flat, positions, values)

    def searchsorted(self, ordered: np.ndarray, value: int) -> int:
        return int(np.searchsorted(ordered, value))

    def losses(self, evaluator: PopulationEvaluator, codes: np.ndarray) -> np.ndarray:
        losses = evaluator.losses(torch.from_numpy(codes)).numpy()
        bad = ~np.isfinite(losses)
        if bad.any():  # one quick test: np.nan_to_num costs 3x more
            losses[bad] = math.inf
        return losses

    def asarray(self, codes: torch.Tensor | np.ndarray) -> np.ndarray:
        if isinstance(codes, torch.Tensor):
            codes = codes.cpu().numpy()
        return np.array(codes, dtype=np.uint8)

    def losses_from(self, losses: np.ndarray, like: np.ndarray) -> np.ndarray:
        return np.asarray(losses, dtype=like.dtype)

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def bit_counts(self, codes: np.ndarray) -> np.ndarray:
        n = codes.shape[0]
        if n > PACKED_COUNT_LIMIT:
            return np.concatenate([((codes >> bit) & 1).sum(0) for bit in range(CODE_BITS)])
        # one gather and one column sum: each code's four bits in four fields of a word,
        # bytes while the counts fit (half the memory of 16-bit fields); the fields are
        # then read as a view (a shift and a mask per field measured 3x slower)
        spread, field = (_SPREAD_BYTES, np.uint8) if n <= 0xFF else (_SPREAD_WORDS, np.uint16)
        if self._spread.shape != codes.shape or self._spread.dtype != spread.dtype:
            self._spread = np.empty(codes.shape, dtype=spread.dtype)
        # mode="clip" (codes are below 16 anyway): "raise" would write to a temporary
        fields = np.take(spread, codes, out=self._spread, mode="clip").sum(
            0, dtype=spread.dtype)
        return fields.view(field).astype(np.int64)

    def summary(self, losses: np.ndarray, ordered: np.ndarray
                ) -> tuple[float, float, float, float]:
        best, worst = float(ordered[0]), float(ordered[-1])
        # non-finite losses are inf already: a finite worst means that all are finite;
        # the moments in float64, as torch accumulates float32 sums (1e35s overflow)
        finite = (losses if worst < math.inf else losses[np.isfinite(losses)]) \
            .astype(np.float64)
        if len(finite) < 2:
            return best, worst, float(finite.sum()) if len(finite) else math.inf, 0.0
        mean = finite.mean()
        deviations = finite - mean  # a dot product: a third of np.std's time
        return best, worst, float(mean), math.sqrt(float(deviations @ deviations)
                                                   / (len(finite) - 1))


class TorchArrays(GenerationArrays):
    """The backend of large CPU populations and of GPUs: tensors and the device's own
    generator."""

    def __init__(self, device: torch.device, seed: int) -> None:
        self.device = device
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.byte_masks = torch.from_numpy(_BYTE_MASKS).to(device)
        self._spread_bits = torch.from_numpy(_SPREAD_BITS).to(device)
        self._field_shifts = torch.from_numpy(_FIELD_SHIFTS).to(device)
        self._spread: torch.Tensor | None = None  # reused by bit_counts
        self._scratch: torch.Tensor | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> TorchArrays:
        """A twin whose generator continues from this one's state."""
        twin = TorchArrays(self.device, 0)
        twin.generator.set_state(self.generator.get_state())
        return twin

    def random_codes(self, rows: int, columns: int) -> torch.Tensor:
        return torch.randint(0, CODES, (rows, columns), generator=self.generator,
                             device=self.device, dtype=torch.uint8)

    def integers(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=self.generator, device=self.device)

    def random_bytes(self, count: int) -> torch.Tensor:
        # int32: the cheapest index dtype (half the memory of int64: 170 MB at N = 10^6)
        return torch.randint(0, 256, (count,), generator=self.generator,
                             device=self.device, dtype=torch.int32)

    def bits(self, shape: tuple[int, ...], rate: float) -> torch.Tensor:
        draws = torch.rand(shape, generator=self.generator, device=self.device)
        return (draws < rate).to(torch.uint8)

    def geometric(self, rate: float, count: int, total: int) -> torch.Tensor:
        if rate >= INTEGER_GAP_MIN_RATE:
            return torch.empty(count, dtype=torch.int64, device=self.device).geometric_(
                rate, generator=self.generator)
        gaps = torch.empty(count, dtype=torch.float64, device=self.device).geometric_(
            rate, generator=self.generator)
        return gaps.clamp_(max=total + 1).long()

    def rank_weighted(self, order: torch.Tensor, count: int) -> torch.Tensor:
        n = len(order)
        ranks = torch.empty(n, device=self.device)
        ranks[order] = torch.arange(n, 0, -1, dtype=ranks.dtype, device=self.device)
        return torch.multinomial(ranks, count, replacement=True, generator=self.generator)

    def tournament(self, losses: torch.Tensor, entrants: torch.Tensor) -> torch.Tensor:
        winner = losses.take(entrants).argmin(1, keepdim=True)
        return entrants.gather(1, winner).view(-1)

    def sort(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ordered, order = values.sort(stable=True)
        return ordered, order

    def take(self, array: torch.Tensor, rows: torch.Tensor,
             out: torch.Tensor | None = None) -> torch.Tensor:
        if out is None:
            return torch.index_select(array, 0, rows)
        return torch.index_select(array, 0, rows, out=out)

    def xor(self, first: torch.Tensor, second: torch.Tensor,
            out: torch.Tensor) -> torch.Tensor:
        return torch.bitwise_xor(first, second, out=out)

    def zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.zeros(shape, dtype=torch.uint8, device=self.device)

    def empty(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.empty(shape, dtype=torch.uint8, device=self.device)

    def concat(self, arrays: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(arrays)

    def stack(self, arrays: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(arrays)

    def as_uint8(self, array: torch.Tensor) -> torch.Tensor:
        return array.to(torch.uint8)

    def add_at(self, flat: torch.Tensor, positions: torch.Tensor,
               values: torch.Tensor) -> None:
        flat.index_add_(0, positions, values)

    def searchsorted(self, ordered: torch.Tensor, value: int) -> int:
        return int(torch.searchsorted(ordered, value))

    def losses(self, evaluator: PopulationEvaluator, codes: torch.Tensor) -> torch.Tensor:
        return torch.nan_to_num(evaluator.losses(codes), nan=math.inf, posinf=math.inf,
                                neginf=math.inf)

    def asarray(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(codes, np.ndarray):
            # np.array: a copy with positive strides, which torch needs (a reversed
            # one-row view is flagged contiguous, so np.ascontiguousarray keeps it)
            return torch.from_numpy(np.array(codes, dtype=np.uint8)).to(self.device)
        return codes.to(self.device, torch.uint8, copy=True)

    def losses_from(self, losses: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.array(losses)).to(self.device, like.dtype)

    def to_numpy(self, array: torch.Tensor) -> np.ndarray:
        return array.cpu().numpy()

    def bit_counts(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.shape[0] <= PACKED_COUNT_LIMIT:
            # one gather and one column sum: each code's four bits in 16-bit fields
            spread = torch.index_select(self._spread_bits, 0, codes.view(-1).int(),
                                        out=self._spread_buffer(codes.numel()))
            fields = spread.view(codes.shape).sum(0)  # (genome,)
            return fields.unsqueeze(1).bitwise_right_shift(self._field_shifts) \
                .bitwise_and_(_FIELD_MASK).view(-1)
        # one contiguous pass per bit (a broadcast shift of all four bits at once
        # measured 3x slower)
        if self._scratch is None or self._scratch.shape != codes.shape:
            self._scratch = torch.empty_like(codes)
        return torch.cat([
            _column_counts(torch.bitwise_right_shift(codes, bit, out=self._scratch)
                           .bitwise_and_(1))
            for bit in range(CODE_BITS)]).long()

    def _spread_buffer(self, size: int) -> torch.Tensor:
        # reused: a fresh one (megabytes at large N) would be page-faulted in every time
        if self._spread is None or self._spread.shape[0] < size:
            self._spread = torch.empty(size, dtype=torch.int64, device=self.device)
        return self._spread[:size]

    def summary(self, losses: torch.Tensor, ordered: torch.Tensor
                ) -> tuple[float, float, float, float]:
        # one read from the device when all are finite
        ends = ordered[[0, -1]]
        if losses.shape[0] > 1:
            std, mean = torch.std_mean(losses)
            best, worst, *moments = torch.cat([ends, torch.stack([mean, std])]).tolist()
            # NaN losses are inf already: finite ends mean that all are finite
            if -math.inf < best and worst < math.inf:
                return best, worst, moments[0], moments[1]
        best, worst = ends.tolist()
        finite = losses[torch.isfinite(losses)]
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


def arrays_for(device: torch.device, seed: int, codes: int) -> GenerationArrays:
    """numpy for a CPU population of at most NUMPY_MAX_CODES codes (its small operations
    are far cheaper), torch for larger ones (its kernels use every core) and on a GPU."""
    if device.type == "cpu" and codes <= NUMPY_MAX_CODES:
        return NumpyArrays(seed)
    return TorchArrays(device, seed)
