"""``main.py float``: one value, or one bit pattern, in one format, as a JSON object.

``main.py float VALUE [--format NAME]`` encodes VALUE; ``main.py float --bits PATTERN
[--format NAME]`` decodes PATTERN (0x… hex, 0b… binary or decimal digits) instead, and
then VALUE must be left out: giving both is refused rather than one silently ignored.
``--alpha A`` sets ga4's scale. The JSON contract is in ``engine.numbers.report``.
Refusals are one line on stderr starting with ``error:``, exit status 2, nothing on
stdout.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from engine.numbers.exact import decimal_string, parse_value
from engine.numbers.formats import LogFormat, NumberError, NumberFormat, get_format
from engine.numbers.reading import Reading, decode, encode
from engine.numbers.report import reading_to_json

PROG = "main.py float"
MAX_BITS_TEXT = 200  # float64 needs 66 characters even in binary (0b + 64)


def float_command(value: str | None, format_name: str = "float32", bits: str | None = None,
                  alpha: str | None = None, stdout: TextIO = sys.stdout,
                  stderr: TextIO = sys.stderr) -> int:
    """Print the reading of ``value`` (or of ``bits``) in ``format_name``; the exit status."""
    try:
        reading, fmt = _reading(value, format_name, bits, alpha)
    except NumberError as error:
        print(f"error: {PROG}: {error}", file=stderr)
        return 2
    result = reading_to_json(reading)
    if isinstance(fmt, LogFormat):
        result["alpha"] = decimal_string(fmt.alpha)
    print(json.dumps(result, indent=2), file=stdout)
    return 0


def _reading(value: str | None, format_name: str, bits: str | None,
             alpha: str | None) -> tuple[Reading, NumberFormat]:
    fmt = get_format(format_name)
    if alpha is not None:
        if not isinstance(fmt, LogFormat):
            raise NumberError(f"--alpha applies to ga4 only, not to {fmt.name}")
        scale = parse_value(alpha).fraction
        if scale is None or scale <= 0:
            raise NumberError(f"--alpha must be a positive number, not {alpha!r}")
        fmt = fmt.with_alpha(scale)
    if (value is None) == (bits is None):
        raise NumberError("give a VALUE to encode or --bits PATTERN to decode (one of the two)")
    if bits is not None:
        return decode(fmt, parse_bits(bits)), fmt
    assert value is not None
    return encode(fmt, value), fmt


def parse_bits(text: str) -> int:
    """A bit pattern written as 0x… (hex), 0b… (binary) or decimal digits.

    Raises
    ------
    NumberError
        For anything else, or more than ``MAX_BITS_TEXT`` characters.
    """
    if len(text) > MAX_BITS_TEXT:
        raise NumberError(f"--bits is too long: {len(text)} characters, at most "
                          f"{MAX_BITS_TEXT}")
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise NumberError(f"--bits: not a bit pattern: {text!r} (e.g. 0x3dcccccd, "
                          f"0b00111110, 1036831949)") from None

