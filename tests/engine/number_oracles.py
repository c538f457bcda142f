"""Independent oracles for the number-format tests: torch's casts, struct, numpy.

Nothing here imports ``engine.numbers``: these are the answers the engine is checked
against.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import torch

FLOAT_DTYPES = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}
SMALLER_FLOATS = [name for name in FLOAT_DTYPES if name != "float64"]
STRUCT_CODES = {"float64": "d", "float32": "f", "float16": "e"}
_INT_VIEWS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def width(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size() * 8


def torch_bits(value: float, dtype: torch.dtype, source: torch.dtype = torch.float64) -> int:
    """The bits torch stores for ``value`` held in ``source`` then cast to ``dtype``."""
    cast = torch.tensor(value, dtype=source).to(dtype)
    bits = int(cast.view(_INT_VIEWS[cast.element_size()]).item())
    return bits & ((1 << width(dtype)) - 1)


def torch_value(bits: int, dtype: torch.dtype) -> float:
    """What torch reads from the pattern ``bits`` (as a Python float, exact for all these)."""
    size = width(dtype)
    signed = bits - (1 << size) if size > 8 and bits >> (size - 1) else bits
    pattern = torch.tensor(signed, dtype=_INT_VIEWS[size // 8])
    return float(pattern.view(dtype).double().item())


def struct_bits(value: float, name: str) -> int:
    code = STRUCT_CODES[name]
    packed = struct.pack(f"<{code}", value)
    return int.from_bytes(packed, "little")


def struct_value(bits: int, name: str) -> float:
    code = STRUCT_CODES[name]
    size = struct.calcsize(code)
    return float(struct.unpack(f"<{code}", bits.to_bytes(size, "little"))[0])


def numpy_float16_bits(value: float) -> int:
    """numpy rounds float64 to float16 in one step (torch goes through float32)."""
    return int(np.array([value], dtype=np.float64).astype(np.float16).view(np.uint16)[0])



def exact_text(value: float) -> str:
    """Text naming exactly this float: hex for finite values (repr is only the shortest
    decimal that reads back as the same float64, not its exact value), the sign of NaN."""
    if math.isnan(value):
        return "-nan" if math.copysign(1, value) < 0 else "nan"
    return value.hex()
