"""Integer addition: the wrapped result is what torch computes, checked against Python's
unbounded integers reduced modulo 2^bits by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.numbers.formats import NumberError
from engine.numbers.int_arithmetic import add

RANGES = {"int8": (-128, 127), "int16": (-(2**15), 2**15 - 1),
          "int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "uint8": (0, 255)}


def by_hand(name: str, number: int) -> int:
    low, high = RANGES[name]
    span = high - low + 1
    return (number - low) % span + low


def test_int32_max_plus_one_wraps_to_min() -> None:
    result = add("int32", "2147483647", "1")
    assert result.exact == 2**31
    assert result.wrapped == result.torch_result == -(2**31)
    assert result.saturated == 2**31 - 1
    assert result.overflowed


def test_int8_wraps_where_a_saturating_adder_clamps() -> None:
    result = add("int8", "100", "100")
    assert (result.wrapped, result.saturated, result.torch_result) == (-56, 127, -56)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(RANGES)), st.data())
def test_torch_wraps_exactly_modulo_two_to_the_bits(name: str, data: st.DataObject) -> None:
    low, high = RANGES[name]
    a = data.draw(st.integers(low, high))
    b = data.draw(st.integers(low, high))
    result = add(name, str(a), str(b))
    assert result.exact == a + b
    assert result.wrapped == by_hand(name, a + b) == result.torch_result
    assert result.saturated == min(max(a + b, low), high)
    assert result.overflowed == (not low <= a + b <= high)


@pytest.mark.parametrize(("fmt", "a", "b", "message"), [
    ("int8", "200", "1", "outside int8's range"),
    ("int8", "1.5", "1", "integers only"),
    ("int32", "1", "abc", r"not an integer: 'abc' \(examples: 42, -128, 0x7f, 1e3\)"),
    ("float32", "1", "1", "not an integer format"),
])
def test_refusals_name_the_problem(fmt: str, a: str, b: str, message: str) -> None:
    with pytest.raises(NumberError, match=message):
        add(fmt, a, b)
