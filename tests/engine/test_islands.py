"""Island-model evolution: one island is the plain GA, seeded runs repeat, worker
processes give the same history, migration moves the best into the next island's worst
slots, bad settings name their field, and ``main.py run`` writes the per-island history."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec
from engine.data.session import SessionError, parse_session
from engine.data.tasks import EvolveTask
from engine.evolution import population
from engine.evolution.chunk_pool import ChunkPool
from engine.evolution.ga import GenerationStats
from engine.evolution.islands import (
    Island,
    IslandGeneration,
    IslandPlan,
    advance,
    evolve_islands,
    island_plan,
)
from engine.evolution.population import PopulationEvaluator
from engine.evolution.setup import prepare_evolution

ROOT = Path(__file__).resolve().parents[2]
SESSION = json.loads((ROOT / "examples" / "spiral_evolve.json").read_text())
SESSION["data"]["samples"] = 64


def spiral_chain() -> tuple[Chain, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=generator)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=6), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    return Chain(spec, "float32", torch.Generator().manual_seed(1)), x, y


def plan(**changes: Any) -> IslandPlan:
    chain, x, y = spiral_chain()
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0, 1.0],
                                    torch.device("cpu"))
    settings = {"population": 24, "generations": 9, **changes}
    return IslandPlan(evaluator, EvolveTask.model_validate(settings), 11, None)


def same_stats(a: GenerationStats, b: GenerationStats) -> bool:
    """Every field but the wall time, bit for bit."""
    for field in fields(GenerationStats):
        if field.name == "seconds":
            continue
        left, right = getattr(a, field.name), getattr(b, field.name)
        if field.name == "lineage":
            if (left is None) != (right is None):
                return False
            if left is not None and not all(
                    np.array_equal(getattr(left, f.name), getattr(right, f.name))
                    for f in fields(left)):
                return False
        elif not np.array_equal(left, right):
            return False
    return True


def same_history(a: list[IslandGeneration], b: list[IslandGeneration]) -> bool:
    return len(a) == len(b) and all(
        len(x.islands) == len(y.islands) and x.best_island == y.best_island
        and all(same_stats(s, t) for s, t in zip(x.islands, y.islands, strict=True))
        for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("seed_from_network", [False, True])
def test_one_island_is_the_plain_ga(seed_from_network: bool) -> None:
    chain, x, y = spiral_chain()
    task = EvolveTask(population=24, generations=9, seed_from_network=seed_from_network,
                      migration={"every": 1, "count": 3})  # type: ignore[arg-type]
    setup = prepare_evolution(chain, x, y, "bce_with_logits", task, 11)
    plain = list(setup.generations())
    islands = list(evolve_islands(island_plan(setup), 1, 1, 3))
    assert len(plain) == len(islands) == 10
    for single, record in zip(plain, islands, strict=True):
        assert same_stats(single, record.islands[0])
        assert record.best == single.best


def test_seeded_runs_repeat_and_islands_differ() -> None:
    first = list(evolve_islands(plan(), 3, 2, 2))
    again = list(evolve_islands(plan(), 3, 2, 2))
    assert same_history(first, again)
    start = first[0].islands
    assert not np.array_equal(start[0].sample, start[1].sample)
    assert not np.array_equal(start[1].sample, start[2].sample)
    base = plan()
    other = list(evolve_islands(IslandPlan(base.evaluator, base.task, 12, None), 3, 2, 2))
    assert not same_history(first, other)


@pytest.mark.parametrize("evaluation", ["fused", "torch"])
@pytest.mark.parametrize("piece", [None, 5])
def test_worker_processes_give_the_same_history(evaluation: str, piece: int | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With pieces of 5, this process evaluates them on the chunk pool's workers and the
    one-thread worker processes on their own thread: the torch evaluation in the same
    pieces (the chunk travels with the evaluator), the fused kernel in pieces of its own
    size there (it evaluates each individual alone): the same bits either way."""
    def planned() -> IslandPlan:
        made = plan()
        if evaluation == "torch":
            made.evaluator.fused = None
        if piece is not None:
            made.evaluator.chunk = piece
        return made

    assert plan().evaluator.fused is not None  # the float32 tanh chain takes the kernel
    if piece is not None:
        monkeypatch.setattr(population, "FUSED_PIECE", piece)
    pooled: list[int] = []
    pool, real = ChunkPool(2), population.shared_pool
    monkeypatch.setattr(population, "shared_pool",
                        lambda: pooled.append(1) or pool if piece else real())
    # 3 islands on 2 workers: one worker holds two islands; migration every 4 of 9
    here = list(evolve_islands(planned(), 3, 4, 2))
    there = list(evolve_islands(planned(), 3, 4, 2, workers=2))
    assert same_history(here, there)
    assert [r.generation for r in there] == list(range(10))
    assert bool(pooled) == bool(piece)


def ranked(losses: list[float]) -> list[int]:
    """Indices from the lowest loss to the highest, ties by index."""
    return sorted(range(len(losses)), key=lambda i: (losses[i], i))


def test_migration_puts_the_best_into_the_worst_slots() -> None:
    islands = [Island(plan(population=8, elite=1), k, 0.0) for k in range(2)]
    before = [(i.population.codes.copy(), i.population.losses.tolist()) for i in islands]
    _, departures = advance(islands, {}, 0, 3)
    advance(islands, {1: departures[0], 0: departures[1]}, 0, 0)
    for sender, receiver in ((0, 1), (1, 0)):
        codes, losses = before[sender]
        best = ranked(losses)[:3]  # best first
        worst = ranked(before[receiver][1])[::-1][:3]  # worst first
        population = islands[receiver].population
        for migrant, slot in zip(best, worst, strict=True):
            assert np.array_equal(population.codes[slot], codes[migrant])
            assert population.losses[slot].item() == losses[migrant]
        for slot in set(range(8)) - set(worst):
            assert np.array_equal(population.codes[slot], before[receiver][0][slot])
            assert population.losses[slot].item() == before[receiver][1][slot]


def test_migration_runs_around_the_ring() -> None:
    # with elitism, island k + 1 bred after a migration holds island k's best or better
    history = list(evolve_islands(plan(elite=1), 3, 1, 1))
    for before, after in itertools.pairwise(history[1:]):
        for k in range(3):
            assert after.islands[(k + 1) % 3].best <= before.islands[k].best


def session_with(**task: Any) -> str:
    session = copy.deepcopy(SESSION)
    session["task"].update(task)
    return json.dumps(session)


@pytest.mark.parametrize(("task", "path"), [
    ({"islands": 0}, "task.islands"),
    ({"islands": 65}, "task.islands"),
    ({"migration": {"every": 0, "count": 1}}, "task.migration.every"),
    ({"migration": {"every": 5, "count": -1}}, "task.migration.count"),
    ({"islands": 2, "population": 10, "elite": 2, "migration": {"every": 5, "count": 8}},
     "task.migration.count"),
])
def test_bad_island_settings_name_the_field(task: dict[str, Any], path: str) -> None:
    with pytest.raises(SessionError) as error:
        parse_session(session_with(**task))
    assert error.value.path == path


def test_one_island_ignores_the_migration_count() -> None:
    session = parse_session(session_with(population=10, elite=2,
                                         migration={"every": 5, "count": 8}))
    assert session.task.migration.count == 8  # type: ignore[union-attr]
    parse_session(session_with(islands=2, population=10, elite=2,
                               migration={"every": 5, "count": 7}))


def test_headless_run_writes_each_island(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    session = copy.deepcopy(SESSION)
    session["task"].update(population=20, generations=6, islands=3,
                           migration={"every": 2, "count": 2})
    result = run_cli(tmp_path, session)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    history = data["history"]
    assert (data["islands"], data["migration"]) == (3, {"every": 2, "count": 2})
    assert history["generation"] == list(range(7))
    assert len(history["islands"]) == 3
    for island in history["islands"]:
        assert set(island) == {"best", "mean", "worst", "diversity"}
        assert all(len(values) == 7 for values in island.values())
    for g in range(7):
        bests = [island["best"][g] for island in history["islands"]]
        assert history["best"][g] == min(bests)
        assert history["best_island"][g] == bests.index(min(bests))
    assert data["best_island"] == history["best_island"][-1]
    assert data["loss"] == pytest.approx(history["best"][-1], rel=1e-5)
    header = (tmp_path / "out" / "history.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["generation", "best", "best_island", "seconds", "evaluations"]
    assert header[-1] == "island2_diversity"
