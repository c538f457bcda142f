"""``main.py run`` with an evolve task: the result contract and bad values."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import NetworkSpec
from engine.core.stepper import Pass
from tests.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
SESSION = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
SESSION["data"]["samples"] = 64
SESSION["task"].update(population=30, generations=12)


def test_evolve_result(tmp_path: Path) -> None:
    result = run_cli(tmp_path, SESSION)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert {"result.json", "history.csv", "evolution_loss.png", "diversity.png",
            "decision_boundary.png"} <= {p.name for p in out.iterdir()}
    data = json.loads((out / "result.json").read_text())
    history = data["history"]
    for key in ("best", "mean", "worst", "diversity", "seconds"):
        assert len(history[key]) == 13, key
    best = history["best"]
    assert all(b <= a for a, b in itertools.pairwise(best))
    assert all(s2 >= s1 for s1, s2 in zip(history["seconds"], history["seconds"][1:],
                                           strict=False))
    genome = data["genome"]
    assert len(genome) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert set(genome) <= set("0123456789abcdef")
    network = NetworkSpec.model_validate(data["network"])
    chain = Chain(network, "float32", torch.Generator())
    from engine.core.losses import prepare_targets
    from engine.data.datasets import make_dataset

    dataset = make_dataset("spiral", 64, 0.0, seed=0)
    x = torch.tensor(dataset.inputs, dtype=torch.float32)
    y = prepare_targets("bce_with_logits", torch.tensor(
        dataset.targets_for("bce_with_logits"), dtype=torch.float32), 1)
    loss = float(Pass(chain, x, y, "bce_with_logits").run().loss)
    assert data["loss"] == pytest.approx(loss, rel=1e-6)
    assert data["loss"] == pytest.approx(best[-1], rel=1e-5)
    from engine.evolution import fused  # the spiral's tanh chain takes the C kernel
    assert data["evaluation"] == f"fused C kernel ({fused.instruction_set()})"
    values = {v for layer in network.layers if layer.type == "linear"
              for row in layer.weight for v in row}
    assert values <= {0.0, *(s * 2.0**-e for s in (1, -1) for e in range(7))}


def test_evolve_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        assert run_cli(tmp_path / name, SESSION).returncode == 0
    a = json.loads((tmp_path / "a" / "out" / "result.json").read_text())
    b = json.loads((tmp_path / "b" / "out" / "result.json").read_text())
    assert a["history"]["best"] == b["history"]["best"]
    assert a["history"]["diversity"] == b["history"]["diversity"]
    assert a["genome"] == b["genome"]


def with_task(**changes: Any) -> dict[str, Any]:
    session = copy.deepcopy(SESSION)
    session["task"].update(changes)
    return session


@pytest.mark.parametrize(("changes", "expected"), [
    ({"population": 2, "elite": 2}, "task.population: must be at least elite + 1"),
    ({"elite": -1}, "task.elite"),
    ({"mutation_rate": 1.5}, "task.mutation_rate"),
    ({"mutation_rate": -0.1}, "task.mutation_rate"),
    ({"selection": "roulette"}, "task.selection"),
    ({"generations": 0}, "task.generations"),
    ({"scales": [1.0, 2.0]}, "task.scales: expected one scale per linear layer (3)"),
    ({"tournament_size": 99}, "task.tournament_size"),
])
def test_bad_evolve_values(tmp_path: Path, changes: dict[str, Any], expected: str) -> None:
    result = run_cli(tmp_path, with_task(**changes))
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("task", [{}, {"islands": 2}, {"algorithm": "openes"},
                                  {"algorithm": "pso"}])
def test_a_network_without_linear_layers_has_nothing_to_evolve(
        tmp_path: Path, task: dict[str, Any]) -> None:
    """An empty genome: the GA looped over nothing (exit 0, an all-NaN plot warning),
    OpenES ended in a traceback."""
    session = with_task(**task)
    session["network"] = {"input_size": 1, "layers": [{"type": "activation", "kind": "tanh"}]}
    session["data"] = {"dataset": "sin", "samples": 20}
    session["loss"] = "mse"
    session["task"]["scales"] = 1.0
    result = run_cli(tmp_path, session)
    assert result.returncode == 2, result.stderr
    assert "network.layers: the network has no linear layer: there are no weights to " \
        "evolve" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
