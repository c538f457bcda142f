"""The Activation lab's numbers: each activation's f and f', and how f' compounds with depth.

Backpropagation multiplies one local factor per layer: through block k of a repeated
chain, dL/da_{k-1} = W_kᵀ (f'(z_k) ⊙ dL/da_k). :func:`compounding` builds a real engine
chain of ``depth`` such blocks, runs one forward and backward pass on random inputs, and
sets the measured ‖dL/da_l‖ beside predictions made from that same forward pass:

* ``predicted``: ∏ over the blocks above l of the block's mean f'(z). It is the
  activations' share alone, as if the weights passed gradients on unchanged (the
  classic "0.25ⁿ for sigmoid" argument).
* ``predicted_with_weights``: ∏ of rms f'(z) × √(fan_in · mean w²). For weights drawn
  independently with mean 0, ‖Wᵀg‖ ≈ √(fan_in · E[w²]) ‖g‖, and ‖f' ⊙ g‖ ≈ rms(f') ‖g‖
  when f' and g are independent: the initialisers (Xavier, Kaiming) choose E[w²] so
  that this product stays near 1.

Everything is float64, so a 200-layer sigmoid chain's 10⁻¹²⁰ is a number, not 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from engine.core.activations import activate, derivative
from engine.core.chain import Chain
from engine.core.layers import Linear
from engine.core.specs import InitSpec, repeated_block, seed_example
from engine.core.stepper import Pass

REFERENCE_FACTOR = 0.8  # the "0.8ⁿ" line: a factor a little under 1, repeated
SUP_HALF_WIDTH = 20.0  # sup f' is searched on [-20, 20] ...
SUP_STEP = 1.0 / 1024  # ... in steps exact in binary, so x = 0 is a grid point
InputDistribution = Literal["normal", "uniform"]
INPUT_DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform")


@dataclass(frozen=True)
class DerivativeSup:
    """The largest f'(x) on the fine grid, where it is reached and how to say so."""

    value: float
    at: float  # the first grid point where f' equals ``value``
    where: str  # "at x = 0", "for every x > 0", "at the grid's end x = 20 (still rising)"


@dataclass(frozen=True)
class ActivationCurve:
    """f and f' of one activation sampled on [low, high].

    Shape: ``x``, ``f``, ``df`` are (points,).
    """

    kind: str
    x: np.ndarray
    f: np.ndarray
    df: np.ndarray
    max_df: float  # the largest f' in the plotted range ...
    argmax_df: float  # ... and the first x where it is reached
    where_max: str  # where it is reached, in words (a plateau: "for every x > 0")
    sup: DerivativeSup  # over the fine grid on [-20, 20], whatever the range


def _evaluate(kind: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = torch.as_tensor(x, dtype=torch.float64)
    a = activate(kind, z)
    return a.numpy().copy(), derivative(kind, z, a).numpy().copy()


def derivative_sup(kind: str) -> DerivativeSup:
    """The supremum of f' over a fine grid on [-20, 20], from the engine's own f'.

    The grid steps by 1/1024, so x = 0 is sampled exactly. Where the maximum is reached
    on a run of grid points up to the grid's end (ReLU: every x > 0) that is said;
    where it is only reached at the end, f' is still rising there (softplus).
    """
    count = round(2 * SUP_HALF_WIDTH / SUP_STEP) + 1
    x = np.linspace(-SUP_HALF_WIDTH, SUP_HALF_WIDTH, count)
    _, df = _evaluate(kind, x)
    value = float(df.max())
    hits = np.flatnonzero(df == value)
    at = float(x[hits[0]])
    if hits.size == 1 and hits[0] == count - 1:
        where = f"at the grid's end x = {at:g} (still rising: not attained)"
    elif hits.size == 1 and abs(at) <= SUP_STEP / 2:
        where = "at x = 0"
    else:
        where = where_reached(x, hits)
    return DerivativeSup(value=value, at=0.0 if at == 0 else at, where=where)


def where_reached(x: np.ndarray, hits: np.ndarray) -> str:
    """Where on the grid ``x`` the points ``hits`` (sorted indices: where a maximum is
    reached) lie, in words: "at x = 0.5", "for every x > 0" (a plateau up to the grid's
    end, as ReLU's f' = 1), "for every x from -1 to 1", "at 3 points from x = …"."""
    first, last = int(hits[0]), int(hits[-1])
    at, end = float(x[first]), float(x[last])
    if hits.size == 1:
        return f"at x = {at:.4g}"
    if last - first + 1 != hits.size:
        return f"at {hits.size} points from x = {at:g} to x = {end:g}"
    if first == 0 and last == len(x) - 1:
        return "for every x"
    if last == len(x) - 1:
        return "for every x > 0" if x[first - 1] <= 0 < at else f"for every x ≥ {at:g}"
    return f"for every x from {at:g} to {end:g}"


def curves(kind: str, low: float, high: float, points: int = 801) -> ActivationCurve:
    """f(x) and f'(x) of activation ``kind`` on ``points`` evenly spaced x in [low, high].

    Both come from :mod:`engine.core.activations` (what a chain's forward and backward
    use), in float64.

    Shape
    -----
    ``x``, ``f``, ``df``: (points,).
    """
    if not high > low:
        raise ValueError(f"the range needs low < high, got [{low}, {high}]")
    if points < 2:
        raise ValueError("at least two points")
    x = np.linspace(low, high, points)
    f, df = _evaluate(kind, x)
    best = int(np.argmax(df))
    hits = np.flatnonzero(df == df[best])
    return ActivationCurve(kind=kind, x=x, f=f, df=df, max_df=float(df[best]),
                           argmax_df=float(x[best]), where_max=where_reached(x, hits),
                           sup=derivative_sup(kind))


@dataclass(frozen=True)
class CompoundingResult:
    """Gradient norms through ``depth`` repeated blocks, measured and predicted.

    Every array has shape (depth,) and is indexed by ``distance`` n = depth - l, the
    number of blocks between activation l and the output end: index 0 is the last
    activation (every curve is 1 there), index depth - 1 the first.
    """

    kind: str
    depth: int
    width: int
    init: InitSpec
    input_distribution: str
    input_scale: float
    samples: int
    seed: int
    distance: np.ndarray  # n = 0 .. depth-1
    layer: np.ndarray  # l = depth - n (1 is the first block)
    mean_df: np.ndarray  # mean f'(z_l) over the batch and the units
    rms_df: np.ndarray  # √mean f'(z_l)²
    weight_gain: np.ndarray  # √(fan_in · mean w²) of block l's linear layer
    measured_norm: np.ndarray  # ‖dL/da_l‖ (Frobenius over the batch)
    measured: np.ndarray  # measured_norm / the last activation's
    predicted: np.ndarray  # ∏ mean f'(z_k) over the blocks k above l
    predicted_with_weights: np.ndarray  # ∏ rms f'(z_k) · weight_gain_k over k above l
    reference: np.ndarray  # reference_factor ** n
    bound: np.ndarray  # sup f' ** n (0.25ⁿ for sigmoid)
    reference_factor: float  # 0.8
    sup_df: float
    loss: float

    @property
    def first_measured(self) -> float:
        """‖dL/da_1‖ / ‖dL/da_depth‖: what reaches the first block, measured."""
        return float(self.measured[-1])

    @property
    def first_predicted(self) -> float:
        return float(self.predicted[-1])

    @property
    def first_predicted_with_weights(self) -> float:
        return float(self.predicted_with_weights[-1])


def _from_output(factors_by_layer: np.ndarray) -> np.ndarray:
    """[1, f_depth, f_depth·f_(depth-1), …]: the product over the blocks above each l."""
    return np.concatenate([[1.0], np.cumprod(factors_by_layer[::-1])[:-1]])


def _scaled_norms(stacked: torch.Tensor) -> torch.Tensor:
    """‖·‖₂ of each tensor in ``stacked`` (tensors, …), divided by its largest |element|
    first: a 200-layer sigmoid chain's gradients of 1e-170 would square to 0."""
    flat = stacked.reshape(stacked.shape[0], -1)  # (tensors, elements)
    scale = flat.abs().amax(1)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.linalg.vector_norm(flat / safe[:, None], dim=1) * scale


def compounding(kind: str, depth: int, width: int, init: InitSpec | None = None,
                input_distribution: str = "normal", input_scale: float = 1.0,
                samples: int = 256, seed: int = 0,
                input_size: int | None = None) -> CompoundingResult:
    """One pass through ``repeated_block(input_size, width, depth, kind, init=init)``.

    Inputs are drawn from normal(0, input_scale) or uniform(-input_scale, input_scale);
    the loss is mse against zero targets (any loss would do: the curves are normalised
    to the last activation). The chain's parameters, then the inputs, are drawn from
    one ``torch.Generator`` seeded with ``seed``.

    Shape
    -----
    Every array of the result is (depth,), indexed by the distance from the output.
    """
    if depth < 1 or width < 1 or samples < 1:
        raise ValueError("depth, width and samples must be at least 1")
    if input_distribution not in INPUT_DISTRIBUTIONS:
        raise ValueError(f"unknown input distribution {input_distribution!r}")
    init = init or InitSpec()
    input_size = input_size or width
    generator = torch.Generator().manual_seed(seed)
    chain = Chain(repeated_block(input_size, width, depth, kind, init=init), "float64",
                  generator)
    if input_distribution == "normal":
        x = torch.randn((samples, input_size), generator=generator, dtype=torch.float64)
    else:
        x = torch.rand((samples, input_size), generator=generator, dtype=torch.float64) * 2 - 1
    pass_ = Pass(chain, x * input_scale, torch.zeros((samples, 1), dtype=torch.float64),
                 "mse").run()
    activation_at = [2 * block + 1 for block in range(depth)]  # linear, activation, …
    grads = torch.stack([g for i in activation_at if (g := pass_.grad_outputs[i]) is not None])
    norms = _scaled_norms(grads).numpy()[::-1].copy()  # by distance from the output
    locals_ = torch.stack([b.local for i in activation_at
                           if (b := pass_.backwards[i]) is not None and b.local is not None])
    mean_df = locals_.mean((1, 2)).numpy().copy()  # (depth,) by layer
    rms_df = locals_.square().mean((1, 2)).sqrt().numpy().copy()
    weights = [layer.params["weight"] for layer in chain.layers[0:2 * depth:2]
               if isinstance(layer, Linear)]
    gain = np.array([float((w.shape[1] * w.square().mean()).sqrt()) for w in weights])
    sup = derivative_sup(kind).value
    distance = np.arange(depth)
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = norms / norms[0] if norms[0] > 0 else np.full(depth, np.nan)
    # block k's factor (k ≥ 2) is its own f' and its own linear layer's gain
    return CompoundingResult(
        kind=kind, depth=depth, width=width, init=init,
        input_distribution=input_distribution, input_scale=input_scale, samples=samples,
        seed=seed, distance=distance, layer=depth - distance,
        mean_df=mean_df[::-1].copy(), rms_df=rms_df[::-1].copy(),
        weight_gain=gain[::-1].copy(), measured_norm=norms, measured=measured,
        predicted=_from_output(mean_df),
        predicted_with_weights=_from_output(rms_df * gain),
        reference=REFERENCE_FACTOR ** distance.astype(float),
        bound=sup ** distance.astype(float), reference_factor=REFERENCE_FACTOR, sup_df=sup,
        loss=float(pass_.loss or 0.0))


@dataclass(frozen=True)
class TraceStep:
    """One linear → activation block of a chain evaluated at one input."""

    z: float  # pre-activation
    a: float  # f(z)
    df: float  # f'(z)


@dataclass(frozen=True)
class ChainRuleFacts:
    """The numbers the lab's explanation quotes, computed by the engine."""

    n: int
    reference_factor: float  # 0.8
    reference_power: float  # 0.8ⁿ
    sigmoid_sup: DerivativeSup
    sigmoid_power: float  # 0.25ⁿ
    tanh_sup: DerivativeSup
    relu_sup: DerivativeSup
    seed_input: float
    seed_trace: tuple[TraceStep, ...]  # the seed chain (w = b = 0.3, tanh) at seed_input


def seed_trace(x: float = 10.0) -> tuple[TraceStep, ...]:
    """z, tanh(z) and tanh'(z) of each block of the seed chain at input ``x``.

    At x = 10: z₁ = 0.3·10 + 0.3 = 3.3, tanh(3.3) = 0.99728 (saturated, f' ≈ 0.0054),
    z₂ = 0.3·0.99728… + 0.3 = 0.59918, tanh(0.59918) = 0.53647.
    """
    chain = Chain(seed_example(), "float64", torch.Generator().manual_seed(0))
    inputs = torch.tensor([[x]], dtype=torch.float64)
    pass_ = Pass(chain, inputs, torch.zeros((1, 1), dtype=torch.float64), "mse").run()
    steps = []
    for index in range(1, len(chain.layers), 2):
        backward, z, a = pass_.backwards[index], pass_.outputs[index - 1], pass_.outputs[index]
        local = None if backward is None else backward.local
        assert local is not None
        assert z is not None
        assert a is not None
        steps.append(TraceStep(z=float(z[0, 0]), a=float(a[0, 0]), df=float(local[0, 0])))
    return tuple(steps)


def chain_rule_facts(n: int = 5, seed_input: float = 10.0) -> ChainRuleFacts:
    """The reference numbers of the lab's explanation for ``n`` layers."""
    sigmoid = derivative_sup("sigmoid")
    return ChainRuleFacts(
        n=n, reference_factor=REFERENCE_FACTOR, reference_power=REFERENCE_FACTOR ** n,
        sigmoid_sup=sigmoid, sigmoid_power=sigmoid.value ** n,
        tanh_sup=derivative_sup("tanh"), relu_sup=derivative_sup("relu"),
        seed_input=seed_input, seed_trace=seed_trace(seed_input))
