"""``main.py run`` on sessions with residual blocks: step, train and evolve, and the errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import NetworkSpec
from tests.engine.helpers import torch_twin
from tests.test_cli import run_cli

NETWORK = {"input_size": 2, "layers": [
    {"type": "linear", "out_features": 4},
    {"type": "residual", "layers": [
        {"type": "norm", "kind": "batch"}, {"type": "linear", "out_features": 4},
        {"type": "activation", "kind": "tanh"}]},
    {"type": "residual", "layers": [
        {"type": "linear", "out_features": 6}, {"type": "activation", "kind": "relu"},
        {"type": "linear", "out_features": 4}]},
    {"type": "linear", "out_features": 1}]}


def session(task: dict[str, Any]) -> dict[str, Any]:
    return {"format": "chainlab/1", "seed": 3, "dtype": "float64", "network": NETWORK,
            "data": {"dataset": "circle", "samples": 24}, "loss": "bce_with_logits",
            "task": task}


def test_step_lists_a_block_as_one_layer_with_its_layers(tmp_path: Path) -> None:
    result = run_cli(tmp_path, session({"kind": "step"}), "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    layers = data["layers"]
    assert [(e["index"], e["type"], e["kind"]) for e in layers] == [
        (0, "linear", "linear"), (1, "residual", "residual"), (2, "residual", "residual"),
        (3, "linear", "linear")]
    block = layers[2]
    assert {"grad_body.0.weight", "grad_body.0.bias", "grad_body.2.weight",
            "grad_body.2.bias"} <= set(block)
    assert [e["kind"] for e in block["layers"]] == ["linear", "relu", "linear"]
    assert "stats" not in block["layers"][0]
    assert block["stats"]["grad_weight_l2"] is not None
    # the block's values against a torch twin of the chain the session describes
    chain = Chain(NetworkSpec.model_validate(NETWORK), "float64",
                  torch.Generator().manual_seed(3))
    inputs = torch.tensor(data["layers"][0]["output"], dtype=torch.float64)
    assert inputs.shape == (24, 4)
    model = torch_twin(chain)
    h = model[1](inputs)
    h = model[2](h)
    torch.testing.assert_close(torch.tensor(block["output"], dtype=torch.float64),
                               h.detach(), rtol=1e-12, atol=1e-14)


def test_train_history_counts_the_blocks_linear_layers(tmp_path: Path) -> None:
    task = {"kind": "train", "lr": 0.1, "momentum": 0.9, "steps": 20, "batch_size": 8}
    result = run_cli(tmp_path, session(task), "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    history = data["history"]
    assert history["linear_layers"] == [0, "1.body.1", "2.body.0", "2.body.2", 3]
    assert len(history["update_ratio"][0]) == len(history["weight_norm"][0]) == 5
    header = (tmp_path / "out" / "history.csv").read_text().splitlines()[0].split(",")
    assert "update_ratio_2.body.0" in header
    assert "weight_norm_1.body.1" in header
    assert data["training_stopped"] is None
    # the network written back is the trained one: reopening it gives the final loss
    network = NetworkSpec.model_validate(data["network"])
    block = network.layers[1]
    assert block.type == "residual"
    chain = Chain(network, "float64", torch.Generator())
    assert len(chain.buffers()) == 2
    names = {n for n, _ in chain.parameters()}
    assert {"1.body.0.weight", "2.body.2.bias"} <= names


def test_evolve_runs_on_residual_blocks(tmp_path: Path) -> None:
    task = {"kind": "evolve", "population": 16, "generations": 3, "scales": 0.5}
    result = run_cli(tmp_path, session(task), "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    # weights and biases of 2→4, 4→4 (block 1), 4→6 and 6→4 (block 2), 4→1
    assert len(data["genome"]) == 12 + 20 + 30 + 28 + 5
    assert len(data["history"]["best"]) == 4


@pytest.mark.parametrize(("layers", "path", "message"), [
    ([{"type": "residual", "layers": [{"type": "linear", "out_features": 3}]}],
     "network.layers.0.layers", "must end at the width it starts with (2), its layers end at 3"),
    ([{"type": "linear", "out_features": 4}, {"type": "residual", "layers": []}],
     "network.layers.1.layers", "a residual block needs at least one layer"),
    ([{"type": "residual", "layers": [{"type": "linear", "out_features": 0}]}],
     "network.layers.0.layers.0.out_features", "greater than 0"),
])
def test_bad_blocks_are_one_clear_line(tmp_path: Path, layers: list, path: str,
                                       message: str) -> None:
    bad = session({"kind": "step"})
    bad["network"] = {"input_size": 2, "layers": layers}
    result = run_cli(tmp_path, bad)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{path}: " in lines[0]
    assert message in lines[0]
