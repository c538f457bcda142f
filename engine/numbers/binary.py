"""Binary floating point, bit by bit: round an exact value into a format, read bits back.

The rounding is done once, on the exact value: round to nearest, ties to even, as if the
exponent were unbounded, then the format's overflow rule (``formats`` module docstring).
That is IEEE 754's rule and what torch's casts do from a source that is not wider than
float32. torch casts float64 to float16, bfloat16 and the float8 formats *through
float32*, which rounds twice: the rare float64 value that float32 rounds onto a tie of
the smaller format can land one step away from the value's own nearest neighbour
(1 + 2^-11 + 2^-40 is 1.0009765625 in float16, torch gives 1.0). The readings show the
correctly rounded value; ``encode(fmt, float32 reading's stored value)`` reproduces
torch's float64 cast.
"""

from __future__ import annotations

from fractions import Fraction

from engine.numbers.exact import ExactValue
from engine.numbers.formats import FloatFormat


def fields(fmt: FloatFormat, bits: int) -> tuple[int, int, int]:
    """Sign bit, exponent field and mantissa field of ``bits``."""
    mantissa = bits & ((1 << fmt.mantissa_bits) - 1)
    exponent = (bits >> fmt.mantissa_bits) & fmt.exponent_field_max
    return bits >> (fmt.width - 1), exponent, mantissa


def assemble(fmt: FloatFormat, sign: int, exponent: int, mantissa: int) -> int:
    return (sign << (fmt.width - 1)) | (exponent << fmt.mantissa_bits) | mantissa


def classify(fmt: FloatFormat, bits: int) -> str:
    """One of "zero", "subnormal", "normal", "infinity", "nan"."""
    _, exponent, mantissa = fields(fmt, bits)
    if exponent == 0:
        return "zero" if mantissa == 0 else "subnormal"
    if exponent == fmt.exponent_field_max:
        if fmt.has_infinity:
            return "infinity" if mantissa == 0 else "nan"
        if mantissa == (1 << fmt.mantissa_bits) - 1:
            return "nan"
    return "normal"


def unbiased_exponent(fmt: FloatFormat, bits: int) -> int:
    """Field − bias; for zero and subnormals the exponent they really use, 1 − bias."""
    _, exponent, _ = fields(fmt, bits)
    return max(exponent, 1) - fmt.bias


def value_of(fmt: FloatFormat, bits: int) -> ExactValue:
    """The exact value that ``bits`` store."""
    sign, exponent, mantissa = fields(fmt, bits)
    kind = classify(fmt, bits)
    if kind == "nan":
        return ExactValue.nan(bool(sign))
    if kind == "infinity":
        return ExactValue.infinity(bool(sign))
    significand = mantissa if exponent == 0 else mantissa | (1 << fmt.mantissa_bits)
    magnitude = significand * _power_of_two(unbiased_exponent(fmt, bits) - fmt.mantissa_bits)
    return ExactValue("finite", bool(sign), magnitude)


def round_into(fmt: FloatFormat, value: ExactValue) -> int:
    """The bits that ``value`` becomes in ``fmt`` (nearest, ties to even; overflow rule)."""
    sign = int(value.negative)
    if value.kind == "nan":
        return assemble(fmt, sign if fmt.nan_keeps_sign else 0, fmt.exponent_field_max,
                        fmt.nan_mantissa)
    if value.kind == "infinity":
        return _overflow(fmt, sign)
    magnitude = value.magnitude
    if magnitude == 0:
        return assemble(fmt, sign, 0, 0)
    exponent = max(_floor_log2(magnitude), fmt.min_exponent)
    quantum = _power_of_two(exponent - fmt.mantissa_bits)  # spacing in this binade
    steps, rest = divmod(magnitude, quantum)  # steps: int, 0 <= rest < quantum
    steps = int(steps)
    if 2 * rest > quantum or (2 * rest == quantum and steps % 2 == 1):
        steps += 1
    hidden = 1 << fmt.mantissa_bits
    if steps >= 2 * hidden:  # rounded up into the next binade
        steps, exponent = steps // 2, exponent + 1
    if steps < hidden:  # only possible at the smallest exponent: subnormal or zero
        return assemble(fmt, sign, 0, steps)
    field, mantissa = exponent + fmt.bias, steps - hidden
    if (field, mantissa) > fmt.max_field_mantissa:
        return _overflow(fmt, sign)
    return assemble(fmt, sign, field, mantissa)


def _overflow(fmt: FloatFormat, sign: int) -> int:
    if fmt.overflow == "infinity":
        return assemble(fmt, sign, fmt.exponent_field_max, 0)
    return assemble(fmt, sign, *fmt.max_field_mantissa)  # saturate, as torch does


def neighbours(fmt: FloatFormat, bits: int) -> tuple[ExactValue | None, ExactValue | None]:
    """The values just below and just above the value of ``bits`` (IEEE nextDown/nextUp).

    None where there is none: below −max in a saturating format, above +infinity, either
    side of NaN. In IEEE-like formats the neighbour beyond ±max is ±infinity. Both zeros
    have ±(smallest subnormal) as neighbours; nextUp(−smallest subnormal) is −0.
    """
    if classify(fmt, bits) == "nan":
        return None, None
    sign, _, _ = fields(fmt, bits)
    magnitude_bits = bits & ((1 << (fmt.width - 1)) - 1)
    # walking away from zero is +1 on the magnitude bits, towards zero −1
    order = -magnitude_bits if sign else magnitude_bits
    # landing on zero keeps the side it came from: nextDown(+min) = +0, nextUp(−min) = −0
    return _at_order(fmt, order - 1, negative_zero=False), _at_order(fmt, order + 1, True)


def _at_order(fmt: FloatFormat, order: int, negative_zero: bool) -> ExactValue | None:
    magnitude_bits = abs(order)
    sign = 1 if order < 0 or (order == 0 and negative_zero) else 0
    if magnitude_bits >= 1 << (fmt.width - 1):
        return None
    bits = (sign << (fmt.width - 1)) | magnitude_bits
    if classify(fmt, bits) == "nan":
        return None
    return value_of(fmt, bits)


def ulp(fmt: FloatFormat, bits: int) -> Fraction | None:
    """Unit in the last place: the spacing of the format in the binade of ``bits``.

    2^(exponent − mantissa_bits), the gap from |value| to the next larger magnitude (the
    smallest subnormal for zeros and subnormals); None for infinity and NaN.
    """
    if classify(fmt, bits) in ("infinity", "nan"):
        return None
    return _power_of_two(unbiased_exponent(fmt, bits) - fmt.mantissa_bits)


def largest(fmt: FloatFormat) -> Fraction:
    """The largest finite value."""
    magnitude = value_of(fmt, assemble(fmt, 0, *fmt.max_field_mantissa)).fraction
    assert magnitude is not None
    return magnitude


def _floor_log2(value: Fraction) -> int:
    """floor(log2(value)) for value > 0, exactly."""
    guess = value.numerator.bit_length() - value.denominator.bit_length()
    return guess if value >= _power_of_two(guess) else guess - 1


def _power_of_two(exponent: int) -> Fraction:
    return Fraction(1 << exponent) if exponent >= 0 else Fraction(1, 1 << -exponent)
