"""How a population evaluation is laid out, decided once per architecture.

The evaluator keeps activations feature-major, (individuals, features, samples), so that a
linear layer is one batched product of the individuals' weights as the genome stores them,
(out, in) row-major, with the activations: decoding a genome is one table lookup, with no
reordering.

The first linear layer, whose input every individual shares, is looked up rather than
computed when its input is narrow. Each of its units has one of 16^(in + 1) (weights,
bias) code combinations, so f(w·x + b) for every combination on every sample is a small
table computed once, and the layer with its activation becomes a gather of table rows:
for the 2-input networks of the Playground datasets, 4 096 rows replace a product and a
tanh over the whole population.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from engine.core import activations
from engine.core.chain import Chain
from engine.core.layers import Activation, Layer, Linear
from engine.core.residual import Residual
from engine.evolution.genome import CODES, GenomeLayout, code_table

# The first layer is looked up when its table stays small: 16^(in + 1) rows (in ≤ 2), and
# at most this many values in all.
TABLE_MAX_ROWS = CODES ** 3
TABLE_MAX_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class LinearStep:
    """A linear layer as a batched product. Its weight (out, in) and bias (out) are at
    ``weight_at`` and ``bias_at`` in the decoded values."""

    out_features: int
    in_features: int
    weight_at: int
    bias_at: int
    alpha: float


@dataclass(frozen=True)
class TableStep:
    """The first linear layer and the activation after it (if any) as a table gather.

    Row r of ``table`` (16^(in + 1), samples) holds f(w·x + b) on every sample for the
    codes whose base-16 digits make r: the unit's weights in order, then its bias.
    ``weight_at`` and ``bias_at`` are genome positions.
    """

    out_features: int
    in_features: int
    weight_at: int
    bias_at: int
    powers: torch.Tensor  # (in,) the weight digits' place values; the bias digit's is 1
    table: torch.Tensor


@dataclass(frozen=True)
class ResidualStep:
    """A residual block: its input plus its steps applied to that input."""

    steps: tuple[Step, ...]


Step = LinearStep | TableStep | Layer | ResidualStep


def linear_steps(steps: Iterable[Step]) -> Iterator[LinearStep | TableStep]:
    """The product and table steps, residual blocks' included, in evaluation order."""
    for step in steps:
        if isinstance(step, ResidualStep):
            yield from linear_steps(step.steps)
        elif isinstance(step, LinearStep | TableStep):
            yield step


@dataclass(frozen=True)
class EvaluationPlan:
    """The steps after the layers that act on the shared data alone, and what decoding
    needs: the genome's codes from ``decode_from`` on become values through
    ``code_values``, and each product step scales its own by α."""

    steps: list[Step]  # from the first layer holding a linear one on
    decode_from: int  # genome position of the first parameter a product needs
    code_values: torch.Tensor  # (16,) the value of each code at α = 1


def plan_evaluation(chain: Chain, scales: list[float], shared_input: torch.Tensor,
                    look_up_first_layer: bool = True) -> EvaluationPlan:
    """Lay out the evaluation of ``chain``'s genomes (on ``shared_input``'s device).

    With ``look_up_first_layer`` the first linear layer becomes a table gather where its
    table is small enough (and it is not inside a residual block).

    Shape: ``shared_input`` is (in_features, samples), the data after the layers before
    the first linear one.
    """
    layout = GenomeLayout.of(chain)
    layers = chain.layers
    first = layout.layers[0] if layout.layers else len(layers)
    steps: list[Step] = []
    decode_from = 0
    numbers = iter(range(len(layout.shapes)))  # linear layers in genome order
    index = first
    if index < len(layers) and isinstance(layers[index], Linear):
        out_features, in_features = layout.shapes[0]
        if look_up_first_layer and _table_fits(in_features, shared_input.shape[1]):
            following = layers[index + 1] if index + 1 < len(layers) else None
            activation = following.kind if isinstance(following, Activation) else None
            steps.append(_table_step(out_features, in_features, layout.offsets[0],
                                     activation, shared_input, scales[0]))
            decode_from = layout.offsets[0] + out_features * in_features + out_features
            next(numbers)
            index += 2 if activation else 1
    steps += _steps(layers[index:], numbers, layout, scales, decode_from)
    # α scales the decoded values afterwards: the codes' values are powers of two, so
    # that product is exact
    return EvaluationPlan(steps, decode_from,
                          code_table(chain.dtype).to(shared_input.device))


def _steps(layers: Iterable[Layer], numbers: Iterator[int], layout: GenomeLayout,
           scales: list[float], decode_from: int) -> list[Step]:
    steps: list[Step] = []
    for layer in layers:
        if isinstance(layer, Residual):
            steps.append(ResidualStep(tuple(_steps(layer.layers, numbers, layout, scales,
                                                   decode_from))))
        elif isinstance(layer, Linear):
            number = next(numbers)
            out_features, in_features = layout.shapes[number]
            weight_at = layout.offsets[number]
            bias_at = weight_at + out_features * in_features
            steps.append(LinearStep(out_features, in_features, weight_at - decode_from,
                                    bias_at - decode_from, scales[number]))
        else:
            steps.append(layer)
    return steps


def _table_fits(in_features: int, samples: int) -> bool:
    rows = CODES ** (in_features + 1)
    return rows <= TABLE_MAX_ROWS and rows * samples <= TABLE_MAX_ELEMENTS


def _table_step(out_features: int, in_features: int, weight_at: int, activation: str | None,
                shared_input: torch.Tensor, alpha: float) -> TableStep:
    rows = CODES ** (in_features + 1)
    powers = CODES ** torch.arange(in_features, -1, -1, device=shared_input.device)
    digits = torch.arange(rows, device=shared_input.device)[:, None] // powers % CODES
    values = code_table(torch.float64).mul(alpha).to(shared_input)[digits]  # (rows, in + 1)
    # the product the ordinary forward pass makes, bias + x @ Wᵀ, for every row at once
    z = torch.addmm(values[:, in_features], shared_input.T, values[:, :in_features].T)
    z = z.T.contiguous()  # (rows, samples)
    table = activations.activate(activation, z) if activation else z
    return TableStep(out_features, in_features, weight_at,
                     weight_at + out_features * in_features, powers[:-1].int(), table)
