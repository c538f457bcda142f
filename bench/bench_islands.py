"""Island-model evolution: generations per second against the number of islands, in this
process, in worker processes and in Ray actors.

    .venv/bin/python bench/bench_islands.py [--json] [--generations 20] [--islands 1 2 4]

The common task of bench/bench_evolution.py (2-16-16-1 tanh, logit output,
bce_with_logits on 256-point two spirals, elite 2, tournament 3, flip 0.01) with 1000
individuals per island and migration of 2 every 5 generations. Each configuration runs
once in this run: in this process (islands one after another) with torch's default
threads and with one, then in min(islands, cores) worker processes of one torch thread
each, then in one Ray actor per island (one torch thread each) on a local Ray instance of
os.cpu_count() CPUs, started once for the run (skipped when Ray is not installed).
Printed: the start (until generation 0 is back: the initial evaluation, and for workers
and actors the process start), generations per second after it, island-generations per
second, and the ratio of that to one island in this process. The machine is shared and
noisy: only ratios within one run count. With --json the last line is one JSON object of
the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_evolution import ELITE, FLIP, TOURNAMENT, spiral_task

from engine.core.chain import Chain
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec
from engine.data.tasks import EvolveTask
from engine.evolution.islands import IslandPlan, evolve_islands
from engine.evolution.population import PopulationEvaluator

POPULATION, EVERY, COUNT = 1000, 5, 2


def measure(plan: IslandPlan, islands: int, generations: int, workers: int,
            ray: bool = False) -> tuple[float, float, float]:
    """(seconds to generation 0, generations per second after it, final best)."""
    started = time.perf_counter()
    first = best = 0.0
    for record in evolve_islands(plan, islands, EVERY, COUNT, generations, workers, ray):
        if record.generation == 0:
            first = time.perf_counter()
        best = record.best
    return first - started, generations / (time.perf_counter() - first), best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--islands", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device("cpu")
    x, y = spiral_task(device)
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, device)
    task = EvolveTask(population=POPULATION, elite=ELITE, selection="tournament",
                      tournament_size=TOURNAMENT, mutation_rate=FLIP,
                      generations=args.generations)
    plan = IslandPlan(evaluator, task, 0, None)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    ray = start_ray()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads here, {cores} cores; "
          f"population {POPULATION} per island, {args.generations} generations, migration "
          f"{COUNT} every {EVERY}")
    print(f"{'islands':>7} {'where':>13} {'start s':>8} {'gen/s':>8} {'island-gen/s':>13} "
          f"{'ratio':>6} {'best':>8}")
    rows, base = [], None
    default_threads = torch.get_num_threads()
    modes = [(0, default_threads, False), (0, 1, False), (None, 1, False)]
    if ray is not None:
        modes.append((0, 1, True))
    try:
        for islands in args.islands:
            for workers, threads, actors in modes:
                workers = min(islands, cores) if workers is None else workers
                torch.set_num_threads(threads)  # of this process; workers always use one
                try:
                    start, rate, best = measure(plan, islands, args.generations, workers,
                                                actors)
                finally:
                    torch.set_num_threads(default_threads)
                throughput = rate * islands
                base = base or throughput
                where = (f"{islands} Ray actors" if actors else
                         f"here, {threads} thr" if workers == 0 else f"{workers} workers")
                print(f"{islands:>7} {where:>13} {start:>8.2f} {rate:>8.2f} "
                      f"{throughput:>13.2f} {throughput / base:>6.2f} {best:>8.4f}")
                rows.append({"islands": islands, "workers": workers, "threads": threads,
                             "ray": actors, "start_s": start, "generations_per_s": rate,
                             "island_generations_per_s": throughput,
                             "ratio": throughput / base, "best": best})
    finally:
        if ray is not None:
            ray.shutdown()
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "cores": cores, "population": POPULATION,
                          "generations": args.generations, "rows": rows}))


def start_ray() -> ModuleType | None:
    """A local Ray instance of os.cpu_count() CPUs, or None (with a line) without Ray."""
    try:
        import ray
    except ImportError as error:
        print(f"Ray actors skipped: {error}")
        return None
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    return ray


if __name__ == "__main__":
    main()
