"""Per-layer statistics and distributions against numpy, computed independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.distributions import distributions
from engine.core.layers import Activation, Linear
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from tests.engine.helpers import random_batch, random_spec


def random_pass(seed: int, dtype: str = "float64") -> Pass:
    rng = np.random.default_rng(seed)
    batch = int(rng.choice([2, 5, 16]))
    chain = Chain(random_spec(rng, batch), dtype, torch.Generator().manual_seed(seed))
    x, targets = random_batch(rng, chain, "mse", batch)
    return Pass(chain, x, targets, "mse").run()


@pytest.mark.parametrize("seed", range(12))
def test_layer_stats_match_numpy(seed: int) -> None:
    pass_ = random_pass(seed)
    stats = layer_stats(pass_)
    assert len(stats) == pass_.size
    for index, stat in enumerate(stats):
        out = pass_.outputs[index].numpy().astype(np.float64)
        grad = pass_.grad_outputs[index].numpy().astype(np.float64)
        assert stat.output_l2 == pytest.approx(np.sqrt((out ** 2).sum()), rel=1e-12)
        assert stat.output_mean_abs == pytest.approx(np.abs(out).mean(), rel=1e-12)
        expected_std = out.std(ddof=1) if out.size > 1 else 0.0
        assert stat.output_std == pytest.approx(expected_std, rel=1e-9, abs=1e-15)
        assert stat.grad_l2 == pytest.approx(np.sqrt((grad ** 2).sum()), rel=1e-12)
        layer = pass_.chain.layers[index]
        if isinstance(layer, Linear):
            weight_grad = pass_.grads(index)["weight"].numpy()
            assert stat.grad_weight_l2 == pytest.approx(np.sqrt((weight_grad ** 2).sum()),
                                                        rel=1e-12)
        else:
            assert stat.grad_weight_l2 is None
        if isinstance(layer, Activation) and layer.kind == "tanh":
            assert stat.saturated == pytest.approx((np.abs(out) > 0.97).mean())
        if isinstance(layer, Activation) and layer.kind == "relu":
            assert stat.dead == pytest.approx((out == 0).all(0).mean())


def test_norms_of_large_float32_values_do_not_overflow() -> None:
    """A float32 layer of finite 1e30s has ‖·‖ ≈ 3e30, not ∞ (issue 10: the chain view
    showed ∞ where the values were finite)."""
    chain = Chain(random_spec(np.random.default_rng(0), 4), "float32", torch.Generator())
    pass_ = Pass(chain, torch.full((4, chain.input_size), 1e30), torch.zeros(4, 1), "mse")
    pass_.step_forward()
    stat = layer_stats(pass_)[0]
    out = pass_.outputs[0]
    if bool(torch.isfinite(out).all()):
        assert np.isfinite(stat.output_l2)


@pytest.mark.parametrize("of", ["output", "grad"])
@pytest.mark.parametrize("seed", range(6))
def test_distributions_match_numpy_histograms(of: str, seed: int) -> None:
    pass_ = random_pass(seed)
    data = distributions(pass_, of, bins=30)
    rows = [i for i, layer in enumerate(pass_.chain.layers) if isinstance(layer, Activation)]
    if not rows:
        assert data is None
        return
    assert data is not None
    assert data.layers == tuple(rows)
    for row, index in enumerate(rows):
        tensor = pass_.outputs[index] if of == "output" else pass_.grad_outputs[index]
        values = tensor.numpy().reshape(-1).astype(np.float64)
        if of == "grad":
            assert data.zeros[row] == pytest.approx((values == 0).mean())
            values = np.log10(np.abs(values[values != 0]))
        counts, _ = np.histogram(values, bins=data.edges)
        total = tensor.numel()
        width = data.edges[1] - data.edges[0]
        np.testing.assert_allclose(data.density[row] * total * width, counts, atol=1e-9)
