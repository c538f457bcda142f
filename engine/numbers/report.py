"""Readings as JSON: the contract of ``main.py float``.

Every value is text: exact decimal digits, or "inf", "-inf", "nan" (and "-0"), so a
reader never meets a float that its JSON library rounded.

Keys, all always present unless said otherwise:

``format``, ``input`` (null for ``--bits``), ``bits`` (all the bits, "0"/"1", most
significant first), ``hex``, ``sign`` (0/1; null for unsigned ints), ``exponent``
(``{"bits", "value", "bias"}``; null for ints; for ga4 value = −e, null at zero, bias 0),
``mantissa`` (bits; "" for ga4, null for ints), ``class`` ("normal", "subnormal", "zero",
"infinity", "nan"; "integer" for ints), ``stored``, ``error`` (stored − input, exact;
null when either is infinite or NaN, or for ``--bits``), ``relative_error`` (error/input
rounded to 17 significant digits; null also for input 0), ``ulp`` (null for inf/NaN),
``next_down``, ``next_up`` (null where there is no neighbour).
Int formats only: ``wrapped`` (true when the input lay outside the range),
``wrapped_value`` (the value it wrapped to, null when not wrapped) and ``saturated``
(what a saturating conversion stores; null for ``--bits``).
"""

from __future__ import annotations

from typing import Any

from engine.numbers.exact import ExactValue
from engine.numbers.reading import Reading


def reading_to_json(reading: Reading) -> dict[str, Any]:
    """``reading`` as a JSON-ready dict with the keys in the module docstring."""
    exponent = None
    if reading.exponent_bits is not None:
        exponent = {"bits": reading.exponent_bits, "value": reading.exponent,
                    "bias": reading.bias}
    result: dict[str, Any] = {
        "format": reading.format,
        "input": reading.input,
        "bits": reading.bit_string,
        "hex": reading.hex,
        "sign": reading.sign,
        "exponent": exponent,
        "mantissa": reading.mantissa_bits,
        "class": reading.kind,
        "stored": reading.stored_decimal,
        "error": reading.error_decimal,
        "relative_error": reading.relative_error_decimal,
        "ulp": reading.ulp_decimal,
        "next_down": _text(reading.next_down),
        "next_up": _text(reading.next_up),
    }
    if reading.kind == "integer":
        result["wrapped"] = reading.wrapped
        result["wrapped_value"] = _integer_text(reading.wrapped_value)
        result["saturated"] = _integer_text(reading.saturated)
    return result


def _text(value: ExactValue | None) -> str | None:
    return None if value is None else value.decimal


def _integer_text(value: int | None) -> str | None:
    return None if value is None else ExactValue.of(value).decimal
