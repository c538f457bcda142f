"""The GA's batched evaluator and genome codec on chains with residual blocks, checked
against the ordinary forward pass of each decoded individual."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.layers import BatchTooSmallError
from engine.core.losses import LOSSES
from engine.core.specs import (
    ActivationSpec,
    LinearSpec,
    NetworkSpec,
    NormSpec,
    ResidualSpec,
    repeated_block,
)
from engine.core.stepper import Pass
from engine.evolution.genome import GenomeLayout, chain_genome, load_genome
from engine.evolution.population import PopulationEvaluator
from engine.evolution.population_plan import ResidualStep, TableStep
from tests.engine.helpers import random_batch, random_residual_spec


def ordinary_losses(chain: Chain, genomes: torch.Tensor, scales: list[float],
                    x: torch.Tensor, y: torch.Tensor, loss: str) -> list[float]:
    losses = []
    for genome in genomes:
        load_genome(chain, genome, scales)
        value = Pass(chain, x, y, loss).run().loss
        assert value is not None
        losses.append(float(value))
    return losses


def check(chain: Chain, x: torch.Tensor, y: torch.Tensor, loss: str, seed: int,
          look_up: bool = True) -> PopulationEvaluator:
    layout = GenomeLayout.of(chain)
    scales = [0.5 + (k % 3) * 0.5 for k in range(len(layout.shapes))]
    evaluator = PopulationEvaluator(chain, x, y, loss, scales, torch.device("cpu"),
                                    look_up_first_layer=look_up)
    genomes = torch.randint(0, 16, (9, layout.size), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(seed))
    batched = evaluator.losses(genomes).tolist()
    expected = ordinary_losses(chain, genomes, scales, x, y, loss)
    rel = 1e-9 if chain.dtype == torch.float64 else 1e-4
    assert batched == pytest.approx(expected, rel=rel, abs=1e-12, nan_ok=True)
    return evaluator


@pytest.mark.parametrize("seed", range(30))
def test_random_residual_chains_evaluate_as_the_forward_pass(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    loss = LOSSES[seed % len(LOSSES)]
    chain = Chain(random_residual_spec(rng, 12), "float64", torch.Generator().manual_seed(seed))
    x, y = random_batch(rng, chain, loss, 12)
    check(chain, x, y, loss, seed, look_up=bool(seed % 2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm", [None, "batch", "layer"])
@pytest.mark.parametrize("placement", ["pre", "post"])
def test_repeated_blocks_after_a_looked_up_projection(dtype: str, norm: str | None,
                                                      placement: str) -> None:
    spec = repeated_block(2, 4, 3, "tanh", norm=norm, residual=True,
                          norm_placement="post" if placement == "post" else "pre")
    chain = Chain(spec, dtype, torch.Generator().manual_seed(0))
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(1)).to(chain.dtype)
    y = torch.randn(20, 1, generator=torch.Generator().manual_seed(2)).to(chain.dtype)
    evaluator = check(chain, x, y, "mse", 3)
    assert isinstance(evaluator.plan.steps[0], TableStep)  # the 2-input projection
    assert isinstance(evaluator.plan.steps[1], ResidualStep)


@pytest.mark.parametrize("layers", [
    # a block first, whose first layer acts in place on the shared input
    [ResidualSpec(layers=[ActivationSpec(kind="tanh"), LinearSpec(out_features=2)]),
     LinearSpec(out_features=1)],
    # a parameter-free block among the layers before the first linear one
    [ResidualSpec(layers=[ActivationSpec(kind="sigmoid")]), NormSpec(kind="layer"),
     LinearSpec(out_features=3), ResidualSpec(layers=[LinearSpec(out_features=3),
                                                      ActivationSpec(kind="relu")]),
     LinearSpec(out_features=1)],
    # nested blocks, the inner one starting with a block of its own
    [LinearSpec(out_features=3), ResidualSpec(layers=[
        ResidualSpec(layers=[ActivationSpec(kind="tanh"),
                             ResidualSpec(layers=[LinearSpec(out_features=3)])]),
        LinearSpec(out_features=5), ActivationSpec(kind="elu"), LinearSpec(out_features=3)]),
     ActivationSpec(kind="tanh"), LinearSpec(out_features=1)],
])
def test_blocks_keep_their_input_for_the_skip(layers: list) -> None:
    chain = Chain(NetworkSpec(input_size=2, layers=layers), "float64",
                  torch.Generator().manual_seed(0))
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_before = x.clone()
    y = torch.randn(16, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for look_up in (True, False):
        check(chain, x, y, "mse", 4, look_up)
    assert torch.equal(x, x_before)


def test_the_genome_covers_every_linear_parameter_inside_blocks() -> None:
    spec = repeated_block(2, 3, 2, "tanh", norm="layer", residual=True)
    chain = Chain(spec, "float64", torch.Generator().manual_seed(0))
    layout = GenomeLayout.of(chain)
    linear = sum(t.numel() for name, t in chain.parameters()
                 if not name.endswith(("body.0.weight", "body.0.bias")))  # not the norms
    assert layout.size == linear == 9 + 2 * 12 + 4
    assert layout.layers == (0, 1, 2, 3)
    assert layout.paths == ("0", "1.body.1", "2.body.1", "3")
    scales = [1.0, 0.5, 0.25, 2.0]
    genome = torch.randint(0, 16, (layout.size,), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(1))
    load_genome(chain, genome, scales)
    assert torch.equal(chain_genome(chain, scales), genome)
    # the block's weights come from their own stretch of the genome
    weight, _ = layout.slices(genome.reshape(1, -1), 1)
    codes = genome[9:18].reshape(3, 3)  # after the projection's 6 weights and 3 biases
    assert torch.equal(weight[0], codes)
    # by hand: sign bit 8, exponent e in bits 0-2, value ±α·2^-e (e = 7: zero), α = 0.5
    expected = [[0.0 if c & 7 == 7 else (-1.0 if c & 8 else 1.0) * 0.5 * 2.0 ** -(c & 7)
                 for c in row] for row in codes.tolist()]
    assert chain.layers[1].params["body.1.weight"].tolist() == expected


@pytest.mark.parametrize("residual", [False, True])
def test_batch_norm_on_one_sample_is_refused_as_the_ordinary_pass_refuses_it(
        residual: bool) -> None:
    spec = repeated_block(2, 4, 2, "tanh", norm="batch", residual=residual)
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    one = torch.zeros(1, 2), torch.zeros(1, 1)
    scales = [1.0] * len(GenomeLayout.of(chain).layers)
    with pytest.raises(BatchTooSmallError):
        Pass(chain, *one, "mse").run()
    with pytest.raises(BatchTooSmallError, match="the whole data as one batch, and it has 1"):
        PopulationEvaluator(chain, *one, "mse", scales, torch.device("cpu"))
    two = torch.zeros(2, 2), torch.zeros(2, 1)
    PopulationEvaluator(chain, *two, "mse", scales, torch.device("cpu"))  # fine
