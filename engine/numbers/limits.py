"""A format's limits: the largest and smallest values, epsilon, the last exact integer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

from engine.numbers import binary, log_codes
from engine.numbers.exact import decimal_string
from engine.numbers.formats import FloatFormat, IntFormat, NumberFormat, get_format


@dataclass(frozen=True)
class Limits:
    """Exact limits of one format (``decimals()`` gives them as exact decimal text).

    Attributes
    ----------
    format : str
    max, min : Fraction
        The largest and the most negative finite value (−max for floats and ga4).
    min_normal : Fraction or None
        Floats: the smallest positive normal, 2^(1 − bias). None for ints and ga4.
    min_subnormal : Fraction or None
        The smallest positive value: floats 2^(1 − bias − mantissa_bits), ga4 α/64;
        None for ints.
    epsilon : Fraction or None
        Floats: 2^−mantissa_bits, the gap between 1 and the next value above it. None for
        ints and ga4 (whose largest value may be 1).
    max_exact_integer : int or None
        Floats: 2^(mantissa_bits + 1), the largest n with every integer 0 … n held
        exactly (float32: 2^24 = 16777216; 2^24 + 1 rounds to 2^24). Ints: ``max``. ga4:
        None.
    """

    format: str
    max: Fraction
    min: Fraction
    min_normal: Fraction | None
    min_subnormal: Fraction | None
    epsilon: Fraction | None
    max_exact_integer: int | None

    def decimals(self) -> dict[str, str | None]:
        """Each limit as exact decimal text (None where it does not apply)."""
        return {name: value if name == "format" or value is None
                else decimal_string(Fraction(value))
                for name, value in asdict(self).items()}


def limits(fmt: NumberFormat | str) -> Limits:
    """The limits of ``fmt`` (a format or its name; NumberError for an unknown name)."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if isinstance(fmt, IntFormat):
        return Limits(fmt.name, Fraction(fmt.max), Fraction(fmt.min), None, None, None,
                      fmt.max)
    if isinstance(fmt, FloatFormat):
        largest = binary.largest(fmt)
        return Limits(fmt.name, largest, -largest,
                      min_normal=Fraction(2) ** fmt.min_exponent,
                      min_subnormal=Fraction(2) ** (fmt.min_exponent - fmt.mantissa_bits),
                      epsilon=Fraction(1, 1 << fmt.mantissa_bits),
                      max_exact_integer=1 << (fmt.mantissa_bits + 1))
    ordered = log_codes.levels(fmt)
    return Limits(fmt.name, ordered[-1], ordered[0], None, ordered[len(ordered) // 2 + 1],
                  None, None)
