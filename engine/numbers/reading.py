"""Readings: what a format does to one value, field by field, exactly.

``encode(fmt, text)`` rounds the exact value of ``text`` into the format;
``decode(fmt, bits)`` reads a bit pattern. Both return a ``Reading``: the bits, the
fields, the stored value with all its digits, the rounding error, the spacing of the
format there and the neighbouring values.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from engine.numbers import binary, integers, log_codes
from engine.numbers.exact import ExactValue, decimal_string, parse_value, rounded_decimal
from engine.numbers.formats import (
    FloatFormat,
    IntFormat,
    LogFormat,
    NumberError,
    NumberFormat,
    get_format,
)


@dataclass(frozen=True)
class Reading:
    """One value in one format.

    Attributes
    ----------
    format : str
        The format's name.
    input : str or None
        The text that was encoded; None for a decoded bit pattern.
    bits, width : int
        The stored pattern as an unsigned integer, and the format's width in bits.
    kind : str
        Floats and ga4: "normal", "subnormal", "zero", "infinity" or "nan"; ints: "integer".
    value : ExactValue
        The stored value, with the sign of zero, ±infinity and NaN (``stored`` is the
        plain Fraction).
    input_value : ExactValue or None
        The exact value of ``input``.
    sign : int or None
        Floats and ga4: the sign bit. Signed ints: 1 when the stored value is negative
        (the top bit of two's complement). Unsigned ints: None.
    exponent_bits, mantissa_bits : str or None
        The fields' bits, most significant first (None for ints; ga4 has mantissa "").
    exponent : int or None
        Floats: exponent field − bias; zero and subnormals use 1 − bias, ±infinity and
        NaN show field − bias. ga4: the power of two, value = ±α·2^exponent (−e); None
        for its zero codes. Ints: None.
    bias : int or None
        Floats: the bias; ga4: 0 (the field is the negated exponent); ints: None.
    ulp : Fraction or None
        Spacing at the stored value: 2^(exponent − mantissa_bits) for floats (the gap to
        the next larger magnitude), 1 for ints; None for infinity and NaN.
    next_down, next_up : ExactValue or None
        The neighbouring values (±infinity past ±max in IEEE-like formats; None where there
        is no neighbour: past a saturating format's ends, past infinity, beside NaN).
    wrapped : bool
        Ints: the input lay outside the range and was wrapped modulo 2^bits (torch's cast).
    wrapped_value : int or None
        Ints: the wrapped value (equal to the stored value) when ``wrapped``, else None.
    saturated : int or None
        Ints, encoded: what a saturating conversion would store (the input clamped).
    """

    format: str
    input: str | None
    bits: int
    width: int
    kind: str
    value: ExactValue
    input_value: ExactValue | None
    sign: int | None
    exponent_bits: str | None
    exponent: int | None
    bias: int | None
    mantissa_bits: str | None
    ulp: Fraction | None
    next_down: ExactValue | None
    next_up: ExactValue | None
    wrapped: bool = False
    wrapped_value: int | None = None
    saturated: int | None = None

    @property
    def bit_string(self) -> str:
        """All ``width`` bits, most significant first."""
        return format(self.bits, f"0{self.width}b")

    @property
    def hex(self) -> str:
        return f"0x{self.bits:0{(self.width + 3) // 4}x}"

    @property
    def stored(self) -> Fraction | None:
        """The stored value as a Fraction; None for ±infinity and NaN."""
        return self.value.fraction

    @property
    def stored_decimal(self) -> str:
        """Every digit of the stored value ("-0", "inf", "-inf", "nan" as such)."""
        return self.value.decimal

    @property
    def error(self) -> Fraction | None:
        """stored − input, exactly; None unless both are finite."""
        given = self.input_value.fraction if self.input_value else None
        if self.stored is None or given is None:
            return None
        return self.stored - given

    @property
    def error_decimal(self) -> str | None:
        return None if self.error is None else decimal_string(self.error)

    @property
    def relative_error(self) -> Fraction | None:
        """(stored − input) / input, exactly; None when the input is 0 or not finite."""
        given = self.input_value.fraction if self.input_value else None
        if self.error is None or not given:
            return None
        return self.error / given

    @property
    def relative_error_decimal(self) -> str | None:
        """``relative_error`` rounded to 17 significant digits (it need not terminate)."""
        return None if self.relative_error is None else rounded_decimal(self.relative_error)

    @property
    def ulp_decimal(self) -> str | None:
        return None if self.ulp is None else decimal_string(self.ulp)


def encode(fmt: NumberFormat | str, text: str) -> Reading:
    """Round the exact value of ``text`` into ``fmt``.

    Parameters
    ----------
    fmt : NumberFormat or str
        A format or its catalogue name.
    text : str
        Number text, as ``parse_value`` reads it; int formats take integers only.

    Raises
    ------
    NumberError
        Unknown format, text that is not a number (or not an integer, for ints), NaN or
        infinity for ga4.
    """
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if isinstance(fmt, IntFormat):
        number = integers.parse_integer(fmt, text)
        stored = integers.wrap(fmt, number)
        return _int_reading(fmt, integers.bits_of(fmt, number), text, parse_value(text),
                            wrapped=stored != number, saturated=integers.saturate(fmt, number))
    value = parse_value(text)
    if isinstance(fmt, FloatFormat):
        return _float_reading(fmt, binary.round_into(fmt, value), text, value)
    return _log_reading(fmt, log_codes.round_into(fmt, value), text, value)


def decode(fmt: NumberFormat | str, bits: int) -> Reading:
    """Read the bit pattern ``bits`` (an unsigned integer below 2^width) in ``fmt``.

    Raises
    ------
    NumberError
        Unknown format, or ``bits`` outside 0 … 2^width − 1 (the message gives the range
        in hex).
    """
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if not 0 <= bits < 1 << fmt.width:
        digits = (fmt.width + 3) // 4
        raise NumberError(f"bits {_hex(bits)} out of range for {fmt.name}: allowed "
                          f"0x{0:0{digits}x} to 0x{(1 << fmt.width) - 1:0{digits}x}")
    if isinstance(fmt, IntFormat):
        return _int_reading(fmt, bits, None, None, wrapped=False, saturated=None)
    if isinstance(fmt, FloatFormat):
        return _float_reading(fmt, bits, None, None)
    return _log_reading(fmt, bits, None, None)


def _hex(number: int) -> str:
    text = f"-0x{-number:x}" if number < 0 else f"0x{number:x}"
    return text if len(text) <= 40 else f"{text[:24]}…({len(text) - 2} hex digits)"


def _float_reading(fmt: FloatFormat, bits: int, text: str | None,
                   given: ExactValue | None) -> Reading:
    sign, exponent, mantissa = binary.fields(fmt, bits)
    below, above = binary.neighbours(fmt, bits)
    return Reading(
        format=fmt.name, input=text, bits=bits, width=fmt.width,
        kind=binary.classify(fmt, bits), value=binary.value_of(fmt, bits), input_value=given,
        sign=sign, exponent_bits=format(exponent, f"0{fmt.exponent_bits}b"),
        exponent=binary.unbiased_exponent(fmt, bits), bias=fmt.bias,
        mantissa_bits=format(mantissa, f"0{fmt.mantissa_bits}b"),
        ulp=binary.ulp(fmt, bits), next_down=below, next_up=above)


def _int_reading(fmt: IntFormat, bits: int, text: str | None, given: ExactValue | None,
                 wrapped: bool, saturated: int | None) -> Reading:
    number = integers.value_of(fmt, bits)
    below = ExactValue.of(number - 1) if number > fmt.min else None
    above = ExactValue.of(number + 1) if number < fmt.max else None
    return Reading(
        format=fmt.name, input=text, bits=bits, width=fmt.width, kind="integer",
        value=ExactValue.of(number), input_value=given,
        sign=int(number < 0) if fmt.signed else None, exponent_bits=None, exponent=None,
        bias=None, mantissa_bits=None, ulp=Fraction(1), next_down=below, next_up=above,
        wrapped=wrapped, wrapped_value=number if wrapped else None, saturated=saturated)


def _log_reading(fmt: LogFormat, code: int, text: str | None,
                 given: ExactValue | None) -> Reading:
    sign, field = log_codes.fields(fmt, code)
    below, above = log_codes.neighbours(fmt, code)
    zero = field == fmt.zero_field
    return Reading(
        format=fmt.name, input=text, bits=code, width=fmt.width,
        kind="zero" if zero else "normal", value=log_codes.value_of(fmt, code),
        input_value=given, sign=sign, exponent_bits=format(field, f"0{fmt.exponent_bits}b"),
        exponent=None if zero else -field, bias=0, mantissa_bits="",
        ulp=log_codes.ulp(fmt, code), next_down=below, next_up=above)

