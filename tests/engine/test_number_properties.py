"""Property tests: random bit patterns and values, checked against torch, numpy and
the definition of rounding to nearest."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.numbers.exact import ExactValue
from engine.numbers.formats import FORMATS, FloatFormat, IntFormat
from engine.numbers.reading import decode, encode
from tests.engine.number_oracles import (
    FLOAT_DTYPES,
    SMALLER_FLOATS,
    exact_text,
    numpy_float16_bits,
    torch_bits,
)

FLOATS = list(FLOAT_DTYPES)
INTS = [name for name, fmt in FORMATS.items() if isinstance(fmt, IntFormat)]


@st.composite
def float_patterns(draw: st.DrawFn) -> tuple[str, int]:
    name = draw(st.sampled_from(FLOATS))
    fmt = FORMATS[name]
    return name, draw(st.integers(0, (1 << fmt.width) - 1))


def _key(value: ExactValue) -> tuple[str, Fraction | None, bool | None]:
    """What identifies a value: the sign counts except for zero (nextUp(−min) is −0)."""
    is_zero = value.kind == "finite" and value.magnitude == 0
    return value.kind, value.fraction, None if is_zero else value.negative


FORMATS_MAX = {name: Fraction(torch.finfo(dtype).max) for name, dtype in FLOAT_DTYPES.items()}


@settings(max_examples=400, deadline=None)
@given(float_patterns())
def test_decoded_values_encode_to_the_same_bits(case: tuple[str, int]) -> None:
    name, bits = case
    reading = decode(name, bits)
    if reading.kind != "nan":
        assert encode(name, reading.stored_decimal).bits == bits


@settings(max_examples=300, deadline=None)
@given(st.floats(width=32, allow_nan=False), st.sampled_from(FLOATS))
def test_float32_values_round_like_torch(value: float, name: str) -> None:
    expected = torch_bits(value, FLOAT_DTYPES[name], source=torch.float32)
    assert encode(name, exact_text(value)).bits == expected


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False), st.sampled_from(SMALLER_FLOATS))
def test_float64_values_round_like_torch(value: float, name: str) -> None:
    """float32 is cast directly; the narrower formats torch reaches through float32
    (binary.py's docstring), which encoding the float32 reading reproduces."""
    expected = torch_bits(value, FLOAT_DTYPES[name])
    via = exact_text(value) if name == "float32" else encode("float32", exact_text(value)
                                                             ).stored_decimal
    assert encode(name, via).bits == expected


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_float64_to_float16_rounds_once_like_numpy(value: float) -> None:
    with np.errstate(over="ignore"):
        expected = numpy_float16_bits(value)
    assert encode("float16", exact_text(value)).bits == expected


@settings(max_examples=400, deadline=None)
@given(float_patterns())
def test_next_up_of_next_down_is_the_value(case: tuple[str, int]) -> None:
    name, bits = case
    reading = decode(name, bits)
    for step, back in (("next_down", "next_up"), ("next_up", "next_down")):
        neighbour = getattr(reading, step)
        if neighbour is None:
            continue
        returned = getattr(encode(name, neighbour.decimal), back)
        assert returned is not None
        assert _key(returned) == _key(reading.value)


@settings(max_examples=400, deadline=None)
@given(float_patterns())
def test_ulp_is_the_gap_above_positive_values(case: tuple[str, int]) -> None:
    name, bits = case
    reading = decode(name, bits)
    stored = reading.stored
    if stored is None or reading.value.negative or reading.next_up is None:
        return
    above = reading.next_up.fraction
    if above is None:  # +infinity past max
        assert reading.stored == FORMATS_MAX[name]
        return
    assert reading.ulp == above - stored


@st.composite
def decimal_texts(draw: st.DrawFn) -> tuple[str, Fraction]:
    """Scientific text and its value, computed here from the integers drawn."""
    digits = draw(st.integers(-(10**25), 10**25))
    exponent = draw(st.integers(-340, 320))
    return f"{digits}e{exponent}", Fraction(digits) * Fraction(10) ** exponent


@settings(max_examples=400, deadline=None)
@given(decimal_texts(), st.sampled_from(FLOATS))
def test_rounding_picks_the_nearest_value(case: tuple[str, Fraction], name: str) -> None:
    text, value = case
    reading = encode(name, text)
    fmt = FORMATS[name]
    assert isinstance(fmt, FloatFormat)
    top = FORMATS_MAX[name]
    top_gap = decode(name, encode(name, str(top)).bits).ulp
    assert top_gap is not None
    if reading.stored is None:  # overflow to infinity: at or past the tie above max
        assert fmt.has_infinity
        assert reading.kind == "infinity"
        assert abs(value) >= top + top_gap / 2
        return
    assert reading.error == reading.stored - value
    if abs(value) > top:  # rounded down to max, or saturated
        assert abs(reading.stored) == top
        assert not fmt.has_infinity or abs(value) < top + top_gap / 2
        return
    distance = abs(reading.stored - value)
    for neighbour in (reading.next_down, reading.next_up):
        if neighbour is not None and neighbour.fraction is not None:
            gap = abs(neighbour.fraction - value)
            assert distance <= gap
            if distance == gap:  # a tie: the even mantissa wins
                assert reading.bits % 2 == 0
    assert reading.ulp is not None
    assert distance <= reading.ulp / 2


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**130), 2**130), st.sampled_from(INTS))
def test_ints_wrap_modulo_and_saturate(number: int, name: str) -> None:
    fmt = FORMATS[name]
    assert isinstance(fmt, IntFormat)
    reading = encode(name, str(number))
    stored = reading.stored
    assert stored is not None
    assert stored.denominator == 1
    assert fmt.min <= stored <= fmt.max
    assert (stored - number) % (1 << fmt.bits) == 0
    assert reading.wrapped == (not fmt.min <= number <= fmt.max)
    assert reading.saturated == (fmt.max if number > fmt.max else
                                 fmt.min if number < fmt.min else number)
    assert reading.error == stored - number
    assert decode(name, reading.bits).stored == stored
