"""``main.py run`` with an evolve task whose algorithm is openes or pso: the result
contract and bad values."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.chain import Chain
from engine.core.losses import prepare_targets
from engine.core.specs import NetworkSpec
from engine.data.datasets import make_dataset
from engine.data.session import parse_session
from engine.headless.runner import run_session
from tests.engine.helpers import torch_loss, torch_twin
from tests.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
SESSION = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
SESSION["data"]["samples"] = 64
SESSION["task"].update(population=20, generations=10)


def with_task(**changes: Any) -> dict[str, Any]:
    session = copy.deepcopy(SESSION)
    session["task"].update(changes)
    return session


def network_loss(network: NetworkSpec) -> float:
    """The loss of the written network, recomputed by a torch.nn twin."""
    chain = Chain(network, "float32", torch.Generator())
    dataset = make_dataset("spiral", 64, 0.0, seed=0)
    x = torch.tensor(dataset.inputs, dtype=torch.float32)
    y = prepare_targets("bce_with_logits", torch.tensor(
        dataset.targets_for("bce_with_logits"), dtype=torch.float32), 1)
    with torch.no_grad():
        return float(torch_loss("bce_with_logits", torch_twin(chain)(x), y))


@pytest.mark.parametrize("algorithm", ["openes", "pso"])
def test_strategy_result(tmp_path: Path, algorithm: str) -> None:
    result = run_cli(tmp_path, with_task(algorithm=algorithm))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    assert {"result.json", "history.csv", "evolution_loss.png", "decision_boundary.png"} \
        <= names
    assert "diversity.png" not in names
    data = json.loads((out / "result.json").read_text())
    assert data["task"] == "evolve"
    assert data["algorithm"] == algorithm
    assert "genome" not in data
    assert "diversity" not in data["history"]
    assert data["generations_done"] == 10
    history = data["history"]
    assert history["generation"] == list(range(11))
    for key in ("best", "generation_best", "mean", "worst", "seconds"):
        assert len(history[key]) == 11, key
    assert ("center" in history) == (algorithm == "openes")
    best = history["best"]
    assert all(b <= a for a, b in itertools.pairwise(best))
    assert best[-1] < best[0]
    assert data["settings"] == SESSION["task"].get(algorithm, data["settings"])
    network = NetworkSpec.model_validate(data["network"])
    assert data["loss"] == pytest.approx(network_loss(network), rel=1e-5)
    assert data["loss"] == pytest.approx(best[-1], rel=1e-5)
    # float weights, not the 4-bit grid
    grid = {0.0, *(s * 2.0**-e for s in (1, -1) for e in range(7))}
    weights = {v for layer in network.layers if layer.type == "linear"
               for row in layer.weight for v in row}
    assert not weights <= grid
    assert data["quantised_loss"] > 0
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["generation", "best", "generation_best"]
    assert ("center" in header) == (algorithm == "openes")


def test_bad_strategy_value(tmp_path: Path) -> None:
    """The CLI's side (same seed, same history and every refused field are checked in
    tests/engine/test_strategies.py, without a process each)."""
    result = run_cli(tmp_path, with_task(algorithm="openes", population=21))
    assert result.returncode == 2
    assert "task.population: OpenES evaluates" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("algorithm", ["openes", "pso"])
def test_a_stopped_run_keeps_what_it_found(algorithm: str) -> None:
    """In process: a run told to stop after generation 3 says so, and its network is the
    best found by then."""
    session = parse_session(json.dumps(with_task(algorithm=algorithm, generations=50)))
    seen: list[int] = []
    output = run_session(session, progress=lambda done, total: seen.append(done),
                         should_stop=lambda: len(seen) > 3)
    result = output.result
    assert result["interrupted"] is True
    assert result["generations_done"] == 3
    assert seen == [0, 1, 2, 3]
    assert result["history"]["generation"] == [0, 1, 2, 3]
    assert result["loss"] == pytest.approx(result["history"]["best"][-1], rel=1e-5)
    assert [plot.name for plot in output.plots][:1] == ["evolution_loss"]
