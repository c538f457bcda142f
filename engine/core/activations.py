"""Elementwise activations with PyTorch's defaults, and their derivatives f'(z).

The derivatives follow ATen's backward kernels case by case (ReLU's slope at 0 is 0,
leaky ReLU's and ELU's at 0 are the negative side's), so a backward pass through the
engine agrees with ``torch.autograd`` at the kinks too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

ACTIVATIONS: tuple[str, ...] = (
    "identity", "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus",
)
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU default
SOFTPLUS_THRESHOLD = 20.0  # torch.nn.Softplus default (beta = 1)


def activate(kind: str, z: torch.Tensor) -> torch.Tensor:
    """Apply activation ``kind`` to ``z`` exactly as ``torch.nn.<Activation>()`` does."""
    return _FORWARD[kind](z)


def derivative(kind: str, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return f'(z) elementwise, given the pre-activation ``z`` and the output ``a = f(z)``."""
    return _DERIVATIVE[kind](z, a)


def _gelu_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1.0 + torch.erf(z * (1.0 / math.sqrt(2.0))))
    pdf = torch.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))
    return cdf + z * pdf


def _silu_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _softplus_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.where(z > SOFTPLUS_THRESHOLD, torch.ones_like(z), torch.sigmoid(z))


_FORWARD: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_SLOPE),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": F.softplus,
}

_DERIVATIVE: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "identity": lambda z, a: torch.ones_like(z),
    "relu": lambda z, a: (z > 0).to(z.dtype),
    # full_like, not a Python scalar: torch.where would make 0.01 a float32 constant.
    "leaky_relu": lambda z, a: torch.where(z > 0, torch.ones_like(z),
                                           torch.full_like(z, LEAKY_SLOPE)),
    "elu": lambda z, a: torch.where(z > 0, torch.ones_like(z), torch.exp(z)),
    "gelu": _gelu_derivative,
    "silu": _silu_derivative,
    "sigmoid": lambda z, a: a * (1.0 - a),
    "tanh": lambda z, a: 1.0 - a * a,
    "softplus": _softplus_derivative,
}
