"""Rounding tensors to a storage format, to nearest or stochastically, as low-precision
training does when it keeps its weights in that format.

A value is computed in the compute dtype (float32 or float64) and then stored in a
narrower float format; what it becomes there is what the next step starts from.
``round_nearest`` is torch's own cast (round to nearest, ties to even); out of range it
gives ±inf, except float8_e4m3fn, which has no infinity and saturates to ±448.
``round_stochastic`` picks one of the two representable neighbours of each value with the
probability that makes the result unbiased: E[round(x)] = x.
"""

from __future__ import annotations

import torch

STORAGE_DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
}

def round_nearest(x: torch.Tensor, storage: str) -> torch.Tensor:
    """``x`` rounded to ``storage`` and returned in ``x``'s dtype (same shape)."""
    return x.to(STORAGE_DTYPES[storage]).to(x.dtype)


def round_stochastic(x: torch.Tensor, storage: str,
                     generator: torch.Generator) -> torch.Tensor:
    """``x`` rounded down or up to a neighbour in ``storage`` with the probabilities
    that make it unbiased; returned in ``x``'s dtype.

    Values beyond the format's largest finite value are rounded to nearest (inf, or
    ±448 for float8_e4m3fn); NaN stays NaN.
    """
    dtype = STORAGE_DTYPES[storage]
    nearest = x.to(dtype)
    back = nearest.to(x.dtype)
    toward_x = torch.sign(x - back)  # 0 where x is representable
    other = step(nearest, toward_x).to(x.dtype)
    low, high = torch.minimum(back, other), torch.maximum(back, other)
    with torch.no_grad():
        # computed in float64: the gap and the offset are exact there for every format
        gap = (high.double() - low.double())
        p_up = torch.where(gap > 0, (x.double() - low.double()) / gap, torch.zeros_like(gap))
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64)
        stored = torch.where(u < p_up, high, low)
    in_range = (toward_x != 0) & torch.isfinite(other) & \
        (x.abs() <= torch.finfo(dtype).max)
    return torch.where(in_range, stored, back)


def step(values: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """The representable neighbour of each value (a tensor in a float dtype) in
    ``direction`` (+1 up, -1 down, 0 stay), in the same dtype.

    Steps along the bit patterns read as a signed integer of the same width: sign and
    magnitude, so +1 there is the next larger magnitude whatever the sign. ±0 steps to
    ±the smallest subnormal. Stepping past the largest finite value gives inf (or NaN
    in a format without infinity); callers keep such values apart.
    """
    width = _same_width_int(values.dtype)
    bits = values.view(width)
    direction = direction.to(width)
    negative_zero = torch.iinfo(width).min  # the sign bit alone
    # read from the bits: float8 types have no comparison operators in torch
    magnitude_step = torch.where(bits < 0, -direction, direction)
    stepped = bits + magnitude_step
    smallest = torch.where(direction < 0, torch.full_like(bits, negative_zero + 1),
                           torch.ones_like(bits))
    zero = (bits == 0) | (bits == negative_zero)
    stepped = torch.where(zero & (direction != 0), smallest, stepped)
    return stepped.view(values.dtype)


def _same_width_int(dtype: torch.dtype) -> torch.dtype:
    size = torch.empty(0, dtype=dtype).element_size()
    return {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}[size]


def out_of_range(x: torch.Tensor, storage: str) -> tuple[int, int]:
    """How many finite values of ``x`` would overflow (to inf, or saturate) and how many
    non-zero ones would flush to zero if stored in ``storage``."""
    dtype = STORAGE_DTYPES[storage]
    finite = torch.isfinite(x)
    stored = x.to(dtype).to(x.dtype)
    overflow = finite & ((x.abs() > torch.finfo(dtype).max) | torch.isinf(stored))
    flushed = (x != 0) & (stored == 0)
    return int(overflow.sum()), int(flushed.sum())
