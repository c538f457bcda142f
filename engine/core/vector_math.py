"""Settle torch's vector-math kernels before any computation uses them.

torch hands its contiguous float unary operations (tanh, exp, log, sqrt, erf, ...) to
MKL's vector math library, which picks its kernel on a function's first call. When that
first call runs on several of torch's worker threads at once, one thread can get a
low-accuracy kernel for its share of that one call (pytorch/pytorch#188792: errors up to
thousands of ulps). Here it made about one fresh process in ten compute a different
first-layer table for the genetic algorithm, so that the same seed gave a different
history. Calling each function once on a single element, before any other work,
settles the choice for the whole process.
"""

from __future__ import annotations

import torch

# the unary functions torch may route to MKL's vector math (aten/src/ATen/cpu/vml.h)
_FUNCTIONS = (torch.abs, torch.acos, torch.asin, torch.atan, torch.cos, torch.cosh,
              torch.erf, torch.erfc, torch.erfinv, torch.exp, torch.expm1, torch.lgamma,
              torch.log, torch.log10, torch.log1p, torch.log2, torch.sin, torch.sinh,
              torch.sqrt, torch.tan, torch.tanh, torch.trunc, torch.sigmoid, torch.rsqrt)


def warm_up() -> None:
    """Call every vector-math function once, on one element of each float dtype."""
    for dtype in (torch.float32, torch.float64):
        one = torch.full((1,), 0.5, dtype=dtype)
        for function in _FUNCTIONS:
            function(one)
