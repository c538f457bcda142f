"""The GA's 4-bit weight codes (``ga4``), exactly: the codec of ``engine/evolution/genome.py``.

Code c: sign bit 3, field e = c & 7; value (−1)^s · α · 2^(−e), and e = 7 is zero (code 7
is +0, code 15 is −0). Rounding is the GA's ``quantise``: the nearest of the 15 values,
a value exactly half-way between two levels goes to the smaller magnitude, magnitudes
beyond α saturate to ±α, and the sign bit follows the value's sign (−0 and tiny negative
values give code 15). NaN and ±infinity have no code. This module cannot import the GA
(the number formats sit below it), so the tests check the two against each other.
"""

from __future__ import annotations

from fractions import Fraction

from engine.numbers.exact import ExactValue
from engine.numbers.formats import LogFormat, NumberError


def fields(fmt: LogFormat, code: int) -> tuple[int, int]:
    """Sign bit and exponent field e of ``code``."""
    return code >> fmt.exponent_bits, code & (fmt.sign_bit - 1)


def value_of(fmt: LogFormat, code: int) -> ExactValue:
    """The exact value of ``code`` at the format's α."""
    sign, field = fields(fmt, code)
    if field == fmt.zero_field:
        return ExactValue.of(0, negative_zero=bool(sign))
    magnitude = fmt.alpha / (1 << field)
    return ExactValue.of(-magnitude if sign else magnitude)


def round_into(fmt: LogFormat, value: ExactValue) -> int:
    """The code for ``value``: nearest level, ties to the smaller magnitude, clip at α.

    Raises
    ------
    NumberError
        For NaN and ±infinity, which have no nearest code.
    """
    if value.kind != "finite":
        raise NumberError(f"{fmt.name} has no code for {value.decimal}: its values are "
                          f"0, ±α/64 … ±α (α = {fmt.alpha})")
    sign = fmt.sign_bit if value.negative else 0
    scaled = value.magnitude / fmt.alpha
    # levels from the top: 1, 1/2, …, 1/64 (fields 0..6), then 0 (field 7); a value goes
    # to the first level whose lower midpoint it exceeds, so a tie goes down
    for field in range(fmt.zero_field):
        below = Fraction(1, 1 << (field + 1)) if field + 1 < fmt.zero_field else Fraction(0)
        if scaled > (Fraction(1, 1 << field) + below) / 2:
            return sign | field
    return sign | fmt.zero_field


def levels(fmt: LogFormat) -> list[Fraction]:
    """The 15 distinct values in ascending order."""
    positive = [fmt.alpha / (1 << field) for field in range(fmt.zero_field)]
    return [-level for level in positive] + [Fraction(0)] + positive[::-1]


def neighbours(fmt: LogFormat, code: int) -> tuple[ExactValue | None, ExactValue | None]:
    """The values just below and just above; None beyond ±α."""
    value = value_of(fmt, code)
    ordered = levels(fmt)
    index = ordered.index(-value.magnitude if value.negative else value.magnitude)
    below = ExactValue.of(ordered[index - 1]) if index > 0 else None
    above = ExactValue.of(ordered[index + 1]) if index + 1 < len(ordered) else None
    return below, above


def ulp(fmt: LogFormat, code: int) -> Fraction:
    """The gap from |value| to the next larger level (α/64 at zero; α's own size at α).

    With no mantissa bits every level is its own binade, so this is |value| itself: the
    same 2^(exponent − mantissa_bits) rule as the floats.
    """
    magnitude = value_of(fmt, code).magnitude
    return magnitude if magnitude else fmt.alpha / (1 << (fmt.zero_field - 1))
