"""What summation does in low precision: one value added N times, and a random vector's sum.

Three methods, each in float16, bfloat16, float32 and float64:

- "plain": a running sum ``s = s + x`` rounded to the dtype after every addition, as a
  naive loop does. (``torch.cumsum`` is no stand-in: on CPU it accumulates float16 and
  bfloat16 in float32 and rounds only what it stores.)
- "kahan": compensated summation, every operation rounded to the dtype.
- "pairwise": ``torch.sum`` of a tensor in the dtype, torch's own reduction. On CPU that is
  a blocked cascade (pairwise-like) sum whose accumulator for float16 and bfloat16 is
  float32, rounded to the dtype once at the end (float32 accumulates in float32, float64 in
  float64), so its float16 total overflows to inf beyond 65504 where the float32
  accumulator did not. Its threads split the tensor, so the last bits of a long sum
  can change with ``torch.get_num_threads()`` (recorded in the results).

How the loops are emulated exactly and fast. A value is a Python int counting the dtype's
smallest subnormal, and every operation rounds its exact result to the dtype (ties to
even, overflow to inf), so every N is computed, none extrapolated. Adding one value over
and over is fast because inside one binade (spacing u) a step depends on the state only
through the compensation c and the parity of s/u (ties to even), not on s itself:

- once such a state repeats, the steps since repeat shifted by a constant D, and whole
  periods are jumped while every sum they form stays inside the binade (plain sums have
  periods of one or two steps; a stalled sum has D = 0 and jumps to the end);
- Kahan summation whose every operation is exact except the rounding of ``s + y`` (which
  the bit positions of x, s and c guarantee) keeps ``s_k = fl(S_k)``, S_k the exact running
  sum, so it jumps straight to the binade's end or the next count.

Only steps near a binade's edges and before a repeat run one by one (about 12 000 for
float16 Kahan up to 10^6, a few dozen for plain sums). Measured on the project's 2-core
machine (AMD EPYC, torch 2.13 CPU): ``repeated_addition()``, 58 counts up to 10^6, four
dtypes, three methods, takes 0.07-0.2 s; about 1 s while other processes keep both cores
busy, almost all of it torch.sum's two-thread reductions waiting for a core (0.16 s with
one torch thread). ``random_vector_sum(10_000)``, where random terms allow no jumps:
about 0.15-0.3 s. ``max_steps`` (one-by-one steps) and ``max_elements`` (torch.sum's
tensor) stop a curve early and say so in ``SumCurve.limit``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch

DTYPES = ("float16", "bfloat16", "float32", "float64")
METHODS = ("plain", "kahan", "pairwise")
# 10 per decade from 1 to 10^6 (58 after rounding): smooth curves on log axes
DEFAULT_COUNTS: tuple[int, ...] = tuple(sorted({round(10 ** (k / 10)) for k in range(61)}))
MAX_STEPS = 200_000
MAX_ELEMENTS = 1 << 25

_Num = int | float  # int: finite, in units of the smallest subnormal; float: inf or nan


@dataclass(frozen=True)
class SumCurve:
    """One method's sums in one dtype, against the number of terms.

    Shape: counts, sums and both errors have one entry per count reached. Errors are
    relative, |sum - exact| / |exact|: 0.0 means exact (clamp it on a log axis), inf or
    nan when the sum overflowed. limit is None when every requested count was reached,
    else the number of terms added when the work budget ran out.
    """

    dtype: str
    method: str
    counts: tuple[int, ...]
    sums: tuple[float, ...]
    error_vs_exact: tuple[float, ...]  # against the exact sum of the exact terms
    error_vs_stored: tuple[float, ...]  # against the exact sum of the terms as stored
    limit: int | None = None


@dataclass(frozen=True)
class AccumulationResult:
    """repeated_addition's curves; stored and representation_error follow dtypes."""

    value_text: str
    value: Fraction
    counts: tuple[int, ...]
    dtypes: tuple[str, ...]
    stored: tuple[float, ...]  # the value as the dtype holds it
    representation_error: tuple[float, ...]  # |stored - value| / |value|
    curves: tuple[SumCurve, ...]  # dtype-major: every method of dtypes[0] first
    torch_threads: int  # torch.sum's threads ("pairwise")

    def curve(self, dtype: str, method: str) -> SumCurve:
        return _lookup(self.curves, dtype, method)


@dataclass(frozen=True)
class RandomSumResult:
    """random_vector_sum's curves: error_vs_stored is pure accumulation error,
    error_vs_exact adds the rounding of the float64 draws to the dtype."""

    n: int
    counts: tuple[int, ...]
    dtypes: tuple[str, ...]
    curves: tuple[SumCurve, ...]
    torch_threads: int  # torch.sum's threads ("pairwise")

    def curve(self, dtype: str, method: str) -> SumCurve:
        return _lookup(self.curves, dtype, method)


def repeated_addition(value_text: str = "0.1", counts: Sequence[int] = DEFAULT_COUNTS,
                      dtypes: Sequence[str] = DTYPES, *, max_steps: int = MAX_STEPS,
                      max_elements: int = MAX_ELEMENTS) -> AccumulationResult:
    """Add one value N times, for each N in counts, in each dtype, by each of METHODS.

    Parameters
    ----------
    value_text : str
        The exact value, as Fraction reads it: "0.1", "1e-3", "1/3", "-2.5".
    counts : sequence of int
        Numbers of terms, each at least 1 (sorted, repeats dropped).
    dtypes : sequence of str
        Any of DTYPES.
    max_steps : int
        Budget of one-by-one steps per dtype and method (see the module docstring).
    max_elements : int
        Largest tensor "pairwise" builds; larger counts are left out.

    Returns
    -------
    AccumulationResult
        Shape: len(dtypes) * len(METHODS) curves of up to len(counts) points.
    """
    value = Fraction(value_text)
    ordered = _ascending(counts)
    names = _checked(dtypes)
    curves: list[SumCurve] = []
    stored: list[float] = []
    representation: list[float] = []
    for name in names:
        fmt = _FORMATS[name]
        x = fmt.round_fraction(value)
        stored.append(fmt.to_float(x))
        representation.append(_relative_error(fmt, x, value))
        stored_exact = Fraction(x, 1 << fmt.shift) if isinstance(x, int) else None
        for method in METHODS:
            if method == "pairwise":
                reached = tuple(n for n in ordered if n <= max_elements)
                limit = None if len(reached) == len(ordered) else max_elements
                sums = [_torch_sum(fmt, torch.full((n,), stored[-1], dtype=fmt.torch_dtype))
                        for n in reached]
            else:
                sums, limit = _repeated_sums(fmt, x, ordered, method == "kahan", max_steps)
                reached = ordered[:len(sums)]
            points = list(zip(reached, sums, strict=True))
            curves.append(SumCurve(
                name, method, reached, tuple(fmt.to_float(s) for s in sums),
                tuple(_relative_error(fmt, s, n * value) for n, s in points),
                tuple(math.nan if stored_exact is None else
                      _relative_error(fmt, s, n * stored_exact) for n, s in points),
                limit))
    return AccumulationResult(value_text, value, ordered, names, tuple(stored),
                              tuple(representation), tuple(curves), torch.get_num_threads())


def random_vector_sum(n: int = 10_000, dtypes: Sequence[str] = DTYPES, *,
                      generator: torch.Generator) -> RandomSumResult:
    """Sum n uniform [0, 1) terms (drawn in float64, rounded to each dtype by torch).

    The errors are exact: every term and prefix sum is compared in integer arithmetic.

    Parameters
    ----------
    n : int
        Number of terms (the loops run one by one: 10^4 takes about half a second).
    dtypes : sequence of str
        Any of DTYPES.
    generator : torch.Generator
        Draws the terms; the same seed gives the same result.

    Returns
    -------
    RandomSumResult
        Shape: len(dtypes) * len(METHODS) curves, one point per prefix length in counts
        (DEFAULT_COUNTS up to n, and n).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    names = _checked(dtypes)
    ordered = _ascending([c for c in DEFAULT_COUNTS if c < n] + [n])
    draws = torch.rand(n, generator=generator, dtype=torch.float64)  # (n,)
    f64 = _FORMATS["float64"]
    exact_draws = _prefix_exact(f64, _units(f64, draws), ordered)
    curves: list[SumCurve] = []
    for name in names:
        fmt = _FORMATS[name]
        terms = draws.to(fmt.torch_dtype)  # (n,)
        units = _units(fmt, terms)
        exact_stored = _prefix_exact(fmt, units, ordered)
        for method in METHODS:
            if method == "pairwise":
                sums = [_torch_sum(fmt, terms[:k]) for k in ordered]
            else:
                sums = _sequential_sums(fmt, units, ordered, method == "kahan")
            curves.append(SumCurve(
                name, method, ordered, tuple(fmt.to_float(s) for s in sums),
                tuple(_relative_error(fmt, s, e) for s, e in zip(sums, exact_draws, strict=True)),
                tuple(_relative_error(fmt, s, e) for s, e in zip(sums, exact_stored, strict=True))))
    return RandomSumResult(n, ordered, names, tuple(curves), torch.get_num_threads())


@dataclass(frozen=True)
class _Format:
    """A binary format: p significand bits (the hidden one included), exponent range."""

    name: str
    precision: int
    emin: int
    emax: int
    torch_dtype: torch.dtype

    @property
    def shift(self) -> int:
        """G: every value is an integer times 2**-G, the smallest subnormal."""
        return self.precision - 1 - self.emin

    def round(self, n: int) -> _Num:
        """The dtype value nearest n units, ties to even; inf beyond the largest finite."""
        a = abs(n)
        if a < 1 << self.precision:  # subnormals and the first normal binade: all exact
            return n
        drop = a.bit_length() - self.precision
        q, r = divmod(a, 1 << drop)
        half = 1 << (drop - 1)
        if r > half or (r == half and q & 1):
            q += 1
        a = q << drop
        if a >= 1 << (self.emax + 1 + self.shift):
            return math.inf if n > 0 else -math.inf
        return a if n > 0 else -a

    def round_fraction(self, value: Fraction) -> _Num:
        """The dtype value nearest an exact rational: one rounding, never two."""
        scaled = value * (1 << self.shift)
        drop = max(math.floor(abs(scaled)).bit_length() - self.precision, 0)
        return self.round(round(scaled / (1 << drop)) << drop)  # round(): half to even

    def from_float(self, value: float) -> _Num:
        """Units of a float64 that holds a value of this dtype."""
        if not math.isfinite(value):
            return value
        numerator, denominator = value.as_integer_ratio()
        return numerator * (1 << self.shift) // denominator

    def to_float(self, n: _Num) -> float:
        """The float64 equal to n (each of these dtypes is a subset of float64)."""
        if isinstance(n, float):
            return n
        drop = max(abs(n).bit_length() - 53, 0)  # n has at most 53 significant bits
        return math.ldexp(float(n >> drop), drop - self.shift)


_FORMATS = {
    "float16": _Format("float16", 11, -14, 15, torch.float16),
    "bfloat16": _Format("bfloat16", 8, -126, 127, torch.bfloat16),
    "float32": _Format("float32", 24, -126, 127, torch.float32),
    "float64": _Format("float64", 53, -1022, 1023, torch.float64),
}


def _add(fmt: _Format, a: _Num, b: _Num) -> _Num:
    """a + b rounded to the dtype (IEEE's rules once either is inf or nan)."""
    if isinstance(a, int) and isinstance(b, int):
        return fmt.round(a + b)
    # beside inf or nan a finite term's size no longer matters
    return (a if isinstance(a, float) else 0.0) + (b if isinstance(b, float) else 0.0)


def _step(fmt: _Format, s: _Num, c: _Num, term: _Num,
          compensated: bool) -> tuple[_Num, _Num, _Num]:
    """One addition of term to (s, c): the new s, the new c and y, the term corrected."""
    if not compensated:
        return _add(fmt, s, term), 0, term
    y = _add(fmt, term, -c)
    t = _add(fmt, s, y)
    return t, _add(fmt, _add(fmt, t, -s), -y), y


def _same(a: _Num, b: _Num) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def _binade(fmt: _Format, s: int) -> tuple[int, int, int]:
    """(L, B, u): the binade [L, B) that holds s >= 0, and its spacing u."""
    if s < 1 << fmt.precision:
        return 0, 1 << fmt.precision, 1
    b = s.bit_length()
    return 1 << (b - 1), 1 << b, 1 << (b - fmt.precision)


def _lowest_bit(n: int) -> int:
    return n & -n if n else 1 << 4096  # zero constrains no grid


@dataclass(frozen=True)
class _Cycle:
    """A period of steps that repeats, shifted by D each time, until index `end`."""

    start: int  # index (terms added) of the state that repeated the period's first
    states: tuple[tuple[int, int], ...]  # (s, c) at each phase of the first period
    shift: int  # D
    end: int


def _find_cycle(trace: list[tuple[int, int, int, int]], i: int, k: int, s: int,
                bounds: tuple[int, int, int]) -> _Cycle:
    low, high, u = bounds
    s_i = trace[i][0]
    shift = s - s_i
    lo = min(t[2] for t in trace[i:]) - s_i
    hi = max(t[3] for t in trace[i:]) - s_i
    # copies q = 1, 2, ... of the period are exact while all their sums stay in [L, B - u]
    if shift > 0:
        copies = (high - u - s_i - hi) // shift
    elif shift < 0:
        copies = (s_i + lo - low) // -shift
    else:
        copies = 1 << 62
    states = tuple((t[0], t[1]) for t in trace[i:])
    return _Cycle(k, states, shift, k + copies * len(states))


def _kahan_jump(fmt: _Format, s: int, c: int, x: int, bounds: tuple[int, int, int],
                most: int) -> tuple[int, int, int] | None:
    """(s, c, steps) after up to `most` Kahan steps at once, or None.

    If x - c and every rounding error fl(S) - S are dtype values, every operation but
    fl(s + y) is exact and s_k = fl(S_k), c_k = s_k - S_k with S_k = s - c + k x exactly.
    Both are multiples of `grid` no larger than x + max(u/2, |c|): within 2**p grid points
    they are dtype values.
    """
    low, high, u = bounds
    exact = s - c
    grid = min(_lowest_bit(x), _lowest_bit(s), _lowest_bit(c), u)
    if exact + x < low or 2 * x + max(u, 2 * abs(c)) > grid << (fmt.precision + 1):
        return None
    jump = min(most, (high - u - exact) // x)  # every S_k stays in [L, B - u]
    if jump < 2:
        return None
    s_new = fmt.round(exact + jump * x)
    assert isinstance(s_new, int)  # below B - u: finite
    return s_new, s_new - (exact + jump * x), jump


def _repeated_sums(fmt: _Format, x: _Num, counts: Sequence[int], compensated: bool,
                   max_steps: int) -> tuple[list[_Num], int | None]:
    """Plain or Kahan sums of x added N times for each N in (ascending) counts, and None;
    or the sums reached and the terms added when max_steps one-by-one steps ran out."""
    if isinstance(x, int) and x < 0:  # rounding is symmetric: sum(-x) = -sum(x)
        sums, limit = _repeated_sums(fmt, -x, counts, compensated, max_steps)
        return [-v for v in sums], limit
    s: _Num = 0
    c: _Num = 0
    k = steps = 0
    out: list[_Num] = []
    trace: list[tuple[int, int, int, int]] = []  # (s, c, lowest sum, highest sum) per step
    seen: dict[tuple[int, int], int] = {}  # (c, parity of s/u) -> its index in trace
    cycle: _Cycle | None = None
    for target in counts:
        while k < target:
            if cycle is not None:
                k = min(target, cycle.end)
                q, r = divmod(k - cycle.start, len(cycle.states))
                s, c = cycle.states[r][0] + (q + 1) * cycle.shift, cycle.states[r][1]
                if k == cycle.end:
                    cycle, trace, seen = None, [], {}
                continue
            if not (isinstance(s, int) and isinstance(c, int) and isinstance(x, int)
                    and s >= 0):
                steps += 1
                if steps > max_steps:
                    return out, k
                t, c_new, _ = _step(fmt, s, c, x, compensated)
                if _same(s, t) and _same(c, c_new):
                    k = target  # inf or nan for good
                s, c, k = t, c_new, min(k + 1, target)
                continue
            low, high, u = _binade(fmt, s)
            # a cheap necessary condition first: most one-by-one steps fail it
            if (compensated and k + 1 < target
                    and 2 * x + u <= min(x & -x, u) << (fmt.precision + 1)):
                jumped = _kahan_jump(fmt, s, c, x, (low, high, u), target - k)
                if jumped is not None:
                    s, c, jump = jumped
                    k += jump
                    trace, seen = [], {}
                    continue
            key = (c, (s // u) & 1)
            if key in seen:
                cycle = _find_cycle(trace, seen[key], k, s, (low, high, u))
                continue
            steps += 1
            if steps > max_steps:
                return out, k
            t, c_new, y = _step(fmt, s, c, x, compensated)
            if isinstance(y, int) and low <= s + y <= high - u:
                seen[key] = len(trace)
                trace.append((s, c, min(s, s + y), max(s, s + y)))
            else:  # the step touched the binade's edge: search afresh
                trace, seen = [], {}
            s, c, k = t, c_new, k + 1
        out.append(s)
    return out, None


def _sequential_sums(fmt: _Format, terms: Sequence[int], counts: Sequence[int],
                     compensated: bool) -> list[_Num]:
    """Plain or Kahan sums, one step at a time, of the first N terms for each N in counts."""
    s: _Num = 0
    c: _Num = 0
    out: list[_Num] = []
    wanted = set(counts)
    for k, term in enumerate(terms, start=1):
        s, c, _ = _step(fmt, s, c, term, compensated)
        if k in wanted:
            out.append(s)
    return out


def _units(fmt: _Format, terms: torch.Tensor) -> list[int]:
    """Each finite term of a 1-D tensor in units of fmt's smallest subnormal."""
    ratios = (v.as_integer_ratio() for v in terms.double().tolist())
    return [numerator * (1 << fmt.shift) // denominator for numerator, denominator in ratios]


def _prefix_exact(fmt: _Format, terms: Sequence[int], counts: Sequence[int]) -> list[Fraction]:
    totals = list(itertools.accumulate(terms))
    return [Fraction(totals[k - 1], 1 << fmt.shift) for k in counts]


def _torch_sum(fmt: _Format, terms: torch.Tensor) -> _Num:
    return fmt.from_float(float(terms.sum().item()))


def _relative_error(fmt: _Format, computed: _Num, exact: Fraction) -> float:
    """|computed - exact| / |exact|, exactly rounded (0 if both are 0, inf if only exact)."""
    if isinstance(computed, float):
        return abs(computed) if computed == computed else math.nan
    numerator = abs(computed * exact.denominator - (exact.numerator << fmt.shift))
    denominator = abs(exact.numerator << fmt.shift)
    if denominator == 0:
        return 0.0 if numerator == 0 else math.inf
    try:
        return numerator / denominator  # int / int rounds correctly
    except OverflowError:
        return math.inf


def _lookup(curves: Sequence[SumCurve], dtype: str, method: str) -> SumCurve:
    for curve in curves:
        if curve.dtype == dtype and curve.method == method:
            return curve
    raise KeyError(f"no curve for {dtype}/{method}")


def _ascending(counts: Sequence[int]) -> tuple[int, ...]:
    ordered = tuple(sorted({int(n) for n in counts}))
    if not ordered or ordered[0] < 1:
        raise ValueError(f"counts must be whole numbers of at least 1, got {list(counts)}")
    return ordered


def _checked(dtypes: Sequence[str]) -> tuple[str, ...]:
    unknown = [d for d in dtypes if d not in _FORMATS]
    if unknown:
        raise ValueError(f"unknown dtypes {unknown}; choose from {list(_FORMATS)}")
    return tuple(dtypes)
