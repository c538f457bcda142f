"""The format catalogue: how many bits each number format has and what they mean.

Three kinds of format:

``FloatFormat``
    sign · exponent field · mantissa field, binary floating point. IEEE-like formats
    (``has_infinity``) reserve the all-ones exponent for ±infinity (mantissa 0) and NaN
    (any other mantissa). The finite-only "fn" format float8_e4m3fn keeps the all-ones
    exponent for normals and has a single NaN pattern there, S.1111.111.
``IntFormat``
    two's complement (signed) or plain binary (unsigned) integers.
``LogFormat``
    the genetic algorithm's 4-bit weight codes (``engine/evolution/genome.py``): a sign
    bit and a 3-bit field e, value ±α·2^(−e), with e = 7 meaning zero.

What a conversion does at overflow follows torch 2.13's casts, format by format:

- float64, float32, float16, bfloat16, float8_e5m2: round to nearest, ties to even, with
  an unbounded exponent; a result beyond the largest finite value is ±infinity (so
  float16 65519 → 65504 but 65520 → inf; e5m2 61439 → 57344 but 61440 → inf).
- float8_e4m3fn: saturates. Every finite value beyond 448, and ±infinity itself, becomes
  ±448 (torch turns 460, 1e6 and inf into 448); only NaN gives NaN (S.1111.111).
- int formats: wrap modulo 2^bits (torch: int8 200 → −56); the readings also show what a
  saturating conversion would give.
- ga4: saturates at ±α (the GA's ``quantise`` clips); NaN and infinity have no code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

import torch


class NumberError(ValueError):
    """Text, bits or a format name that a number format cannot take; the message says why."""


class NotANumberError(NumberError):
    """Text that does not write a number at all (not one a format merely cannot hold)."""


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format.

    Attributes
    ----------
    name : str
        The catalogue name, also torch's dtype name.
    exponent_bits, mantissa_bits : int
        Widths of the exponent and (stored, without the hidden bit) mantissa fields.
    bias : int
        Stored exponent field = exponent + bias for normal numbers.
    torch_dtype : torch.dtype
        The torch dtype whose casts the format follows.
    has_infinity : bool
        IEEE-like: all-ones exponent means ±infinity or NaN. False: the "fn" style, where
        the all-ones exponent holds normals and only an all-ones mantissa there is NaN.
    nan_mantissa : int
        The mantissa field torch writes for NaN (float32 0x7fc00000: the quiet bit only;
        the float8 formats: all ones).
    nan_keeps_sign : bool
        Whether torch's cast keeps the sign bit of a NaN (its bfloat16 cast always writes
        0x7fc0).
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    torch_dtype: torch.dtype
    has_infinity: bool
    nan_mantissa: int
    nan_keeps_sign: bool = True

    @property
    def width(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def overflow(self) -> Literal["infinity", "saturate"]:
        """What a conversion gives beyond the largest finite value (module docstring)."""
        return "infinity" if self.has_infinity else "saturate"

    @property
    def exponent_field_max(self) -> int:
        return (1 << self.exponent_bits) - 1

    @property
    def min_exponent(self) -> int:
        """The exponent of the smallest normal number, and the one subnormals share."""
        return 1 - self.bias

    @property
    def max_field_mantissa(self) -> tuple[int, int]:
        """Exponent field and mantissa field of the largest finite value."""
        top = (1 << self.mantissa_bits) - 1
        if self.has_infinity:
            return self.exponent_field_max - 1, top
        return self.exponent_field_max, top - 1  # all ones there is the NaN


@dataclass(frozen=True)
class IntFormat:
    """A fixed-width integer: two's complement when ``signed``, else plain binary."""

    name: str
    bits: int
    signed: bool
    torch_dtype: torch.dtype

    @property
    def width(self) -> int:
        return self.bits

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


@dataclass(frozen=True)
class LogFormat:
    """The GA's 4-bit log-quantised weight code: bit 3 the sign, bits 0..2 a field e.

    Value (−1)^s · α · 2^(−e); e = 7 means zero, so codes 7 and 15 are +0 and −0 and the
    15 distinct values are 0, ±α, ±α/2, …, ±α/64. α is the layer's scale (1 by default;
    ``with_alpha`` gives another). No torch dtype holds these values: the GA keeps the
    codes in uint8 tensors and decodes them with ``engine.evolution.genome.decode``.
    """

    name: str
    alpha: Fraction = Fraction(1)
    exponent_bits: int = 3
    zero_field: int = 7
    torch_dtype: None = None  # no torch dtype holds these values

    @property
    def width(self) -> int:
        return 1 + self.exponent_bits

    @property
    def sign_bit(self) -> int:
        return 1 << self.exponent_bits

    def with_alpha(self, alpha: Fraction | int) -> LogFormat:
        """The same code at scale ``alpha`` (exact, > 0; raises NumberError otherwise)."""
        alpha = Fraction(alpha)
        if alpha <= 0:
            raise NumberError(f"alpha must be positive, not {alpha}")
        return replace(self, alpha=alpha)


NumberFormat = FloatFormat | IntFormat | LogFormat

FORMATS: dict[str, NumberFormat] = {
    "float64": FloatFormat("float64", 11, 52, 1023, torch.float64, True, 1 << 51),
    "float32": FloatFormat("float32", 8, 23, 127, torch.float32, True, 1 << 22),
    "float16": FloatFormat("float16", 5, 10, 15, torch.float16, True, 1 << 9),
    "bfloat16": FloatFormat("bfloat16", 8, 7, 127, torch.bfloat16, True, 1 << 6, False),
    "float8_e4m3fn": FloatFormat("float8_e4m3fn", 4, 3, 7, torch.float8_e4m3fn, False, 0b111),
    "float8_e5m2": FloatFormat("float8_e5m2", 5, 2, 15, torch.float8_e5m2, True, 0b11),
    "int8": IntFormat("int8", 8, True, torch.int8),
    "int16": IntFormat("int16", 16, True, torch.int16),
    "int32": IntFormat("int32", 32, True, torch.int32),
    "int64": IntFormat("int64", 64, True, torch.int64),
    "uint8": IntFormat("uint8", 8, False, torch.uint8),
    "ga4": LogFormat("ga4"),
}


def get_format(name: str) -> NumberFormat:
    """The catalogue entry called ``name``.

    Raises
    ------
    NumberError
        For an unknown name; the message lists the known ones.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise NumberError(f"unknown number format {name!r} (known: "
                          f"{', '.join(FORMATS)})") from None
