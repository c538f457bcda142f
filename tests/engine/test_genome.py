"""The 4-bit log codec: every code, round trips, the tie rule, the genome layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec, NormSpec
from engine.evolution.genome import (
    GenomeLayout,
    chain_genome,
    code_table,
    decode,
    genome_hex,
    load_genome,
    quantise,
)


def test_every_code() -> None:
    expected = {}
    for code in range(16):
        sign, exponent = code >> 3, code & 7
        expected[code] = 0.0 if exponent == 7 else (-1) ** sign * 2.0 ** -exponent
    assert code_table().tolist() == [expected[c] for c in range(16)]
    assert len(set(code_table().tolist())) == 15  # +0 and −0 compare equal
    assert torch.signbit(code_table()[15])
    assert not torch.signbit(code_table()[7])


@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
def test_codes_round_trip(alpha: float) -> None:
    codes = torch.arange(16, dtype=torch.uint8)
    assert torch.equal(quantise(decode(codes, alpha, torch.float64), alpha), codes)
    assert torch.equal(quantise(decode(codes, alpha, torch.float32), alpha), codes)


def test_ties_go_to_the_smaller_magnitude_and_large_values_clip() -> None:
    values = torch.tensor([0.75, -0.75, 1.5 / 64, 0.5 / 64, 0.51 / 64, 7.0, -7.0, 0.0, -0.0],
                          dtype=torch.float64)
    got = decode(quantise(values), 1.0, torch.float64).tolist()
    assert got[:7] == [0.5, -0.5, 1 / 64, 0.0, 1 / 64, 1.0, -1.0]
    assert quantise(values)[7] == 7
    assert quantise(values)[8] == 15


@settings(max_examples=300, deadline=None)
@given(st.floats(-4, 4, allow_nan=False), st.sampled_from([0.25, 1.0, 2.0]))
def test_quantise_picks_a_nearest_level(value: float, alpha: float) -> None:
    code = quantise(torch.tensor([value], dtype=torch.float64), alpha)
    chosen = float(decode(code, alpha, torch.float64))
    levels = (code_table(torch.float64) * alpha).tolist()
    best = min(abs(value - level) for level in levels)
    assert abs(value - chosen) == pytest.approx(best, abs=1e-15)


def small_chain() -> Chain:
    spec = NetworkSpec(input_size=3, layers=[
        LinearSpec(out_features=4), NormSpec(kind="layer"), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=2)])
    return Chain(spec, "float32", torch.Generator().manual_seed(0))


def test_layout_is_weights_then_bias_row_major_in_layer_order() -> None:
    chain = small_chain()
    layout = GenomeLayout.of(chain)
    assert layout.layers == (0, 3)
    assert layout.size == 3 * 4 + 4 + 4 * 2 + 2
    genome = torch.arange(layout.size).reshape(1, -1)
    weight, bias = layout.slices(genome, 1)
    assert weight[0].tolist() == [[16, 17, 18, 19], [20, 21, 22, 23]]
    assert bias[0].tolist() == [24, 25]


def test_quantised_chain_round_trip_and_hex() -> None:
    chain = small_chain()
    genome = chain_genome(chain, [1.0, 0.5])
    load_genome(chain, genome, [1.0, 0.5])
    assert torch.equal(chain_genome(chain, [1.0, 0.5]), genome)
    text = genome_hex(genome)
    assert len(text) == genome.numel()
    assert bytes.fromhex("".join("0" + c for c in text)) == bytes(genome.tolist())
    weight = chain.layers[0].params["weight"]
    allowed = set(code_table(torch.float32).tolist())
    assert set(np.unique(weight.numpy()).tolist()) <= allowed
