"""A chain and its twin of the same depth, one plain and one with residual blocks, on the
same data and seed: what the identity path does to the gradient.

The twin of a plain chain wraps every block (linear → [norm] → activation) that maps a
width to itself into a residual block x + f(x); a block that changes width (the first
one, from the inputs) stays plain, as a projection. The twin of a residual chain
unwraps its blocks into plain layers. Both are initialised from the same seed, so the
linear layers hold the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.layers import Linear
from engine.core.residual import Residual
from engine.core.specs import LayerSpec, LinearSpec, NetworkSpec, ResidualSpec
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from engine.data.experiment import build_chain


@dataclass(frozen=True)
class GradientProfile:
    """‖dL/dW‖ per block from the input end (a residual block's over all its weights).
    Shape: ``weight_grads`` (blocks,)."""

    label: str
    weight_grads: np.ndarray
    first_last_ratio: float


def plain_and_residual(network: NetworkSpec) -> tuple[NetworkSpec, NetworkSpec]:
    """(plain, residual) versions of ``network``, the same layers either way."""
    if any(isinstance(spec, ResidualSpec) for spec in network.layers):
        return _unwrapped(network), network
    return network, _wrapped(network)


def _unwrapped(network: NetworkSpec) -> NetworkSpec:
    layers: list[LayerSpec] = []
    for spec in network.layers:
        layers += spec.layers if isinstance(spec, ResidualSpec) else [spec]
    return NetworkSpec(input_size=network.input_size, layers=layers)


def _wrapped(network: NetworkSpec) -> NetworkSpec:
    """Each run of layers from one linear layer to the next becomes a residual block when
    it maps its width to itself (the output layer stays outside)."""
    specs = list(network.layers)
    starts = [i for i, spec in enumerate(specs) if isinstance(spec, LinearSpec)]
    if not starts:
        return network
    layers: list[LayerSpec] = list(specs[:starts[0]])
    width = network.input_size
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(specs)
        block = specs[start:end]
        out = specs[start].out_features  # type: ignore[union-attr]
        last = n + 1 == len(starts)
        if not last and out == width:
            layers.append(ResidualSpec(layers=block))
        else:
            layers += block
        width = out
    return NetworkSpec(input_size=network.input_size, layers=layers)


def compare_gradients(network: NetworkSpec, dtype: str, seed: int, inputs: torch.Tensor,
                      targets: torch.Tensor, loss: str) -> tuple[GradientProfile,
                                                                  GradientProfile]:
    """One pass of each twin over the same batch; their ‖dL/dW‖ profiles."""
    plain, residual = plain_and_residual(network)
    return (_profile("plain", plain, dtype, seed, inputs, targets, loss),
            _profile("residual", residual, dtype, seed, inputs, targets, loss))


def _profile(label: str, network: NetworkSpec, dtype: str, seed: int,
             inputs: torch.Tensor, targets: torch.Tensor, loss: str) -> GradientProfile:
    chain = build_chain(network.without_parameters(), dtype, seed)
    stats = layer_stats(Pass(chain, inputs.to(chain.dtype), targets.to(chain.dtype),
                             loss).run())
    grads = np.array([stats[i].grad_weight_l2 for i, layer in enumerate(chain.layers)
                      if isinstance(layer, Linear | Residual)], dtype=float)
    ratio = float(grads[0] / grads[-1]) if len(grads) and grads[-1] else float("nan")
    return GradientProfile(label, grads, ratio)
