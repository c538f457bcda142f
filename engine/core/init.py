"""Initialisers for linear layers, drawn from a passed-in ``torch.Generator``.

Each matches the ``torch.nn.init`` function of the same name; ``default`` is what
``torch.nn.Linear.reset_parameters`` does (kaiming_uniform with a = √5, bias
uniform(±1/√fan_in)).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from engine.core.specs import InitSpec

# calculate_gain has no entry for these; they behave like ReLU on the positive side,
# so they get ReLU's √2 (documented in docs/session-format.md).
_RELU_LIKE = ("elu", "gelu", "silu", "softplus")
_TORCH_GAINS: dict[str, Literal["sigmoid", "tanh", "relu", "leaky_relu"]] = {
    "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky_relu": "leaky_relu"}


def gain_for(activation: str | None) -> float:
    """``torch.nn.init.calculate_gain`` for the activation that follows a linear layer."""
    if activation is None or activation == "identity":
        return 1.0
    if activation in _RELU_LIKE:
        return math.sqrt(2.0)
    if activation not in _TORCH_GAINS:
        raise ValueError(f"no gain known for {activation!r}")
    return torch.nn.init.calculate_gain(_TORCH_GAINS[activation])


def initialise(weight: torch.Tensor, bias: torch.Tensor, spec: InitSpec,
               next_activation: str | None, generator: torch.Generator) -> None:
    """Fill ``weight`` (out, in) and ``bias`` (out,) in place according to ``spec``."""
    _fan_out, fan_in = weight.shape
    gain = spec.gain if spec.gain is not None else gain_for(next_activation)
    nn_init = torch.nn.init
    with torch.no_grad():
        bias.zero_()
        if spec.kind == "default":
            nn_init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(fan_in)
            nn_init.uniform_(bias, -bound, bound, generator=generator)
        elif spec.kind == "uniform":
            nn_init.uniform_(weight, -spec.a, spec.a, generator=generator)
        elif spec.kind == "normal":
            nn_init.normal_(weight, 0.0, spec.std, generator=generator)
        elif spec.kind == "xavier_uniform":
            nn_init.xavier_uniform_(weight, gain=gain, generator=generator)
        elif spec.kind == "xavier_normal":
            nn_init.xavier_normal_(weight, gain=gain, generator=generator)
        elif spec.kind == "kaiming_uniform":
            bound = gain * math.sqrt(3.0 / fan_in)
            nn_init.uniform_(weight, -bound, bound, generator=generator)
        elif spec.kind == "kaiming_normal":
            nn_init.normal_(weight, 0.0, gain / math.sqrt(fan_in), generator=generator)
        elif spec.kind == "constant":
            weight.fill_(spec.weight)
            bias.fill_(spec.bias)
        else:  # pragma: no cover - InitSpec's Literal rules this out
            raise ValueError(f"unknown initialiser {spec.kind!r}")
