"""Exact values: parse number text into fractions, print them back digit for digit.

Everything here is ``fractions.Fraction`` arithmetic; no value ever passes through a
Python float, so nothing is rounded before a format gets to round it. Every value that
text or bits can describe is an integer over 2^a·5^b, which is why each one has a
terminating decimal expansion and ``decimal_string`` can print it in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal

from engine.numbers.formats import NotANumberError, NumberError

MAX_DIGITS = 5000
# Far beyond every format (float64 ends near 1e308 and 5e-324), yet small enough that the
# exact expansion of 10^-100000 is printed in a fraction of a second.
MAX_EXPONENT = 100_000

_SPECIAL = re.compile(r"(?P<sign>[+-]?)(?P<word>inf|infinity|nan)", re.IGNORECASE | re.ASCII)
_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d*)(?:\.(?P<frac>\d*))?"
                      r"(?:e(?P<exp>[+-]?\d+))?", re.IGNORECASE | re.ASCII)
_HEX = re.compile(r"(?P<sign>[+-]?)0x(?P<whole>[0-9a-f]*)(?:\.(?P<frac>[0-9a-f]*))?"
                  r"(?:p(?P<exp>[+-]?\d+))?", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class ExactValue:
    """A real number with a sign, or ±infinity, or NaN; −0 keeps its sign.

    Attributes
    ----------
    kind : {"finite", "infinity", "nan"}
    negative : bool
        The sign (True for −0, −inf and a NaN with its sign bit set).
    magnitude : Fraction
        The absolute value; 0 for infinity and NaN.
    """

    kind: Literal["finite", "infinity", "nan"]
    negative: bool
    magnitude: Fraction

    @classmethod
    def of(cls, value: Fraction | int, negative_zero: bool = False) -> ExactValue:
        value = Fraction(value)
        return cls("finite", value < 0 or (value == 0 and negative_zero), abs(value))

    @classmethod
    def infinity(cls, negative: bool) -> ExactValue:
        return cls("infinity", negative, Fraction(0))

    @classmethod
    def nan(cls, negative: bool = False) -> ExactValue:
        return cls("nan", negative, Fraction(0))

    @property
    def fraction(self) -> Fraction | None:
        """The signed value, or None for infinity and NaN."""
        if self.kind != "finite":
            return None
        return -self.magnitude if self.negative else self.magnitude

    @property
    def decimal(self) -> str:
        """Exact decimal text: "-0", "inf", "-inf", "nan" or every digit of the value."""
        sign = "-" if self.negative else ""
        if self.kind == "nan":
            return "nan"
        if self.kind == "infinity":
            return f"{sign}inf"
        return sign + decimal_string(self.magnitude)


def parse_value(text: str) -> ExactValue:
    """The exact value that ``text`` names.

    Accepts decimal and scientific notation ("0.1", "-3.4e38", ".5", "+7"), hexadecimal
    floats and integers ("0x1.8p3", "0xff"), "inf", "infinity" and "nan" with an optional
    sign (any case), "-0", and integers of any size up to ``MAX_DIGITS`` digits.

    Raises
    ------
    NumberError
        Naming the text: not a number, more than ``MAX_DIGITS`` digits, or an exponent
        beyond ±``MAX_EXPONENT`` (refused rather than rounded: such text is a typo, and
        its exact value would take megabytes to print).
    """
    stripped = text.strip()
    special = _SPECIAL.fullmatch(stripped)
    if special:
        negative = special["sign"] == "-"
        if special["word"].lower() == "nan":
            return ExactValue.nan(negative)
        return ExactValue.infinity(negative)
    match, base = _HEX.fullmatch(stripped), 16
    if match is None:
        match, base = _DECIMAL.fullmatch(stripped), 10
    whole, frac = (match["whole"], match["frac"] or "") if match else ("", "")
    if match is None or not (whole or frac):
        raise NotANumberError(f"not a number: {shorten(text)!r} (examples: 0.1, -3.4e38, "
                          f"1e-45, 0x1.8p3, inf, nan)")
    if len(whole) + len(frac) > MAX_DIGITS:
        raise NumberError(f"too many digits in {shorten(text)!r}: "
                          f"{len(whole) + len(frac)}, at most {MAX_DIGITS}")
    exponent = _exponent(match["exp"], text)
    digits = _digits(whole + frac, base)
    if base == 16:
        # each hex digit after the point is 4 bits; the 'p' exponent is a power of two
        value = Fraction(digits) * Fraction(2) ** (exponent - 4 * len(frac))
    else:
        value = Fraction(digits) * Fraction(10) ** (exponent - len(frac))
    return ExactValue.of(-value if match["sign"] == "-" else value,
                         negative_zero=match["sign"] == "-")


def _exponent(text: str | None, whole_text: str) -> int:
    if text is None:
        return 0
    unsigned = text.lstrip("+-").lstrip("0")
    if len(unsigned) > len(str(MAX_EXPONENT)) or int(unsigned or "0") > MAX_EXPONENT:
        raise NumberError(f"exponent out of range in {shorten(whole_text)!r}: at most "
                          f"±{MAX_EXPONENT}")
    return -int(unsigned or "0") if text.startswith("-") else int(unsigned or "0")


def _digits(text: str, base: int) -> int:
    if not text:
        return 0
    # Decimal reads any number of digits; int(str) stops at Python's 4300-digit limit
    return int(Decimal(text)) if base == 10 else int(text, 16)


def shorten(text: str) -> str:
    """``text`` as an error message quotes it: a long one cut, with its length."""
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} characters)"


def decimal_string(value: Fraction) -> str:
    """Every digit of ``value``, positional notation ("0.1", "-340282…", "0.00…703125").

    Raises
    ------
    ValueError
        If the denominator has a prime factor other than 2 and 5 (no terminating
        expansion); values parsed from text or bits never do.
    """
    numerator, denominator = abs(value.numerator), value.denominator
    twos = (denominator & -denominator).bit_length() - 1
    rest = denominator >> twos
    # rest must be 5^fives; estimate fives from the bit length (log2 5 ≈ 2.3219)
    fives = max(0, int((rest.bit_length() - 1) / 2.321928094887362) - 1)
    while 5 ** fives < rest:
        fives += 1
    if 5 ** fives != rest:
        raise ValueError(f"{value} has no terminating decimal expansion")
    places = max(twos, fives)
    scaled = numerator * (1 << (places - twos)) * 5 ** (places - fives)  # value·10^places
    digits = str(Decimal(scaled)).rjust(places + 1, "0")  # str(Decimal) has no digit limit
    whole, frac = digits[:len(digits) - places], digits[len(digits) - places:].rstrip("0")
    return ("-" if value < 0 else "") + whole + (f".{frac}" if frac else "")


def rounded_decimal(value: Fraction, digits: int = 17) -> str:
    """``value`` rounded to ``digits`` significant digits (half to even), "1.5e-8" style."""
    if value == 0:
        return "0"
    with localcontext() as context:
        context.prec = digits
        context.Emax, context.Emin = 10**9, -(10**9)
        quotient = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{quotient:e}".replace("e+", "e")
