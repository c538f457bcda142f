"""f'(z) of every activation against torch autograd, at random points and at the kinks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.activations import ACTIVATIONS, activate, derivative

SPECIAL = [0.0, -0.0, 1e-8, -1e-8, 20.0, 20.5, -20.0, 50.0, -50.0, 3.0, -3.0]


def autograd_derivative(kind: str, z: torch.Tensor) -> torch.Tensor:
    modules = {"identity": torch.nn.Identity(), "relu": torch.nn.ReLU(),
               "leaky_relu": torch.nn.LeakyReLU(), "elu": torch.nn.ELU(),
               "gelu": torch.nn.GELU(), "silu": torch.nn.SiLU(), "sigmoid": torch.nn.Sigmoid(),
               "tanh": torch.nn.Tanh(), "softplus": torch.nn.Softplus()}
    leaf = z.clone().requires_grad_(True)
    modules[kind](leaf).sum().backward()
    return leaf.grad


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_kinks_and_tails(kind: str) -> None:
    z = torch.tensor(SPECIAL, dtype=torch.float64)
    a = activate(kind, z)
    torch.testing.assert_close(derivative(kind, z, a), autograd_derivative(kind, z),
                               rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ACTIVATIONS),
       st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=20),
       st.sampled_from([torch.float32, torch.float64]))
def test_random_points(kind: str, values: list[float], dtype: torch.dtype) -> None:
    z = torch.tensor(values, dtype=dtype)
    a = activate(kind, z)
    tolerance = (1e-12, 1e-15) if dtype == torch.float64 else (2e-6, 1e-7)
    torch.testing.assert_close(derivative(kind, z, a), autograd_derivative(kind, z),
                               rtol=tolerance[0], atol=tolerance[1])
