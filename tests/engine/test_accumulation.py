"""Accumulation curves against independent oracles: numpy scalar loops (np.float16/32/64
round every operation), a torch one-element loop for bfloat16, Python floats (IEEE
binary64) for long float64 runs, and fractions for every exact value and error."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.numbers.accumulation import (
    DEFAULT_COUNTS,
    DTYPES,
    METHODS,
    AccumulationResult,
    SumCurve,
    random_vector_sum,
    repeated_addition,
)

NUMPY_TYPES: dict[str, type[np.floating]] = {
    "float16": np.float16, "float32": np.float32, "float64": np.float64}
Rounding = Callable[[float], float]


def numpy_rounding(name: str) -> Rounding:
    kind = NUMPY_TYPES[name]
    return lambda v: kind(v)  # type: ignore[return-value]


def bfloat16_rounding(v: float) -> float:
    """Round a float32 result to bfloat16, ties to even, by its bits (the usual trick)."""
    f = np.float32(v)
    if f != f:
        return float(f)
    bits = int(np.array([f], dtype=np.float32).view(np.uint32)[0])
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])


def loop_oracle(x: float, counts: Sequence[int], compensated: bool, kind: type | None = None,
                rounding: Rounding | None = None) -> list[float]:
    """The sequential sum after each N in counts: numpy scalars of `kind` round each
    operation themselves; otherwise `rounding` is applied to float32 results."""
    wanted = set(counts)
    out = []
    with np.errstate(all="ignore"):
        if kind is not None:
            x_, s, c = kind(x), kind(0), kind(0)
            for k in range(1, max(counts) + 1):
                if compensated:
                    y = x_ - c
                    t = s + y
                    c = (t - s) - y
                    s = t
                else:
                    s = s + x_
                if k in wanted:
                    out.append(float(s))
            return out
        assert rounding is not None
        r = lambda v: rounding(np.float32(v))  # noqa: E731
        xf, sf, cf = np.float32(x), np.float32(0), np.float32(0)
        for k in range(1, max(counts) + 1):
            if compensated:
                y = r(xf - cf)
                t = r(sf + y)
                cf = r(r(t - sf) - y)
                sf = t
            else:
                sf = r(sf + xf)
            if k in wanted:
                out.append(float(sf))
    return out


def torch_loop(x: float, counts: Sequence[int], compensated: bool) -> list[float]:
    one = lambda v: torch.tensor(v, dtype=torch.bfloat16)  # noqa: E731
    x_, s, c = one(x), one(0.0), one(0.0)
    wanted, out = set(counts), []
    for k in range(1, max(counts) + 1):
        if compensated:
            y = x_ - c
            t = s + y
            c = (t - s) - y
            s = t
        else:
            s = s + x_
        if k in wanted:
            out.append(float(s))
    return out


def bits(values: Sequence[float]) -> list[str]:
    return [float(v).hex() for v in values]  # nan == nan and 0.0 != -0.0 here


def oracle(dtype: str, x: float, counts: Sequence[int], compensated: bool) -> list[float]:
    if dtype == "bfloat16":
        return loop_oracle(x, counts, compensated, rounding=bfloat16_rounding)
    return loop_oracle(x, counts, compensated, kind=NUMPY_TYPES[dtype])


SMALL = tuple(range(1, 2001))
VALUES = ("0.1", "1/3", "0.7", "3", "1e-3", "0.5", "-0.1", "1e-7", "1000", "12345.678")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("value", VALUES)
def test_plain_and_kahan_match_a_numpy_loop_bit_for_bit(dtype: str, value: str) -> None:
    result = repeated_addition(value, SMALL, [dtype])
    x = result.stored[0]
    assert result.curve(dtype, "plain").counts == SMALL
    for method in ("plain", "kahan"):
        expected = loop_oracle(x, SMALL, method == "kahan", kind=NUMPY_TYPES[dtype])
        assert bits(result.curve(dtype, method).sums) == bits(expected), method


@pytest.mark.parametrize("value", ["0.1", "0.3", "7", "1e-3", "-2.5"])
def test_bfloat16_matches_a_torch_one_element_loop(value: str) -> None:
    counts = tuple(range(1, 1201))
    result = repeated_addition(value, counts, ["bfloat16"])
    for method in ("plain", "kahan"):
        expected = torch_loop(result.stored[0], counts, method == "kahan")
        assert bits(result.curve("bfloat16", method).sums) == bits(expected), method


def test_the_bfloat16_bit_oracle_agrees_with_torch() -> None:
    # the long bfloat16 runs below trust this rounding; torch is the authority
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-5, 5, 2000),
                             np.float32([0.5, 1.5, 2.5, 3e38, -3.4e38, 1e-40])])
    values = values.astype(np.float32)
    ours = [bfloat16_rounding(v) for v in values]
    theirs = torch.from_numpy(values).to(torch.bfloat16).float().tolist()
    assert bits(ours) == bits(theirs)


LONG = tuple(n for n in DEFAULT_COUNTS if n <= 100_000)


@pytest.mark.parametrize(("dtype", "value", "longest"), [
    ("float16", "0.1", 100_000), ("float16", "0.3", 100_000),
    ("float16", "10", 8_000),  # plain stalls at 32 768, Kahan overflows to nan
    ("float16", "1000", 100),  # both overflow: plain to inf, Kahan to nan
    ("bfloat16", "0.1", 20_000), ("bfloat16", "3.7", 20_000),
    ("float32", "0.1", 100_000), ("float32", "1e-4", 100_000),
])
def test_long_runs_match_the_loop_at_every_count(dtype: str, value: str, longest: int) -> None:
    counts = (*(n for n in DEFAULT_COUNTS if n < longest), longest)
    result = repeated_addition(value, counts, [dtype])
    for method in ("plain", "kahan"):
        expected = oracle(dtype, result.stored[0], counts, method == "kahan")
        assert bits(result.curve(dtype, method).sums) == bits(expected), method


@pytest.mark.parametrize("value", ["40652e-7", "92450e-5", "93798e-4", "31276e-6", "88962e-6",
                                   "5065e-7", "0.3"])
def test_kahan_jumps_stop_where_its_steps_stop_being_exact(value: str) -> None:
    # values where a rule one bit looser than the engine's breaks float16 Kahan sums
    counts = (195, 721, 2806, 4956, 9143, 11538, 14249, 17561, 20000)
    result = repeated_addition(value, counts, ["float16"])
    expected = loop_oracle(result.stored[0], counts, True, kind=np.float16)
    assert bits(result.curve("float16", "kahan").sums) == bits(expected)


def test_an_overflowed_sum_stays_inf_or_nan_without_stepping_on() -> None:
    counts = (10_000, 1_000_000, 10 ** 12)
    result = repeated_addition("1000", counts, ["float16"], max_steps=20_000)
    plain, kahan = result.curve("float16", "plain"), result.curve("float16", "kahan")
    assert plain.limit is None
    assert kahan.limit is None
    assert plain.sums == (math.inf,) * 3
    assert all(math.isnan(s) for s in kahan.sums)


@pytest.mark.parametrize("value", ["0.1", "1e-3", "7.77"])
def test_long_float64_runs_match_python_floats(value: str) -> None:
    counts = tuple(n for n in DEFAULT_COUNTS if n <= 200_000)
    result = repeated_addition(value, counts, ["float64"])
    x = float(Fraction(value))  # correctly rounded: the float64 value
    assert result.stored == (x,)
    wanted = set(counts)
    plain, kahan, s, t, c = [], [], 0.0, 0.0, 0.0
    for k in range(1, counts[-1] + 1):
        s += x
        y = x - c
        total = t + y
        c = (total - t) - y
        t = total
        if k in wanted:
            plain.append(s)
            kahan.append(t)
    assert bits(result.curve("float64", "plain").sums) == bits(plain)
    assert bits(result.curve("float64", "kahan").sums) == bits(kahan)


decimals = st.builds(lambda m, e, sign: f"{sign}{m}e{e}", st.integers(1, 99_999),
                     st.integers(-9, 4), st.sampled_from(["", "-"]))


@settings(max_examples=40, deadline=None)
@given(value=decimals, dtype=st.sampled_from(["float16", "bfloat16", "float32"]),
       counts=st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_any_value_and_counts_match_the_loop(value: str, dtype: str, counts: list[int]) -> None:
    result = repeated_addition(value, counts, [dtype])
    ordered = sorted(set(counts))
    for method in ("plain", "kahan"):
        curve = result.curve(dtype, method)
        assert curve.counts == tuple(ordered)
        expected = oracle(dtype, result.stored[0], ordered, method == "kahan")
        assert bits(curve.sums) == bits(expected), method


@settings(max_examples=60, deadline=None)
@given(value=decimals)
def test_the_stored_value_is_the_nearest_one(value: str) -> None:
    exact = Fraction(value)
    result = repeated_addition(value, [1], ["float16", "float32", "float64"])
    for name, stored in zip(result.dtypes, result.stored, strict=True):
        kind = NUMPY_TYPES[name]
        if math.isinf(stored):  # at or beyond the largest finite value + half its ulp
            largest = kind(np.finfo(kind).max)
            below_largest = np.nextafter(largest, kind(0))
            threshold = Fraction(float(largest)) * 3 / 2 - Fraction(float(below_largest)) / 2
            assert abs(exact) >= threshold
            continue
        below = float(np.nextafter(kind(stored), kind(-np.inf)))
        above = float(np.nextafter(kind(stored), kind(np.inf)))
        gap = abs(Fraction(stored) - exact)
        assert gap <= abs(Fraction(below) - exact)
        assert gap <= abs(Fraction(above) - exact)
        index = result.dtypes.index(name)
        assert result.representation_error[index] == float(gap / abs(exact))


def test_errors_are_exact_relative_errors() -> None:
    value = Fraction("0.1")
    result = repeated_addition("0.1", [1, 10, 1000, 123_457])
    for curve in result.curves:
        stored = Fraction(result.stored[result.dtypes.index(curve.dtype)])
        for n, s, vs_exact, vs_stored in zip(curve.counts, curve.sums, curve.error_vs_exact,
                                             curve.error_vs_stored, strict=True):
            if not math.isfinite(s):
                assert math.isinf(vs_exact) or math.isnan(vs_exact)
                continue
            assert vs_exact == float(abs(Fraction(s) - n * value) / (n * value))
            assert vs_stored == float(abs(Fraction(s) - n * stored) / (n * stored))


def test_adding_a_tenth_ten_times_in_float64_misses_one() -> None:
    plain = repeated_addition("0.1", [10], ["float64"]).curve("float64", "plain")
    assert plain.sums == (0.9999999999999999,)
    assert plain.sums[0] != 1.0
    assert plain.error_vs_exact[0] == float(1 - Fraction(0.9999999999999999))


def test_float16_running_sum_of_a_tenth_stalls_at_256() -> None:
    # the oracle finds the stall: the first N where adding 0.1 no longer changes the sum
    x, s, n = np.float16(0.1), np.float16(0), 0
    while s + x != s:
        s, n = s + x, n + 1
    assert float(s) == 256.0
    counts = (n - 1, n, n + 1, 10_000, 1_000_000)
    plain = repeated_addition("0.1", counts, ["float16"]).curve("float16", "plain")
    assert plain.sums[0] < 256.0
    assert plain.sums[1:] == (256.0,) * 4
    assert plain.error_vs_exact[-1] == pytest.approx(1 - 256 / 100_000)


def test_kahan_is_far_more_accurate_than_plain_in_float32() -> None:
    result = repeated_addition("0.1", [100_000], ["float32"])
    plain = result.curve("float32", "plain").error_vs_stored[0]
    kahan = result.curve("float32", "kahan").error_vs_stored[0]
    assert plain > 1e-4
    assert kahan < plain / 1000


def test_torch_sum_accumulates_float16_in_float32_and_overflows_at_the_end() -> None:
    result = repeated_addition("0.1", [10_000, 1_000_000], ["float16"])
    pairwise = result.curve("float16", "pairwise")
    # no stall at 256: the float32 accumulator, rounded once to float16
    assert pairwise.error_vs_stored[0] < 2.0 ** -11
    assert pairwise.sums[1] == math.inf  # 99 976 > 65 504, the largest float16
    assert result.curve("float16", "plain").sums[1] == 256.0


def test_pairwise_is_torch_sum_of_copies() -> None:
    result = repeated_addition("1/3", [1, 7, 1000, 4097], ["bfloat16", "float32"])
    for name in result.dtypes:
        kind = getattr(torch, name)
        stored = result.stored[result.dtypes.index(name)]
        expected = [float(torch.full((n,), stored, dtype=kind).sum()) for n in result.counts]
        assert bits(result.curve(name, "pairwise").sums) == bits(expected)


def test_a_negative_value_mirrors_the_positive_one() -> None:
    counts = (1, 10, 3000, 1_000_000)
    positive = repeated_addition("0.1", counts)
    negative = repeated_addition("-0.1", counts)
    for pos, neg in zip(positive.curves, negative.curves, strict=True):
        assert bits(neg.sums) == bits([-v for v in pos.sums])
        assert neg.error_vs_exact == pos.error_vs_exact or all(
            math.isnan(a) and math.isnan(b) for a, b in zip(neg.error_vs_exact,
                                                            pos.error_vs_exact, strict=True))


def test_the_demo_shape() -> None:
    result = repeated_addition()
    assert isinstance(result, AccumulationResult)
    assert result.counts == DEFAULT_COUNTS
    assert result.counts[0] == 1
    assert result.counts[-1] == 1_000_000
    assert result.dtypes == DTYPES
    assert result.torch_threads == torch.get_num_threads()
    assert [(c.dtype, c.method) for c in result.curves] == [(d, m) for d in DTYPES
                                                             for m in METHODS]
    for curve in result.curves:
        assert curve.limit is None
        assert curve.counts == DEFAULT_COUNTS
        assert len(curve.sums) == len(curve.error_vs_exact) == len(DEFAULT_COUNTS)


def test_results_are_immutable() -> None:
    result = repeated_addition("0.1", [1, 2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.counts = (3,)  # type: ignore[misc]
    curve = result.curves[0]
    assert isinstance(curve, SumCurve)
    with pytest.raises(dataclasses.FrozenInstanceError):
        curve.sums = ()  # type: ignore[misc]
    assert isinstance(curve.sums, tuple)
    assert isinstance(curve.error_vs_exact, tuple)


def test_budgets_stop_a_curve_and_say_so() -> None:
    result = repeated_addition("0.1", [10, 1_000_000], ["float16"], max_steps=200,
                               max_elements=1000)
    kahan = result.curve("float16", "kahan")  # needs about 12 000 one-by-one steps
    assert kahan.limit is not None
    assert kahan.counts == (10,)
    assert 10 <= kahan.limit < 100_000  # the one-by-one steps start in the binade of 512
    plain = result.curve("float16", "plain")  # a few dozen
    assert plain.limit is None
    assert plain.counts == (10, 1_000_000)
    pairwise = result.curve("float16", "pairwise")
    assert pairwise.counts == (10,)
    assert pairwise.limit == 1000


@pytest.mark.parametrize("counts", [[0, 5], [], [-1]])
def test_counts_below_one_are_refused(counts: list[int]) -> None:
    with pytest.raises(ValueError, match="counts"):
        repeated_addition("0.1", counts)


def test_unknown_dtypes_are_refused() -> None:
    with pytest.raises(ValueError, match="int8"):
        repeated_addition("0.1", [1], ["int8"])
    with pytest.raises(ValueError, match="float8"):
        random_vector_sum(10, ["float8"], generator=torch.Generator().manual_seed(0))


def test_random_vector_matches_loops_and_exact_sums() -> None:
    n = 1500
    result = random_vector_sum(n, generator=torch.Generator().manual_seed(3))
    draws = torch.rand(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert result.counts[-1] == n
    assert result.torch_threads == torch.get_num_threads()
    exact_draws = list(np.cumsum([Fraction(v) for v in draws.tolist()]))
    for name in DTYPES:
        terms = draws.to(getattr(torch, name))
        values = terms.double().tolist()
        exact = list(np.cumsum([Fraction(v) for v in values]))
        for method in METHODS:
            curve = result.curve(name, method)
            if method == "pairwise":
                expected = [float(terms[:k].sum()) for k in result.counts]
            elif name == "bfloat16":
                expected = sequential_bfloat16(values, result.counts, method == "kahan")
            else:
                expected = sequential_numpy(NUMPY_TYPES[name], values, result.counts,
                                            method == "kahan")
            assert bits(curve.sums) == bits(expected), (name, method)
            for k, s, vs_stored, vs_exact in zip(curve.counts, curve.sums, curve.error_vs_stored,
                                                 curve.error_vs_exact, strict=True):
                assert vs_stored == float(abs(Fraction(s) - exact[k - 1]) / exact[k - 1])
                assert vs_exact == float(abs(Fraction(s) - exact_draws[k - 1])
                                         / exact_draws[k - 1])


def sequential_numpy(kind: type, values: list[float], counts: Sequence[int],
                     compensated: bool) -> list[float]:
    s, c, wanted, out = kind(0), kind(0), set(counts), []
    with np.errstate(all="ignore"):
        for k, v in enumerate(values, start=1):
            term = kind(v)
            if compensated:
                y = term - c
                t = s + y
                c = (t - s) - y
                s = t
            else:
                s = s + term
            if k in wanted:
                out.append(float(s))
    return out


def sequential_bfloat16(values: list[float], counts: Sequence[int],
                        compensated: bool) -> list[float]:
    r = bfloat16_rounding
    s, c, wanted, out = 0.0, 0.0, set(counts), []
    for k, term in enumerate(values, start=1):
        if compensated:
            y = r(np.float32(term) - np.float32(c))
            t = r(np.float32(s) + np.float32(y))
            c = r(np.float32(r(np.float32(t) - np.float32(s))) - np.float32(y))
            s = t
        else:
            s = r(np.float32(s) + np.float32(term))
        if k in wanted:
            out.append(s)
    return out


def test_random_vector_kahan_beats_plain_in_low_precision() -> None:
    result = random_vector_sum(10_000, ["float16", "bfloat16"],
                               generator=torch.Generator().manual_seed(1))
    for name in result.dtypes:
        plain = result.curve(name, "plain").error_vs_stored[-1]
        kahan = result.curve(name, "kahan").error_vs_stored[-1]
        assert plain > 0.1  # the running sum stalls long before 5 000
        assert kahan < plain / 100


def test_random_vector_is_reproducible_from_its_generator() -> None:
    first = random_vector_sum(300, ["float16"], generator=torch.Generator().manual_seed(9))
    again = random_vector_sum(300, ["float16"], generator=torch.Generator().manual_seed(9))
    other = random_vector_sum(300, ["float16"], generator=torch.Generator().manual_seed(10))
    assert first == again
    assert first.curves[0].sums != other.curves[0].sums
