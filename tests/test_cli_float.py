"""``main.py float``: the JSON contract, and one ``error:`` line plus exit 2 for bad input."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOAT_KEYS = {"format", "input", "bits", "hex", "sign", "exponent", "mantissa", "class",
              "stored", "error", "relative_error", "ulp", "next_down", "next_up"}


def float_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "float", *args],
                          capture_output=True, text=True, timeout=120)


def contract(*args: str) -> dict[str, Any]:
    result = float_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def exact(value: float) -> str:
    """Every digit of a float, from the decimal module (Decimal(float) is exact)."""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_point_one_in_float32() -> None:
    data = contract("0.1")
    assert set(data) == FLOAT_KEYS
    stored = float(np.float32(0.1))
    bits = int.from_bytes(struct.pack("<f", 0.1), "little")
    assert data["format"] == "float32"
    assert data["input"] == "0.1"
    assert data["bits"] == format(bits, "032b")
    assert data["hex"] == f"0x{bits:08x}"
    assert data["sign"] == 0
    assert data["exponent"] == {"bits": "01111011", "value": -4, "bias": 127}
    assert data["mantissa"] == format(bits, "032b")[9:]
    assert data["class"] == "normal"
    assert data["stored"] == "0.100000001490116119384765625" == exact(stored)
    assert data["error"] == "0.000000001490116119384765625"
    assert Decimal(data["error"]) == Decimal(stored) - Decimal("0.1")  # exact: 28 digits
    assert data["relative_error"].startswith("1.490116119384765")
    ulp = float(np.spacing(np.float32(0.1)))
    assert data["ulp"] == exact(ulp)
    assert data["next_down"] == exact(float(np.nextafter(np.float32(0.1), np.float32(0))))
    assert data["next_up"] == exact(float(np.nextafter(np.float32(0.1), np.float32(1))))


def test_bits_decode() -> None:
    data = contract("--bits", "0x7f", "--format", "float8_e4m3fn")
    assert data["input"] is None
    assert data["class"] == "nan"
    assert data["stored"] == "nan"
    assert data["error"] is None
    assert data["next_up"] is None
    subnormal = contract("--bits", "0x0001", "--format", "float16")
    assert subnormal["class"] == "subnormal"
    assert subnormal["stored"] == exact(2.0**-24)
    assert subnormal["exponent"] == {"bits": "00000", "value": -14, "bias": 15}


def test_negative_values_and_overflow() -> None:
    data = contract("-3.4e38", "--format", "float16")
    assert data["stored"] == "-inf"
    assert data["sign"] == 1
    assert data["next_up"] == "-65504"
    assert data["error"] is None
    assert contract("--format", "float8_e4m3fn", "-inf")["stored"] == "-448"


def test_int_overflow_wraps() -> None:
    data = contract("2147483648", "--format", "int32")
    assert set(data) == FLOAT_KEYS | {"wrapped", "wrapped_value", "saturated"}
    assert data["stored"] == "-2147483648"
    assert data["wrapped"] is True
    assert data["wrapped_value"] == "-2147483648"
    assert data["saturated"] == "2147483647"
    assert data["bits"] == "1" + "0" * 31
    assert data["exponent"] is None
    assert data["mantissa"] is None
    assert data["class"] == "integer"
    assert data["error"] == str(-(2**32))


@pytest.mark.parametrize(("args", "words"), [
    (["abc"], "not a number: 'abc'"),
    (["1", "--format", "float128"], "unknown number format 'float128'"),
    (["--bits", "0x1ff", "--format", "float8_e5m2"], "0x00 to 0xff"),
    (["--bits", "zz"], "not a bit pattern"),
    (["1" * 5001], "too many digits"),
    (["1e999999999"], "exponent out of range"),
    (["3.7", "--format", "int8"], "int8 holds integers only"),
    (["nan", "--format", "ga4"], "ga4 has no code"),
    ([], "give a VALUE"),
    (["1", "--bits", "0x0"], "one of the two"),
    (["1", "--alpha", "2"], "--alpha applies to ga4 only"),
    (["1", "--colour"], "unrecognized arguments"),
])
def test_refusals_are_one_line_and_exit_2(args: list[str], words: str) -> None:
    result = float_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert words in lines[0]


def test_ga4_with_alpha() -> None:
    data = contract("-0.3", "--format", "ga4", "--alpha", "0.5")
    assert data["hex"] == "0x9"  # sign bit 8 + e = 1: −α/2 = −0.25 is the nearest code
    assert data["stored"] == "-0.25"
    assert data["alpha"] == "0.5"


def test_help_lists_the_float_command() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"],
                            capture_output=True, text=True, check=True)
    assert "float VALUE [--format NAME]" in result.stdout
    assert "--bits 0x3dcccccd" in result.stdout
