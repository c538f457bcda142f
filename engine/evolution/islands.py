"""Island-model evolution: K populations evolved side by side, with ring migration.

Each island is an ordinary GA population (:class:`engine.evolution.ga.Population`) with
its own generator: island 0 is seeded with the session seed itself, so one island is
exactly the plain run of :func:`engine.evolution.ga.evolve`; island k ≥ 1 with
:func:`island_seed`. After generation g's statistics, when g is a multiple of
``migration.every`` and the run goes on, every island k sends copies of its
``migration.count`` best genomes (best first, ties by index) to island (k + 1) mod K;
all emigrants are taken before any arrive. Arrivals replace the receiver's worst
individuals, the best migrant the very worst slot, the second the second worst and so
on, keeping their losses (the fitness is deterministic: no re-evaluation), and
generation g + 1 is bred from that population.

Islands run in this process one after another (``workers=0``), in worker processes,
each holding some of them and stepping them with one torch thread, or in one Ray actor
each (``ray=True``, one torch thread). All call :func:`advance` on the same
:class:`Island` objects, built from the same pickled plan, and the driver passes the
emigrants round the same ring, so all give the same history.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.processes import leave_interrupts_to_the_parent, worker_context
from engine.data.tasks import EvolveTask
from engine.evolution.ga import GenerationStats, Population, seeded_population
from engine.evolution.population import PopulationEvaluator
from engine.evolution.setup import EvolutionSetup


def island_seed(seed: int, island: int) -> int:
    """The generator seed of ``island``: the session seed for island 0, otherwise 64 bits
    from ``numpy.random.SeedSequence([seed, island])`` (independent streams, no overlap
    with another session's island 0)."""
    if island == 0:
        return seed
    return int(np.random.SeedSequence([seed, island]).generate_state(1, np.uint64)[0])


@dataclass(frozen=True)
class IslandPlan:
    """What every island is built from (picklable: it goes to the worker processes)."""

    evaluator: PopulationEvaluator
    task: EvolveTask
    seed: int
    genome: torch.Tensor | None  # (genome,) uint8: seed_from_network's start, or None


def island_plan(setup: EvolutionSetup) -> IslandPlan:
    """The plan of ``setup``'s run (its seeded population's first row is the genome)."""
    genome = None if setup.initial is None else setup.initial[0].clone()
    return IslandPlan(setup.evaluator, setup.task, setup.seed, genome)


@dataclass(frozen=True)
class Migrants:
    """Copies of an island's best genomes, best first, with their losses."""

    codes: np.ndarray  # (count, genome) uint8
    losses: np.ndarray  # (count,) float


@dataclass(frozen=True)
class IslandGeneration:
    """One generation of every island; ``best`` is the lowest loss of them all."""

    generation: int
    islands: tuple[GenerationStats, ...]
    best: float
    best_island: int  # the first island holding ``best``
    seconds: float  # the slowest island's wall time since the run started
    evaluations: int  # all islands together

    @property
    def best_genome(self) -> np.ndarray:
        return self.islands[self.best_island].best_genome


class Island:
    """One island's population, generator and generation counter."""

    def __init__(self, plan: IslandPlan, index: int, started: float) -> None:
        task, evaluator = plan.task, plan.evaluator
        self.index, self.seed, self.started = index, island_seed(plan.seed, index), started
        initial = None
        if plan.genome is not None:  # as prepare_evolution grows it for the plain run
            initial = seeded_population(plan.genome, task.population, task.mutation_rate,
                                        torch.Generator().manual_seed(self.seed))
        self.population = Population(evaluator, task, self.seed, initial)
        self.generation = 0

    def stats(self) -> GenerationStats:
        return self.population.stats(self.generation, self.started)

    def step(self) -> GenerationStats:
        self.population.step()
        self.generation += 1
        return self.stats()

    def emigrants(self, count: int) -> Migrants:
        return Migrants(*self.population.best(count))

    def immigrate(self, migrants: Migrants) -> None:
        """The best migrant replaces the worst individual, the next the second worst, …"""
        self.population.replace_worst(migrants.codes, migrants.losses)


Round = tuple[list[tuple[GenerationStats, ...]], dict[int, Migrants]]


def advance(islands: Sequence[Island], arrivals: dict[int, Migrants], steps: int,
            emigrate: int) -> Round:
    """Let migrants arrive, step every island ``steps`` generations, then take
    ``emigrate`` emigrants from each (0: none).

    Returns each generation's stats (one per island, in the order of ``islands``) and the
    emigrants by the sending island's index. The one step function for both ways of
    running, and for a future actor per island.
    """
    for island in islands:
        if island.index in arrivals:
            island.immigrate(arrivals[island.index])
    generations: list[list[GenerationStats]] = [[] for _ in range(steps)]
    for island in islands:  # an island's generations in a row: its data stays in cache
        for number in range(steps):
            generations[number].append(island.step())
    departures = {island.index: island.emigrants(emigrate)
                  for island in islands} if emigrate else {}
    return [tuple(stats) for stats in generations], departures


_HELD: list[Island] = []  # a worker process's islands


def _hold_islands(plan: bytes, indices: list[int], started: float) -> None:
    """Worker initializer: signals left to the parent (:mod:`engine.core.processes`), one
    torch thread (the workers are the parallelism).

    The plan comes as plain pickle bytes: multiprocessing's pickler would hand torch
    tensors over in shared memory, and the evaluator's reused buffers would then be
    written by every worker at once.
    """
    leave_interrupts_to_the_parent()
    torch.set_num_threads(1)
    _HELD[:] = [Island(pickle.loads(plan), index, started) for index in indices]


def _held_stats() -> tuple[GenerationStats, ...]:
    return tuple(island.stats() for island in _HELD)


def _advance_held(arrivals: dict[int, Migrants], steps: int, emigrate: int) -> Round:
    return advance(_HELD, arrivals, steps, emigrate)


class _Workers:
    """Worker processes, each an executor of one process so that its islands stay put."""

    def __init__(self, plan: IslandPlan, count: int, workers: int, started: float) -> None:
        context = worker_context()
        self.groups = [list(range(count))[w::workers] for w in range(workers)]
        data = pickle.dumps(plan)
        self.pools = [ProcessPoolExecutor(1, context, _hold_islands, (data, group, started))
                      for group in self.groups]

    def stats(self) -> tuple[GenerationStats, ...]:
        parts = [pool.submit(_held_stats) for pool in self.pools]
        return _merge(self.groups, [[part.result()] for part in parts])[0]

    def advance(self, arrivals: dict[int, Migrants], steps: int, emigrate: int) -> Round:
        futures = [pool.submit(_advance_held, _addressed(arrivals, group), steps, emigrate)
                   for pool, group in zip(self.pools, self.groups, strict=True)]
        return _gather(self.groups, [future.result() for future in futures])

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)


class _IslandActor:
    """One island in a Ray actor (wrapped by ``ray.remote`` in :class:`_Actors`)."""

    def __init__(self, plan: bytes, index: int, started: float) -> None:
        torch.set_num_threads(1)  # the actors are the parallelism
        self.island = Island(pickle.loads(plan), index, started)

    def stats(self) -> tuple[GenerationStats, ...]:
        return (self.island.stats(),)

    def advance(self, arrivals: dict[int, Migrants], steps: int, emigrate: int) -> Round:
        return advance([self.island], arrivals, steps, emigrate)


class _Actors:
    """One Ray actor per island; Ray must be initialised.

    The actors ask Ray for no CPU while they live (Ray's default for actors), so that any
    number of islands starts on any cluster; the plan travels as the same pickle bytes
    as to the worker processes, put in the object store once.
    """

    def __init__(self, plan: IslandPlan, count: int, started: float) -> None:
        import ray

        actor: Any = ray.remote(_IslandActor)  # ray's stubs do not type actor methods
        data = ray.put(pickle.dumps(plan))
        self.groups = [[index] for index in range(count)]
        self.actors: list[Any] = [actor.remote(data, index, started) for index in range(count)]

    def stats(self) -> tuple[GenerationStats, ...]:
        import ray

        parts = ray.get([actor.stats.remote() for actor in self.actors])
        return _merge(self.groups, [[part] for part in parts])[0]

    def advance(self, arrivals: dict[int, Migrants], steps: int, emigrate: int) -> Round:
        import ray

        refs = [actor.advance.remote(_addressed(arrivals, group), steps, emigrate)
                for actor, group in zip(self.actors, self.groups, strict=True)]
        return _gather(self.groups, ray.get(refs))

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)


def _addressed(arrivals: dict[int, Migrants], group: list[int]) -> dict[int, Migrants]:
    return {k: v for k, v in arrivals.items() if k in group}


def _gather(groups: list[list[int]], rounds: list[Round]) -> Round:
    """The groups' rounds as one: stats in island order, all departures."""
    departures = {k: v for _, part in rounds for k, v in part.items()}
    return _merge(groups, [stats for stats, _ in rounds]), departures


def _merge(groups: list[list[int]], parts: list[list[tuple[GenerationStats, ...]]],
           ) -> list[tuple[GenerationStats, ...]]:
    """Per generation, the groups' islands' stats back in island order."""
    merged = []
    for number in range(len(parts[0])):
        by_index = {index: stats for group, part in zip(groups, parts, strict=True)
                    for index, stats in zip(group, part[number], strict=True)}
        merged.append(tuple(by_index[index] for index in sorted(by_index)))
    return merged


def evolve_islands(plan: IslandPlan, islands: int, every: int, count: int,
                   generations: int | None = None, workers: int = 0,
                   ray: bool = False) -> Iterator[IslandGeneration]:
    """Yield generation 0, then one record per generation of all ``islands``.

    ``generations`` overrides ``task.generations`` (0: until the caller stops).
    ``workers`` 0 runs the islands in this process; n ≥ 1 in min(n, islands) worker
    processes, which send back ``every`` generations at a time. ``ray`` runs each island
    in a Ray actor of its own instead, also ``every`` generations at a time; Ray must be
    initialised by the caller (``ray.init``, or
    :func:`engine.headless.ray_cluster.ray_connection`), and ``workers`` must be 0. All give
    the same history for the same plan. Migration is as in the module docstring
    (``count`` 0 or one island: none).
    """
    if ray and workers > 0:
        raise ValueError("evolve_islands: ray=True runs an actor per island; workers must "
                         f"be 0, got {workers}")
    limit = plan.task.generations if generations is None else generations
    emigrate = count if islands > 1 else 0
    started = time.perf_counter()
    pool: _Workers | _Actors | None = None
    local: list[Island] = []
    if ray:
        pool = _Actors(plan, islands, started)
    elif workers > 0:
        pool = _Workers(plan, islands, min(workers, islands), started)
    else:
        local = [Island(plan, index, started) for index in range(islands)]
    try:
        first = pool.stats() if pool is not None else tuple(i.stats() for i in local)
        yield _record(first)
        generation = 0
        arrivals: dict[int, Migrants] = {}
        while limit <= 0 or generation < limit:
            # here one generation at a time; workers and actors up to the next migration
            steps = 1 if pool is None else every - generation % every
            if limit > 0:
                steps = min(steps, limit - generation)
            leaving = emigrate if (generation + steps) % every == 0 else 0
            if pool is None:
                done, departures = advance(local, arrivals, steps, leaving)
            else:
                done, departures = pool.advance(arrivals, steps, leaving)
            for stats in done:
                yield _record(stats)
            generation += steps
            arrivals = {(k + 1) % islands: migrants for k, migrants in departures.items()}
    finally:
        if pool is not None:
            pool.close()


def _record(stats: tuple[GenerationStats, ...]) -> IslandGeneration:
    bests = [s.best for s in stats]
    best_island = int(np.argmin(bests))  # first of equals; NaN never occurs (inf for NaN)
    return IslandGeneration(
        generation=stats[0].generation, islands=stats, best=bests[best_island],
        best_island=best_island, seconds=max(s.seconds for s in stats),
        evaluations=sum(s.evaluations for s in stats))
