"""The population evaluator's tanh (numpy's SIMD kernel on the CPU): accurate to 1.5
units in the last place against a long-double reference, and the kernel actually used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.evolution.population import tanh_in_place


def _arguments() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([np.linspace(-20, 20, 400_001), rng.normal(0, 3, 200_000),
                           rng.normal(0, 1e-3, 50_000), rng.normal(0, 1e-9, 5_000),
                           [0.0, -0.0, 1e-30, 9.0, 9.1, 20.0, 1e4, -1e4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluator_tanh_is_within_one_and_a_half_ulp(dtype: type) -> None:
    x = _arguments().astype(dtype)
    exact = np.tanh(x.astype(np.longdouble))
    values = tanh_in_place(torch.from_numpy(x.copy())).numpy()
    ulp = np.spacing(np.abs(exact.astype(dtype))).astype(np.longdouble)
    assert np.max(np.abs(values.astype(np.longdouble) - exact) / ulp) <= 1.5
    assert np.array_equal(np.signbit(values), np.signbit(x))  # odd, -0 kept


def test_evaluator_tanh_works_in_place_with_numpys_kernel() -> None:
    h = torch.from_numpy(_arguments()[:600_000].astype(np.float32)).view(-1, 8)
    expected = np.tanh(h.numpy())
    assert tanh_in_place(h) is h
    assert np.array_equal(h.numpy(), expected)


def test_a_strided_tensor_takes_torchs_kernel_in_place() -> None:
    base = torch.linspace(-4, 4, 200, dtype=torch.float32).view(20, 10)
    h = base.T  # not contiguous: numpy would not write through to the storage
    expected = torch.tanh(h)
    assert tanh_in_place(h) is h
    assert torch.equal(base.T, expected)
