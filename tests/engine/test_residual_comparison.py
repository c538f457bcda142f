"""Plain and residual twins: the same layers and initial weights, only the identity path
differs, and that path keeps the first blocks' gradient."""

from __future__ import annotations

import torch

from engine.core.layers import Linear
from engine.core.residual import walk
from engine.core.specs import ResidualSpec, repeated_block
from engine.data.experiment import build_chain
from engine.data.residual_comparison import compare_gradients, plain_and_residual


def linear_weights(network) -> list[torch.Tensor]:
    chain = build_chain(network, "float64", 3)
    weights = [layer.params["weight"] for _, layer in walk(chain.layers)
               if isinstance(layer, Linear)]
    assert len(weights) == 7
    return weights


def test_twins_hold_the_same_layers_and_weights() -> None:
    plain = repeated_block(2, 16, 6, "tanh", norm="layer")
    same, residual = plain_and_residual(plain)
    assert same == plain
    assert sum(isinstance(spec, ResidualSpec) for spec in residual.layers) == 5  # not the 1st
    unwrapped, again = plain_and_residual(residual)
    assert unwrapped == plain
    assert again == residual
    for a, b in zip(linear_weights(plain), linear_weights(residual), strict=True):
        assert torch.equal(a, b)


def test_the_identity_path_keeps_the_gradient_of_a_deep_tanh_chain() -> None:
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.zeros(64, 1, dtype=torch.float64)
    plain, residual = compare_gradients(repeated_block(2, 32, 30, "tanh"), "float64", 0, x, y,
                                        "mse")
    assert plain.first_last_ratio < 1e-6
    assert residual.first_last_ratio > 1e-2
    assert len(plain.weight_grads) == len(residual.weight_grads) == 31
