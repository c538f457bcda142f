"""Fixed-width integers: two's complement, wrapping (what torch's casts do) and saturating."""

from __future__ import annotations

from engine.numbers.exact import ExactValue, parse_value, shorten
from engine.numbers.formats import IntFormat, NotANumberError, NumberError

INTEGER_EXAMPLES = "42, -128, 0x7f, 1e3"


def parse_integer(fmt: IntFormat, text: str) -> int:
    """The integer ``text`` writes (decimal, hex, or an exponent that leaves no
    fraction), for a field of ``fmt``; NumberError with integer examples otherwise (the
    float fields' examples, "inf, nan, 0x1.8p3", mislead here)."""
    try:
        value = parse_value(text)
    except NotANumberError:
        raise NotANumberError(f"not an integer: {shorten(text.strip())!r} (examples: "
                              f"{INTEGER_EXAMPLES})") from None
    return as_integer(fmt, value, text)


def as_integer(fmt: IntFormat, value: ExactValue, text: str) -> int:
    """The integer that ``value`` is; refuses fractions, infinity and NaN.

    Refusing rather than truncating "3.7": torch truncates towards zero, C rounds in
    other ways, and a teaching tool should not pick one silently.

    Raises
    ------
    NumberError
        Naming the text, when it is not an integer.
    """
    number = value.fraction
    if number is None or number.denominator != 1:
        raise NumberError(f"{fmt.name} holds integers only: {text!r} is not an integer")
    return number.numerator


def bits_of(fmt: IntFormat, number: int) -> int:
    """The low ``fmt.bits`` bits of ``number`` in two's complement (any size of number)."""
    return number & ((1 << fmt.bits) - 1)


def value_of(fmt: IntFormat, bits: int) -> int:
    """The integer that ``bits`` hold (two's complement when signed)."""
    if fmt.signed and bits >> (fmt.bits - 1):
        return bits - (1 << fmt.bits)
    return bits


def wrap(fmt: IntFormat, number: int) -> int:
    """``number`` modulo 2^bits, read back in the format: int32 2^31 → −2^31."""
    return value_of(fmt, bits_of(fmt, number))


def saturate(fmt: IntFormat, number: int) -> int:
    """``number`` clamped to the format's range: int8 200 → 127, −200 → −128."""
    return min(max(number, fmt.min), fmt.max)
