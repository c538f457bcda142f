"""Integer formats against torch's casts and numpy; ga4 against the GA's own codec."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

from engine.evolution import genome
from engine.numbers.formats import FORMATS, IntFormat, LogFormat, NumberError, get_format
from engine.numbers.limits import limits
from engine.numbers.reading import decode, encode

INT_DTYPES = {"int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
              "int64": torch.int64, "uint8": torch.uint8}
NUMPY_INTS = {"int8": (np.uint8, np.int8), "int16": (np.uint16, np.int16),
              "int32": (np.uint32, np.int32), "int64": (np.uint64, np.int64),
              "uint8": (np.uint8, np.uint8)}


def test_issue_facts() -> None:
    overflow = encode("int32", "2147483648")  # 2^31 − 1 + 1
    assert overflow.stored == -2147483648
    assert overflow.wrapped
    assert overflow.wrapped_value == -2147483648
    assert overflow.bit_string == "1" + "0" * 31
    int8 = encode("int8", "200")
    assert (int8.stored, int8.wrapped, int8.saturated) == (-56, True, 127)
    assert int8.error == -256
    assert int8.bit_string == "11001000"
    inside = encode("int8", "-128")
    assert (inside.stored, inside.wrapped, inside.wrapped_value) == (-128, False, None)


@pytest.mark.parametrize("name", list(INT_DTYPES))
@pytest.mark.parametrize("number", [0, 1, -1, 127, 128, -129, 200, 255, 256, -200, 2**15,
                                    2**31 - 1, 2**31, -(2**31) - 1, 2**40 + 5, 2**62,
                                    -(2**62)])
def test_wrapping_matches_torch(name: str, number: int) -> None:
    dtype = INT_DTYPES[name]
    expected = int(torch.tensor(number, dtype=torch.int64).to(dtype).item())
    reading = encode(name, str(number))
    assert reading.stored == expected
    fmt = get_format(name)
    assert isinstance(fmt, IntFormat)
    assert reading.saturated == min(max(number, fmt.min), fmt.max)
    assert reading.wrapped == (expected != number)


@pytest.mark.parametrize("name", list(INT_DTYPES))
@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 2**64 + 3, -(2**100) + 7, 10**30])
def test_wrapping_beyond_int64_matches_numpy(name: str, number: int) -> None:
    unsigned, signed = NUMPY_INTS[name]
    low_bits = number % 2**64  # numpy holds the 64 low bits; the narrow view keeps its own
    expected = int(np.array([low_bits], dtype=np.uint64).astype(unsigned).view(signed)[0])
    assert encode(name, str(number)).stored == expected


@pytest.mark.parametrize("name", list(INT_DTYPES))
def test_bits_decode_as_twos_complement(name: str) -> None:
    unsigned, signed = NUMPY_INTS[name]
    size = np.dtype(unsigned).itemsize * 8
    for bits in (0, 1, 2 ** (size - 1) - 1, 2 ** (size - 1), 2**size - 1, 0x55 % 2**size):
        expected = int(np.array([bits], dtype=unsigned).view(signed)[0])
        reading = decode(name, bits)
        assert reading.stored == expected
        assert reading.bit_string == format(bits, f"0{size}b")
        assert encode(name, str(expected)).bits == bits
    with pytest.raises(NumberError, match=f"0x{2**size - 1:x}"):
        decode(name, 2**size)


@pytest.mark.parametrize("name", list(INT_DTYPES))
def test_int_limits_match_iinfo(name: str) -> None:
    info, found = torch.iinfo(INT_DTYPES[name]), limits(name)
    assert (found.max, found.min, found.max_exact_integer) == (info.max, info.min, info.max)
    assert found.decimals()["max"] == str(info.max)


@pytest.mark.parametrize("text", ["3.7", "0.5", "inf", "nan", "-inf", "1e-3"])
def test_ints_take_integers_only(text: str) -> None:
    with pytest.raises(NumberError, match=f"int8 holds integers only: {text!r}"):
        encode("int8", text)


@pytest.mark.parametrize("text", ["abc", "", "0x", "1e"])
def test_an_int_field_gives_integer_examples(text: str) -> None:
    """Not the float fields' examples ("inf, nan, 0x1.8p3"), which an int refuses."""
    with pytest.raises(NumberError, match=r"not an integer: .*\(examples: 42, -128, 0x7f, "
                                          r"1e3\)$"):
        encode("int8", text)


def test_integer_valued_text_is_an_integer() -> None:
    assert encode("int16", "1e3").stored == 1000
    assert encode("int16", "0x7fff").stored == 32767
    assert encode("int16", "-0").stored == 0


# --- ga4: the genetic algorithm's 4-bit codes ---------------------------------------

ALPHAS = [Fraction(1), Fraction(1, 2), Fraction(3, 10), Fraction(5)]


def _ga4(alpha: Fraction) -> LogFormat:
    fmt = FORMATS["ga4"]
    assert isinstance(fmt, LogFormat)
    return fmt.with_alpha(alpha)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_ga4_decodes_like_the_ga(alpha: Fraction) -> None:
    table = genome.code_table(torch.float64).tolist()  # α = 1
    for code in range(16):
        reading = decode(_ga4(alpha), code)
        assert reading.stored == alpha * Fraction(table[code])
        assert reading.value.negative == (code >= 8)
        assert reading.kind == ("zero" if code in (7, 15) else "normal")


@pytest.mark.parametrize(("alpha", "ties"), [(1.0, True), (0.5, True), (4.0, True),
                                             (0.3, False), (5.0, False)])
def test_ga4_encodes_like_the_ga(alpha: float, ties: bool) -> None:
    """Midpoints and the floats either side of them, 0, −0, values past α.

    With α a power of two the GA's float64 value/α is exact, so the two agree even on
    ties; for other α its division rounds, so only points clear of a tie are compared
    (the exact codec is the one that is right there).
    """
    levels = [0.0] + [alpha * 2.0**-e for e in range(6, -1, -1)]
    values = [0.0, -0.0, alpha * 1.5, alpha * 40, -alpha * 3, 1e-9, -1e-9, *levels]
    for low, high in itertools.pairwise(levels):
        mid = (low + high) / 2
        if ties:
            values += [mid, float(np.nextafter(mid, 0)), float(np.nextafter(mid, 1))]
        else:
            values += [mid * (1 - 1e-9), mid * (1 + 1e-9)]
    values += [-v for v in values]
    expected = genome.quantise(torch.tensor(values, dtype=torch.float64), alpha).tolist()
    fmt = _ga4(Fraction(alpha))  # the GA's α is this float, exactly
    for value, code in zip(values, expected, strict=True):
        assert encode(fmt, value.hex()).bits == code, (alpha, value)


def test_ga4_refuses_nan_and_infinity_like_the_ga() -> None:
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(NumberError, match="ga4 has no code"):
            encode("ga4", text)
    with pytest.raises(ValueError, match="NaN"):
        genome.quantise(torch.tensor([float("nan")]))


def test_ga4_neighbours_and_limits() -> None:
    fmt = _ga4(Fraction(1, 2))
    top = decode(fmt, 0)  # +α
    assert top.stored == Fraction(1, 2)
    assert top.next_up is None
    assert top.next_down is not None
    assert top.next_down.fraction == Fraction(1, 4)
    zero = decode(fmt, 15)
    assert zero.stored_decimal == "-0"
    assert zero.exponent is None
    assert zero.next_up is not None
    assert zero.next_up.fraction == Fraction(1, 128)
    found = limits(fmt)
    assert (found.max, found.min, found.min_subnormal) == (
        Fraction(1, 2), Fraction(-1, 2), Fraction(1, 128))
    with pytest.raises(NumberError, match="positive"):
        fmt.with_alpha(Fraction(0))
