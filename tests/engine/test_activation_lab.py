"""The Activation lab's numbers against independent oracles: torch autograd through
torch.nn.functional for f and f', a torch.nn twin of the chain for the gradient norms,
math.tanh and hand arithmetic for the seed example."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.core.activations import ACTIVATIONS
from engine.core.chain import Chain
from engine.core.specs import InitSpec, repeated_block
from engine.data.activation_lab import (
    chain_rule_facts,
    compounding,
    curves,
    derivative_sup,
    seed_trace,
    where_reached,
)
from tests.engine.helpers import torch_twin

TORCH_F = {
    "identity": lambda z: z, "relu": F.relu, "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu, "gelu": F.gelu, "silu": F.silu, "sigmoid": torch.sigmoid,
    "tanh": torch.tanh, "softplus": F.softplus,
}


def autograd_f_df(kind: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    a = TORCH_F[kind](z)
    a.sum().backward()  # each a_i depends on z_i only: z.grad = f'(z)
    assert z.grad is not None
    return a.detach().numpy(), z.grad.numpy()


def test_every_engine_activation_has_a_torch_oracle() -> None:
    assert set(TORCH_F) == set(ACTIVATIONS)


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_f_and_df_equal_autograd(kind: str) -> None:
    # 0 and the softplus threshold 20 are grid points (step 0.05)
    result = curves(kind, -30.0, 30.0, 1201)
    assert result.x[600] == 0.0
    f, df = autograd_f_df(kind, result.x)
    np.testing.assert_allclose(result.f, f, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result.df, df, rtol=1e-12, atol=1e-15)
    assert result.max_df == df.max()
    assert result.argmax_df == result.x[int(np.argmax(df))]


def test_sigmoid_derivative_is_at_most_a_quarter_reached_at_zero() -> None:
    result = curves("sigmoid", -8.0, 8.0, 1601)
    assert np.all(result.df <= 0.25)
    assert result.max_df == 0.25
    assert result.argmax_df == 0.0
    assert np.flatnonzero(result.df == 0.25).tolist() == [800]
    sup = derivative_sup("sigmoid")
    assert (sup.value, sup.at, sup.where) == (0.25, 0.0, "at x = 0")


def test_tanh_derivative_is_in_zero_one_and_one_only_at_zero() -> None:
    result = curves("tanh", -5.0, 5.0, 1001)
    assert np.all(result.df > 0)
    assert np.all(result.df <= 1)
    assert result.x[result.df == 1.0].tolist() == [0.0]
    sup = derivative_sup("tanh")
    assert (sup.value, sup.at, sup.where) == (1.0, 0.0, "at x = 0")


def test_relu_derivative_is_exactly_one_where_active_and_zero_below() -> None:
    result = curves("relu", -3.0, 3.0, 601)
    assert np.all(result.df[result.x > 0] == 1.0)
    assert np.all(result.df[result.x < 0] == 0.0)
    sup = derivative_sup("relu")
    assert (sup.value, sup.where) == (1.0, "for every x > 0")


def test_softplus_derivative_still_rises_at_the_grid_end() -> None:
    sup = derivative_sup("softplus")
    assert sup.value == pytest.approx(1 / (1 + math.exp(-20)), rel=1e-15)
    assert sup.value < 1
    assert "not attained" in sup.where


def test_gelu_derivative_peaks_at_root_two() -> None:
    # gelu''(z) = φ(z)(2 - z²): the maximum is at √2
    sup = derivative_sup("gelu")
    assert sup.at == pytest.approx(math.sqrt(2), abs=1 / 1024)


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="low < high"):
        curves("tanh", 1.0, 1.0)
    with pytest.raises(ValueError, match="two points"):
        curves("tanh", 0.0, 1.0, 1)
    with pytest.raises(ValueError, match="distribution"):
        compounding("tanh", 3, 4, input_distribution="cauchy")


def twin_pass(kind: str, depth: int, width: int, init: InitSpec, distribution: str,
              scale: float, samples: int, seed: int) -> tuple[list, list, torch.nn.Sequential]:
    """(activation outputs with their .grad, pre-activations) of a torch.nn twin, with
    parameters and inputs drawn as compounding() documents: the chain, then the inputs,
    from one generator."""
    generator = torch.Generator().manual_seed(seed)
    chain = Chain(repeated_block(width, width, depth, kind, init=init), "float64", generator)
    if distribution == "normal":
        x = torch.randn((samples, width), generator=generator, dtype=torch.float64)
    else:
        x = torch.rand((samples, width), generator=generator, dtype=torch.float64) * 2 - 1
    model = torch_twin(chain)
    h, activated, pre = x * scale, [], []
    for index, module in enumerate(model):
        if index % 2 == 1 and index < 2 * depth:
            pre.append(h.detach().clone())
        h = module(h)
        if index % 2 == 1 and index < 2 * depth:
            h.retain_grad()
            activated.append(h)
    F.mse_loss(h, torch.zeros_like(h)).backward()
    return activated, pre, model


@pytest.mark.parametrize(("kind", "init", "distribution"), [
    ("sigmoid", "default", "normal"), ("tanh", "xavier_uniform", "uniform"),
    ("relu", "kaiming_normal", "normal"), ("gelu", "normal", "uniform"),
])
def test_measured_gradient_norms_equal_a_torch_twin(kind: str, init: str,
                                                    distribution: str) -> None:
    depth, width, samples, seed, scale = 7, 6, 20, 3, 1.5
    spec = InitSpec(kind=init)
    result = compounding(kind, depth, width, spec, distribution, scale, samples, seed)
    activated, pre, model = twin_pass(kind, depth, width, spec, distribution, scale,
                                      samples, seed)
    norms = [float(a.grad.norm()) for a in activated][::-1]  # by distance from the output
    np.testing.assert_allclose(result.measured_norm, norms, rtol=1e-10)
    np.testing.assert_allclose(result.measured, np.array(norms) / norms[0], rtol=1e-10)
    assert result.measured[0] == 1.0
    assert result.layer.tolist() == list(range(depth, 0, -1))

    # the predictions, by a plain loop over the twin's own f'(z) and weights
    slopes = [autograd_f_df(kind, z.numpy())[1] for z in pre]
    gains = [math.sqrt(width * float((model[2 * k].weight.detach() ** 2).mean()))
             for k in range(depth)]
    predicted, with_weights = [1.0], [1.0]
    for block in range(depth - 1, 0, -1):  # block index from the output end, 0-based
        predicted.append(predicted[-1] * float(slopes[block].mean()))
        rms = math.sqrt(float((slopes[block] ** 2).mean()))
        with_weights.append(with_weights[-1] * rms * gains[block])
    np.testing.assert_allclose(result.predicted, predicted, rtol=1e-10)
    np.testing.assert_allclose(result.predicted_with_weights, with_weights, rtol=1e-10)


def test_reference_lines() -> None:
    result = compounding("sigmoid", 8, 4, samples=8)
    assert result.reference[5] == pytest.approx(0.328, abs=5e-4)
    assert result.bound[5] == pytest.approx(0.000977, abs=5e-7)
    assert result.bound[5] == 0.25 ** 5
    assert result.reference[0] == result.bound[0] == result.predicted[0] == 1.0
    facts = chain_rule_facts(5)
    assert facts.reference_power == pytest.approx(0.32768, rel=1e-12)
    assert facts.sigmoid_power == 1 / 1024
    assert facts.tanh_sup.value == facts.relu_sup.value == 1.0


def test_deep_sigmoid_gradients_do_not_underflow_to_zero() -> None:
    # 200 sigmoid blocks shrink the gradient below 1e-154, whose square is below the
    # smallest float64: the norm must still be a number (oracle: an exact 2^600 rescale)
    depth, width, samples = 200, 8, 16
    result = compounding("sigmoid", depth, width, InitSpec(), "normal", 1.0, samples, 0)
    activated, _, _ = twin_pass("sigmoid", depth, width, InitSpec(), "normal", 1.0,
                                samples, 0)
    first = activated[0].grad
    assert float(first.norm()) < 1e-150 or float(first.norm()) == 0.0
    oracle = math.ldexp(float((first * 2.0 ** 600).norm()), -600)
    assert oracle > 0
    assert result.measured_norm[-1] == pytest.approx(oracle, rel=1e-10)
    assert 0 < result.first_measured < 1e-100


def test_seeded_runs_repeat_exactly() -> None:
    one = compounding("tanh", 5, 4, InitSpec(kind="normal"), "uniform", 2.0, 16, 9)
    two = compounding("tanh", 5, 4, InitSpec(kind="normal"), "uniform", 2.0, 16, 9)
    assert one.measured_norm.tolist() == two.measured_norm.tolist()
    other = compounding("tanh", 5, 4, InitSpec(kind="normal"), "uniform", 2.0, 16, 10)
    assert one.measured_norm.tolist() != other.measured_norm.tolist()


def test_seed_example_saturates_the_first_tanh() -> None:
    first, second = seed_trace(10.0)
    assert first.z == pytest.approx(3.3, rel=1e-15)
    assert round(first.a, 5) == 0.99728
    assert first.a == pytest.approx(math.tanh(3.3), rel=1e-15)
    assert first.df == pytest.approx(1 - math.tanh(3.3) ** 2, rel=1e-12)
    assert second.z == pytest.approx(0.3 * math.tanh(3.3) + 0.3, rel=1e-15)
    assert round(second.z, 5) == 0.59918  # 0.3·0.99728 + 0.3 = 0.599184 by hand
    assert round(second.a, 5) == 0.53647
    assert second.df == pytest.approx(1 - math.tanh(second.z) ** 2, rel=1e-12)


@pytest.mark.parametrize(("hits", "expected"), [
    ([3], "at x = 0.5"), ([0, 1, 2, 3, 4, 5, 6], "for every x"),
    ([4, 5, 6], "for every x ≥ 1"), ([3, 4, 5, 6], "for every x > 0"),
    ([1, 2, 3], "for every x from -0.5 to 0.5"),
    ([1, 5], "at 2 points from x = -0.5 to x = 1.5")])
def test_where_a_maximum_is_reached_in_words(hits: list[int], expected: str) -> None:
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])
    assert where_reached(x, np.array(hits)) == expected
    # 0 falls between two grid points: the plateau still starts right of 0
    assert where_reached(x + 0.25, np.array([2, 3, 4, 5, 6])) == "for every x > 0"
