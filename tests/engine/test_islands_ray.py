"""Island-model evolution on Ray actors: one actor per island gives the sequential local
history bit for bit (migration every 2 generations, one migrant, 2 and 3 islands), and
another seed gives another history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from engine.evolution.islands import evolve_islands
from tests.engine.test_islands import plan, same_history

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray>=2.40')")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.parametrize("islands", [2, 3])
def test_actors_give_the_local_history(islands: int) -> None:
    # 5 generations: two migrations, then one generation after the last
    here = list(evolve_islands(plan(population=12, generations=5), islands, 2, 1))
    there = list(evolve_islands(plan(population=12, generations=5), islands, 2, 1, ray=True))
    assert same_history(here, there)
    assert [r.generation for r in there] == list(range(6))
    assert [len(r.islands) for r in there] == [islands] * 6


def test_another_seed_gives_another_history() -> None:
    first = plan(population=12, generations=3)
    one = list(evolve_islands(first, 2, 2, 1, ray=True))
    other = list(evolve_islands(replace(first, seed=first.seed + 1), 2, 2, 1, ray=True))
    assert not same_history(one, other)
    assert not same_history(one[:1], other[:1])  # the initial populations already differ


def test_ray_takes_no_workers() -> None:
    with pytest.raises(ValueError, match="workers must be 0"):
        next(evolve_islands(plan(population=12, generations=1), 2, 2, 1, workers=2,
                            ray=True))
