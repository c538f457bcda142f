"""Float formats against struct and torch: bits ↔ values, rounding ties, overflow, limits."""

from __future__ import annotations

import itertools
import math
import struct
from fractions import Fraction

import numpy as np
import pytest
import torch

from engine.numbers.exact import ExactValue
from engine.numbers.formats import FORMATS, FloatFormat, NumberError, get_format
from engine.numbers.limits import limits
from engine.numbers.reading import decode, encode
from tests.engine.number_oracles import (
    FLOAT_DTYPES,
    STRUCT_CODES,
    exact_text,
    struct_bits,
    struct_value,
    torch_bits,
    torch_value,
    width,
)


def _struct_specials(name: str) -> list[float]:
    """±0, ±inf, ±max, ±min subnormal, min normal and a few ordinary values, as struct
    holds them (each read back from its bit pattern, so it is exactly representable)."""
    size = struct.calcsize(STRUCT_CODES[name]) * 8
    mantissa = {"float64": 52, "float32": 23, "float16": 10}[name]
    patterns = [1, 2, (1 << mantissa) - 1, 1 << mantissa,  # subnormals, smallest normal
                ((1 << (size - 1 - mantissa)) - 2) << mantissa | ((1 << mantissa) - 1)]  # max
    values = [struct_value(p, name) for p in patterns]
    values += [0.0, math.inf, 1.0, 0.1, 2.5, 1 / 3, 65504.0, 6.1e-5]
    values = [struct_value(struct_bits(v, name), name) for v in values]  # into the format
    return values + [-v for v in values]


@pytest.mark.parametrize("name", list(STRUCT_CODES))
def test_struct_round_trips_bits_and_values(name: str) -> None:
    for value in _struct_specials(name):
        bits = struct_bits(value, name)
        for text in (repr(value), value.hex()):
            reading = encode(name, text)
            assert reading.bits == bits, (name, text)
        reading = decode(name, bits)
        if math.isinf(value):
            assert reading.kind == "infinity"
            assert reading.stored is None
            assert reading.value == ExactValue.infinity(value < 0)
        else:
            assert reading.stored == Fraction(value), (name, value)
            assert reading.sign == int(math.copysign(1, value) < 0)


@pytest.mark.parametrize("name", list(STRUCT_CODES))
def test_struct_nan(name: str) -> None:
    nan_bits = struct_bits(math.nan, name)
    assert encode(name, "nan").bits == nan_bits
    assert encode(name, "-nan").bits == nan_bits | 1 << (8 * struct.calcsize(
        STRUCT_CODES[name]) - 1)
    for bits in (nan_bits, nan_bits + 1, nan_bits | 1 << 3):
        reading = decode(name, bits)
        assert reading.kind == "nan"
        assert reading.stored is None
        assert math.isnan(struct_value(bits, name))


def _all_patterns(name: str) -> range:
    """Every pattern of the 8-bit formats; every 37th of the 16-bit ones (and the last)."""
    size = width(FLOAT_DTYPES[name])
    return range(0, 1 << size, 1 if size == 8 else 37)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_decode_matches_torch(name: str) -> None:
    dtype = FLOAT_DTYPES[name]
    for bits in [*_all_patterns(name), (1 << width(dtype)) - 1]:
        expected = torch_value(bits, dtype)
        reading = decode(name, bits)
        if math.isnan(expected):
            assert reading.kind == "nan", (name, hex(bits))
        elif math.isinf(expected):
            assert reading.value == ExactValue.infinity(expected < 0), (name, hex(bits))
        else:
            assert reading.stored == Fraction(expected), (name, hex(bits))
            assert reading.value.negative == (math.copysign(1, expected) < 0)


def _finite_values(name: str) -> list[float]:
    """The format's non-negative finite values, ascending, from torch."""
    dtype = FLOAT_DTYPES[name]
    values = {torch_value(bits, dtype) for bits in range(1 << (width(dtype) - 1))}
    return sorted(v for v in values if math.isfinite(v))


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_every_midpoint_rounds_like_torch(name: str) -> None:
    """Exact ties (ties to even) and the float32 values either side of each, both signs.

    The midpoints of a float8 format are float32 values, so torch rounds them once.
    """
    dtype = FLOAT_DTYPES[name]
    values = _finite_values(name)
    top = values[-1]
    points = [(a + b) / 2 for a, b in itertools.pairwise(values)]
    points += [top + (top - values[-2]) / 2, top * 1.01, top * 4]  # around overflow
    for point in points:
        below = float(np.nextafter(np.float32(point), np.float32(0)))
        above = float(np.nextafter(np.float32(point), np.float32(np.inf)))
        for value in (point, below, above, -point, -below, -above):
            expected = torch_bits(value, dtype, source=torch.float32)
            assert encode(name, exact_text(value)).bits == expected, (name, value)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_sampled_midpoints_round_like_torch(name: str) -> None:
    dtype = FLOAT_DTYPES[name]
    values = _finite_values(name)
    rng = np.random.default_rng(7)
    picks = [*rng.integers(0, len(values) - 1, 300), 0, 1, len(values) - 2]
    for index in picks:
        point = (values[index] + values[index + 1]) / 2
        for value in (point, -point, float(np.nextafter(np.float32(point), np.float32(0)))):
            expected = torch_bits(value, dtype, source=torch.float32)
            assert encode(name, exact_text(value)).bits == expected, (name, value)


@pytest.mark.parametrize("name", list(FLOAT_DTYPES))
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -math.nan, 1e6, -1e6,
                                   460.0, 470.0, 61439.0, 61440.0, 65519.0, 65520.0, 3.4e38,
                                   3.5e38, 1e300, 0.0, -0.0, 1e-300, -1e-45])
def test_specials_and_overflow_match_torch(name: str, value: float) -> None:
    # from a float32 tensor where float32 holds the value: torch then rounds only once
    held = not math.isfinite(value) or (abs(value) < 3.4e38
                                        and float(np.float32(value)) == value)
    source = torch.float32 if held else torch.float64
    assert encode(name, exact_text(value)).bits == torch_bits(value, FLOAT_DTYPES[name], source)


def test_e4m3fn_saturates_and_e5m2_overflows() -> None:
    for text in ("449", "460", "470", "1e6", "inf", "1e400"):
        assert encode("float8_e4m3fn", text).stored == 448
        assert encode("float8_e4m3fn", "-" + text).stored == -448
    assert encode("float8_e4m3fn", "nan").bits == 0x7F
    assert encode("float8_e5m2", "1e6").kind == "infinity"
    assert encode("float8_e5m2", "61439").stored == 57344  # below the tie: max
    assert encode("float8_e5m2", "61440").kind == "infinity"  # the tie goes to even: inf
    assert encode("float16", "65519").stored == 65504
    assert encode("float16", "65520").kind == "infinity"


def test_torch_casts_float64_through_float32() -> None:
    """torch rounds twice on the way from float64 to a 16- or 8-bit format; the reading
    rounds once (numpy and struct agree), and rounding via float32 reproduces torch."""
    value = 1 + 2**-11 + 2**-40  # just above a float16 tie
    reading = encode("float16", exact_text(value))
    assert reading.stored == Fraction(struct_value(struct_bits(value, "float16"), "float16"))
    assert reading.stored == 1 + Fraction(1, 1024)
    assert torch_bits(value, torch.float16) == 0x3C00  # torch: exactly 1
    via32 = encode("float32", repr(value)).stored_decimal
    assert encode("float16", via32).bits == 0x3C00


@pytest.mark.parametrize("name", list(FLOAT_DTYPES))
def test_limits_match_torch_finfo(name: str) -> None:
    info, found = torch.finfo(FLOAT_DTYPES[name]), limits(name)
    assert found.max == Fraction(info.max)
    assert found.min == Fraction(info.min)
    assert found.min_normal == Fraction(info.smallest_normal)
    assert found.epsilon == Fraction(info.eps)
    assert found.min_subnormal == Fraction(torch_value(1, FLOAT_DTYPES[name]))
    exact = found.max_exact_integer
    assert exact is not None
    for n in (exact - 1, exact):
        assert torch_bits(float(n), FLOAT_DTYPES[name]) == encode(name, str(n)).bits
        assert encode(name, str(n)).stored == n
    assert encode(name, str(exact + 1)).stored != exact + 1


def test_float32_facts() -> None:
    top = limits("float32")
    assert top.max == (2 - Fraction(1, 2**23)) * 2**127
    assert top.decimals()["max"] == "340282346638528859811704183484516925440"
    assert float(top.max) == pytest.approx(3.4028235e38, rel=1e-8)
    assert top.max_exact_integer == 2**24 == 16777216
    assert encode("float32", "16777217").stored == 2**24
    assert encode("float32", "16777218").stored == 2**24 + 2
    point_one = encode("float32", "0.1")
    assert point_one.stored_decimal == "0.100000001490116119384765625"
    assert point_one.stored == Fraction(float(np.float32(0.1)))
    assert point_one.bits == struct_bits(0.1, "float32") == 0x3DCCCCCD


def test_float32_bit_fields() -> None:
    reading = encode("float32", "-0x1.8p-130")  # a subnormal: 1.5 · 2^-130
    assert reading.kind == "subnormal"
    assert reading.exponent_bits == "00000000"
    assert reading.exponent == -126
    assert reading.mantissa_bits == "00011000000000000000000"
    assert reading.sign == 1
    assert reading.bias == 127
    assert reading.bit_string == format(struct_bits(-1.5 * 2.0**-130, "float32"), "032b")
    normal = encode("float32", "6")
    assert (normal.exponent_bits, normal.exponent, normal.mantissa_bits) == (
        "10000001", 2, "1" + "0" * 22)


def test_catalogue_order_and_unknown_names() -> None:
    assert list(FORMATS)[:11] == ["float64", "float32", "float16", "bfloat16",
                                  "float8_e4m3fn", "float8_e5m2", "int8", "int16", "int32",
                                  "int64", "uint8"]
    for name, dtype in FLOAT_DTYPES.items():
        fmt = get_format(name)
        assert isinstance(fmt, FloatFormat)
        assert fmt.torch_dtype == dtype
        assert fmt.width == width(dtype)
    with pytest.raises(NumberError, match=r"'float128'.*float64, float32"):
        get_format("float128")


@pytest.mark.parametrize("name", list(FLOAT_DTYPES))
def test_decode_refuses_bits_out_of_range(name: str) -> None:
    size = width(FLOAT_DTYPES[name])
    top = f"0x{(1 << size) - 1:0{size // 4}x}"
    for bits in (1 << size, -1):
        with pytest.raises(NumberError, match=f"{name}.*{top}"):
            decode(name, bits)


NUMPY_FLOATS = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


@pytest.mark.parametrize("name", list(NUMPY_FLOATS))
def test_neighbours_match_numpy_nextafter(name: str) -> None:
    """IEEE nextDown/nextUp, signed zeros included: nextUp(−min) is −0, nextDown(+min)
    is +0, past ±max lies ±infinity."""
    kind = NUMPY_FLOATS[name]
    info = np.finfo(kind)
    tiny = kind(info.smallest_subnormal)
    points = [kind(0), kind(-0.0), tiny, -tiny, kind(info.max), kind(-info.max),
              kind(info.smallest_normal), kind(1), kind(-1), kind(0.1), kind(np.inf),
              kind(-np.inf)]
    for point in points:
        reading = encode(name, exact_text(float(point)))
        for found, towards in ((reading.next_down, -np.inf), (reading.next_up, np.inf)):
            if float(point) == towards:  # nothing beyond infinity
                assert found is None
                continue
            with np.errstate(over="ignore"):
                expected = float(np.nextafter(point, kind(towards)))
            assert found is not None
            assert found.negative == (math.copysign(1, expected) < 0), (name, float(point))
            if math.isinf(expected):
                assert found.kind == "infinity"
            else:
                assert found.fraction == Fraction(expected), (name, float(point))


def test_neighbours_end_where_a_saturating_format_ends() -> None:
    top = encode("float8_e4m3fn", "448")
    assert top.next_up is None
    assert top.next_down is not None
    assert top.next_down.fraction == 416
    assert encode("float8_e4m3fn", "-448").next_down is None
    assert decode("float8_e4m3fn", 0x7F).next_up is None  # NaN has no neighbours
