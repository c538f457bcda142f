"""The builder's whole-chain edits (engine/core/spec_edits.py), residual blocks included."""

from __future__ import annotations

from engine.core.spec_edits import chain_norm_kind, with_activation, with_block_norms
from engine.core.specs import NetworkSpec

RESIDUAL = NetworkSpec.model_validate({"input_size": 2, "layers": [
    {"type": "linear", "out_features": 4}, {"type": "norm", "kind": "layer"},
    {"type": "activation", "kind": "tanh"},
    {"type": "residual", "layers": [{"type": "linear", "out_features": 4},
                                    {"type": "activation", "kind": "relu"}]},
    {"type": "linear", "out_features": 1}]})


def test_whole_chain_edits_reach_inside_residual_blocks() -> None:
    layers = with_activation(list(RESIDUAL.layers), "sigmoid")
    kinds = [spec.kind for spec in (layers[2], layers[3].layers[1])]
    assert kinds == ["sigmoid", "sigmoid"]
    normed = NetworkSpec(input_size=2, layers=with_block_norms(layers, "rms"))
    assert [spec.type for spec in normed.layers] == ["linear", "activation", "residual",
                                                      "linear"]  # the post-norm went
    assert normed.layers[2].layers[0].kind == "rms"  # pre-norm, first in the block
    assert chain_norm_kind(normed) == "rms"
    assert chain_norm_kind(NetworkSpec(input_size=2, layers=with_block_norms(layers, None))) \
        == "none"
    assert chain_norm_kind(RESIDUAL) == "layer"
    mixed = NetworkSpec(input_size=2, layers=[*RESIDUAL.layers[:3],
                                              *with_block_norms(RESIDUAL.layers[3:], "batch")])
    assert chain_norm_kind(mixed) is None
