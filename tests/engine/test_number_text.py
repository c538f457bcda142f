"""Number text to exact values and back: parsing, the guards, exact decimal printing."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from engine.numbers.exact import (
    MAX_DIGITS,
    ExactValue,
    decimal_string,
    parse_value,
    rounded_decimal,
)
from engine.numbers.formats import NumberError
from engine.numbers.reading import encode


@pytest.mark.parametrize("text", ["0.1", "-3.4e38", "1e-45", "+7", ".5", "5.", "-0.0",
                                  "123456789012345678901234567890", "2.5E+3", " 42 ",
                                  "0.000001e6", "-1e-400"])
def test_decimal_text_is_exact(text: str) -> None:
    # Fraction reads decimal and scientific notation exactly: an independent parser
    assert parse_value(text).fraction == Fraction(text.strip())


@pytest.mark.parametrize("text", ["0x1.8p3", "-0x1p-1074", "0x.8p1", "0xffp0", "0x1.fffffep127",
                                  "0X1.8P3", "0x1p+4"])
def test_hex_floats(text: str) -> None:
    assert parse_value(text).fraction == Fraction(float.fromhex(text))


def test_hex_integers_and_huge_integers() -> None:
    assert parse_value("0xff").fraction == 255
    assert parse_value("-0x10").fraction == -16
    digits = "7" * MAX_DIGITS  # past Python's 4300-digit int(str) limit
    assert parse_value(digits).fraction == 7 * (10**MAX_DIGITS - 1) // 9


@pytest.mark.parametrize(("text", "expected"), [
    ("inf", ExactValue.infinity(False)), ("-inf", ExactValue.infinity(True)),
    ("+Infinity", ExactValue.infinity(False)), ("-INFINITY", ExactValue.infinity(True)),
    ("nan", ExactValue.nan()), ("NaN", ExactValue.nan()), ("-nan", ExactValue.nan(True)),
    ("-0", ExactValue("finite", True, Fraction(0))), ("0", ExactValue.of(0)),
    ("+0.0", ExactValue.of(0)),
])
def test_special_words_and_signed_zero(text: str, expected: ExactValue) -> None:
    assert parse_value(text) == expected


@pytest.mark.parametrize("text", ["", " ", "abc", "1.2.3", "0x", "1e", "e5", "--1", "1_000",
                                  "0x1.8q3", "1 2", "+", ".", "0x.p1", "infinite", "1e5.5",
                                  "١٢٣"])
def test_invalid_text_is_refused_by_name(text: str) -> None:
    with pytest.raises(NumberError, match="not a number") as caught:
        parse_value(text)
    assert repr(text) in str(caught.value)


def test_too_many_digits_are_refused() -> None:
    with pytest.raises(NumberError, match=f"5001, at most {MAX_DIGITS}"):
        parse_value("1" * 5001)
    with pytest.raises(NumberError, match="too many digits"):
        parse_value("0." + "3" * 5000)


@pytest.mark.parametrize("text", ["1e999999999", "1e-999999999", "-0x1p999999999",
                                  "1e100001", "1e" + "1" * 10000,
                                  "1e99999999999999999999999999999999"])
def test_absurd_exponents_are_refused(text: str) -> None:
    # refused before any power is computed: 10^999999999 would not fit in memory
    with pytest.raises(NumberError, match="exponent out of range"):
        parse_value(text)


def test_leading_zeros_of_an_exponent_do_not_count() -> None:
    assert parse_value("1e" + "0" * 10000 + "1").fraction == 10
    assert parse_value("5e-" + "0" * 10000 + "3").fraction == Fraction(5, 1000)


def test_largest_exponents_still_work() -> None:
    assert encode("float64", "1e100000").kind == "infinity"
    assert encode("float8_e4m3fn", "1e100000").stored == 448
    tiny = encode("float32", "1e-100000")
    assert tiny.kind == "zero"
    assert tiny.error == -Fraction(1, 10**100000)
    error_text = tiny.error_decimal
    assert error_text is not None
    assert error_text == "-0." + "0" * 99999 + "1"


@pytest.mark.parametrize("value", [0.1, 1e-300, 5e-324, 1.7976931348623157e308, -2.5, 3.0,
                                   0.0, 123456.789, 2.0**-1074 * 3])
def test_decimal_string_matches_decimal_module(value: float) -> None:
    # Decimal(float) is exact; its fixed-point format prints every digit
    expected = f"{Decimal(value):f}"
    if "." in expected:
        expected = expected.rstrip("0").rstrip(".")
    assert decimal_string(Fraction(value)) == expected


def test_decimal_string_of_non_dyadic_fractions() -> None:
    assert decimal_string(Fraction(-1, 8)) == "-0.125"
    assert decimal_string(Fraction(7, 50)) == "0.14"
    assert decimal_string(Fraction(3, 5**30)) == f"{Decimal(3) / Decimal(5**30):f}"
    with pytest.raises(ValueError, match="terminating"):
        decimal_string(Fraction(1, 3))


@pytest.mark.parametrize("value", [Fraction(1, 3), Fraction(-2, 7), Fraction(10**40, 3),
                                   Fraction(1, 10**30), Fraction(5)])
def test_rounded_decimal_has_17_significant_digits(value: Fraction) -> None:
    with localcontext() as context:
        context.prec = 17
        expected = Decimal(value.numerator) / Decimal(value.denominator)
    assert Decimal(rounded_decimal(value)) == expected
    assert rounded_decimal(Fraction(1, 3)) == "3.3333333333333333e-1"
