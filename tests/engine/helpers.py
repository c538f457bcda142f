"""Random chains and their torch twins (built here, from torch.nn), shared by the tests."""

from __future__ import annotations

import numpy as np
import torch

from engine.core.activations import ACTIVATIONS
from engine.core.chain import Chain
from engine.core.layers import Layer, Linear, Norm
from engine.core.losses import prepare_targets
from engine.core.residual import Residual
from engine.core.specs import (
    INIT_KINDS,
    NORM_KINDS,
    ActivationSpec,
    InitSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
)


def random_spec(rng: np.random.Generator, batch: int) -> NetworkSpec:
    """A random chain of 1-4 blocks mixing every layer kind."""
    layers: list = []
    for _ in range(int(rng.integers(1, 5))):
        init = InitSpec(kind=str(rng.choice(INIT_KINDS)))
        layers.append(LinearSpec(out_features=int(rng.integers(1, 6)), init=init))
        if rng.random() < 0.6:
            kinds = [k for k in NORM_KINDS if batch > 1 or k != "batch"]
            layers.append(NormSpec(kind=str(rng.choice(kinds))))
        if rng.random() < 0.9:
            layers.append(ActivationSpec(kind=str(rng.choice(ACTIVATIONS))))
    layers.append(LinearSpec(out_features=int(rng.integers(1, 4))))
    return NetworkSpec(input_size=int(rng.integers(1, 5)), layers=layers)


def _random_layer(rng: np.random.Generator, batch: int, width: int,
                  depth: int) -> tuple[object, int]:
    """One random layer spec at ``width`` and the width after it."""
    r = rng.random()
    if r < 0.35:
        init = InitSpec(kind=str(rng.choice(INIT_KINDS)))
        out = int(rng.integers(1, 6))
        return LinearSpec(out_features=out, init=init), out
    if r < 0.55:
        kinds = [k for k in NORM_KINDS if batch > 1 or k != "batch"]
        return NormSpec(kind=str(rng.choice(kinds))), width
    if r < 0.85 or depth >= 2:
        return ActivationSpec(kind=str(rng.choice(ACTIVATIONS))), width
    return ResidualSpec(layers=random_block(rng, batch, width, depth + 1)), width


def random_block(rng: np.random.Generator, batch: int, width: int,
                 depth: int = 0) -> list:
    """The layers of a random residual block at ``width``: 1-4 layers of any kind (blocks
    nested up to two deep), closed by a linear layer back to ``width`` where needed."""
    layers: list = []
    current = width
    for _ in range(int(rng.integers(1, 5))):
        spec, current = _random_layer(rng, batch, current, depth)
        layers.append(spec)
    if current != width:
        layers.append(LinearSpec(out_features=width,
                                 init=InitSpec(kind=str(rng.choice(INIT_KINDS)))))
    return layers


def random_residual_spec(rng: np.random.Generator, batch: int) -> NetworkSpec:
    """A random chain with 1-3 residual blocks among ordinary layers."""
    width = int(rng.integers(1, 5))
    input_size = width
    layers: list = []
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            spec, width = _random_layer(rng, batch, width, 2)
            layers.append(spec)
        layers.append(ResidualSpec(layers=random_block(rng, batch, width)))
    layers.append(LinearSpec(out_features=int(rng.integers(1, 4))))
    return NetworkSpec(input_size=input_size, layers=layers)


def random_batch(rng: np.random.Generator, chain: Chain, loss: str,
                 batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.tensor(rng.normal(size=(batch, chain.input_size)) * 2, dtype=chain.dtype)
    out = chain.output_size
    if loss == "cross_entropy":
        raw = torch.tensor(rng.integers(0, out, size=batch), dtype=chain.dtype)
    elif loss == "bce_with_logits":
        raw = torch.tensor(rng.random(size=(batch, out)), dtype=chain.dtype)
    else:
        raw = torch.tensor(rng.normal(size=(batch, out)), dtype=chain.dtype)
    return x, prepare_targets(loss, raw, out)


def torch_loss(loss: str, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    fn = {"mse": torch.nn.functional.mse_loss, "cross_entropy": torch.nn.functional.cross_entropy,
          "bce_with_logits": torch.nn.functional.binary_cross_entropy_with_logits}[loss]
    return fn(output, targets)


def assert_close(actual: object, expected: torch.Tensor, dtype: torch.dtype, what: str,
                 pass_scale: float = 0.0) -> None:
    """Relative to the tensor's scale: max|a - b| <= rtol * max|b| + atol.

    Elementwise relative error is the wrong yardstick for gradients that come out of a
    cancellation (batch norm's mean-subtracted terms): both sides are exact to the
    tensor's scale, not to each tiny element's. ``pass_scale`` (the largest gradient of
    the pass) covers gradients that are exactly zero in theory, where both sides are
    rounding noise of the larger terms that cancelled.
    """
    actual_t = torch.as_tensor(actual, dtype=expected.dtype)
    assert actual_t.shape == expected.shape, f"{what}: shape {actual_t.shape} != {expected.shape}"
    rtol, atol = (1e-9, 1e-15) if dtype == torch.float64 else (1e-4, 1e-6)
    both_nan = torch.isnan(actual_t) & torch.isnan(expected)
    error = (actual_t - expected).abs().masked_fill(both_nan, 0).max() if expected.numel() else 0
    scale = expected.abs().masked_fill(both_nan, 0).max() if expected.numel() else 0
    assert error <= rtol * max(float(scale), pass_scale) + atol, (
        f"{what}: max error {float(error):.3g} vs scale {float(scale):.3g}")


class _Normalize(torch.nn.Module):
    def __init__(self, p: float, eps: float) -> None:
        super().__init__()
        self.p, self.eps = p, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(x, p=self.p, dim=-1, eps=self.eps)


class _Residual(torch.nn.Module):
    """x + body(x), written here from the definition (not the product's export)."""

    def __init__(self, *layers: torch.nn.Module) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _twin_module(layer: Layer) -> torch.nn.Module:
    nn = torch.nn
    if isinstance(layer, Residual):
        return _Residual(*[_twin_module(inner) for inner in layer.layers])
    if isinstance(layer, Linear):
        return nn.Linear(layer.in_features, layer.out_features_)
    if isinstance(layer, Norm):
        return {
            "batch": lambda: nn.BatchNorm1d(layer.features, eps=layer.eps,
                                            momentum=layer.momentum),
            "layer": lambda: nn.LayerNorm(layer.features, eps=layer.eps),
            "rms": lambda: nn.RMSNorm(layer.features, eps=layer.eps),
            "l1": lambda: _Normalize(1.0, layer.eps),
            "l2": lambda: _Normalize(2.0, layer.eps),
        }[layer.kind]()
    return {
        "identity": nn.Identity, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh, "softplus": nn.Softplus,
    }[layer.kind]()


def torch_twin(chain: Chain) -> torch.nn.Sequential:
    """The chain rebuilt from torch.nn modules by the test, with the chain's parameters and
    running statistics copied in: the independent reference (product code such as
    ``engine.core.torch_export`` is what other tests check against this)."""
    model = torch.nn.Sequential(*[_twin_module(layer) for layer in chain.layers])
    model = model.to(chain.dtype)
    with torch.no_grad():
        for module, layer in zip(model, chain.layers, strict=True):
            _copy_into(module, layer)
    return model


def _copy_into(module: torch.nn.Module, layer: Layer) -> None:
    """The layer's tensors into its twin module (a residual block's, layer by layer)."""
    if isinstance(layer, Residual):
        assert isinstance(module, _Residual)
        for inner_module, inner in zip(module.body, layer.layers, strict=True):
            _copy_into(inner_module, inner)
        return
    for name, tensor in {**layer.params, **layer.buffers}.items():
        getattr(module, name).copy_(tensor)
