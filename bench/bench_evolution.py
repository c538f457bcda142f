"""The engine's genetic algorithm versus PyGAD, EvoTorch and a plain per-individual loop.

    .venv/bin/pip install -e '.[bench]'      # PyGAD and EvoTorch (once)
    .venv/bin/python bench/bench_evolution.py [--quick] [--device cuda] [--sizes 100 1000]

Task (issue 4): a 2-16-16-1 tanh network with a logit output and bce_with_logits on a
256-point two-spirals set, 4-bit log-quantised genes (15 values, α = 1), elitism 2,
tournament 3, bit-flip rate 0.01. Every contestant runs the same number of generations
at each population size, measured in one run; printed: median seconds per generation,
each peer's ratio to the engine, and the best loss each reached. At the largest size the
engine's evaluation is also compared with the floor of plain batched matrix multiplies
on the same shapes (torch.bmm into preallocated outputs).

Peers, each in its fastest configuration we know:
- PyGAD: fitness evaluated for the whole population in one batch (fitness_batch_size),
  genes drawn from the 16 codes, uniform crossover, random mutation with the per-gene
  probability 1 − (1 − 0.01)^4 that matches four bit flips.
- EvoTorch: a vectorised problem (the whole population per call, batched bmm), its
  GeneticAlgorithm with built-in two-point crossover (tournament 3) and a vectorised
  bit-flip mutation operator.
- A plain loop: per individual, decode and forward in torch; tournament, crossover and
  mutation per child.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.chain import Chain
from engine.core.losses import prepare_targets
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec
from engine.data.datasets import make_dataset
from engine.data.tasks import EvolveTask
from engine.evolution.ga import evolve, resolve_device
from engine.evolution.genome import code_table
from engine.evolution.population import PopulationEvaluator

SHAPES = ((16, 2), (16, 16), (1, 16))  # (out, in) per linear layer
GENOME = sum(o * i + o for o, i in SHAPES)
ELITE, TOURNAMENT, FLIP = 2, 3, 0.01
GENE_CHANGE = 1 - (1 - FLIP) ** 4


def spiral_task(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    data = make_dataset("spiral", 256, 0.0, seed=0)
    x = torch.tensor(data.inputs, dtype=torch.float32)
    y = prepare_targets("bce_with_logits", torch.tensor(data.targets_for("bce_with_logits"),
                                                        dtype=torch.float32), 1)
    return x.to(device), y.to(device)


def batched_losses(codes: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The natural vectorised fitness a peer would write: decode, bmm over the population."""
    table = code_table(torch.float32).to(codes.device)
    h = x.expand(len(codes), *x.shape)
    start = 0
    for number, (out_features, in_features) in enumerate(SHAPES):
        size = out_features * in_features
        weight = table[codes[:, start:start + size].long()].reshape(-1, out_features,
                                                                   in_features)
        bias = table[codes[:, start + size:start + size + out_features].long()]
        start += size + out_features
        h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if number < len(SHAPES) - 1:
            h = torch.tanh(h)
    return F.binary_cross_entropy_with_logits(h, y.expand_as(h), reduction="none").mean((1, 2))


def run_engine(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
               device: torch.device) -> tuple[list[float], float]:
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, device)
    task = EvolveTask(population=n, elite=ELITE, selection="tournament",
                      tournament_size=TOURNAMENT, mutation_rate=FLIP, generations=generations)
    times, last, best = [], time.perf_counter(), math.inf
    for stats in evolve(evaluator, task, seed=0):
        if device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        if stats.generation > 0:
            times.append(now - last)
        last, best = now, stats.best
    return times, best


def run_evotorch(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
                 device: torch.device) -> tuple[list[float], float]:
    from evotorch import Problem
    from evotorch.algorithms import GeneticAlgorithm
    from evotorch.operators import CopyingOperator, TwoPointCrossOver

    class BitFlip(CopyingOperator):
        def _do(self, batch):  # type: ignore[no-untyped-def]
            result = batch.clone()
            codes = result.access_values()
            flips = torch.zeros_like(codes)
            for bit in range(4):
                flips |= (torch.rand(codes.shape, device=codes.device) < FLIP).long() << bit
            codes ^= flips
            return result

    problem = Problem("min", lambda codes: batched_losses(codes, x, y), vectorized=True,
                      solution_length=GENOME, dtype=torch.int64, bounds=(0, 15),
                      initial_bounds=(0, 15), device=device, seed=0)
    original_fill = problem._fill

    def fill_codes(values: torch.Tensor) -> None:  # uniform codes 0..15, not a real range
        original_fill(values)
        values.copy_(torch.randint(0, 16, values.shape, device=values.device))

    problem._fill = fill_codes
    ga = GeneticAlgorithm(problem, popsize=n, operators=[
        TwoPointCrossOver(problem, tournament_size=TOURNAMENT), BitFlip(problem)],
        re_evaluate=False)
    times = []
    for _ in range(generations):
        start = time.perf_counter()
        ga.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times, float(ga.status["pop_best_eval"])


def run_pygad(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
              device: torch.device) -> tuple[list[float], float]:
    import pygad

    def fitness(ga, solutions, indices):  # type: ignore[no-untyped-def]
        codes = torch.as_tensor(np.asarray(solutions), dtype=torch.int64, device=device)
        return (-batched_losses(codes, x, y)).cpu().numpy()

    times: list[float] = []
    last = [time.perf_counter()]

    def on_generation(ga):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = pygad.GA(num_generations=generations, num_parents_mating=n,
                      fitness_func=fitness, fitness_batch_size=n, sol_per_pop=n,
                      num_genes=GENOME, gene_type=int, gene_space=list(range(16)),
                      parent_selection_type="tournament", K_tournament=TOURNAMENT,
                      keep_elitism=ELITE, crossover_type="uniform", mutation_type="random",
                      mutation_probability=GENE_CHANGE, random_seed=0, suppress_warnings=True,
                      on_generation=on_generation)
        last[0] = time.perf_counter()
        ga.run()
    best = -float(ga.best_solution(ga.last_generation_fitness)[1])
    return times, best


def run_loop(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
             device: torch.device) -> tuple[list[float], float]:
    """One individual at a time, as a first implementation would do it."""
    table = code_table(torch.float32).to(device)
    rng = torch.Generator(device=device).manual_seed(0)

    def loss_of(genome: torch.Tensor) -> float:
        h, start = x, 0
        for number, (out_features, in_features) in enumerate(SHAPES):
            size = out_features * in_features
            weight = table[genome[start:start + size].long()].reshape(out_features, in_features)
            bias = table[genome[start + size:start + size + out_features].long()]
            start += size + out_features
            h = F.linear(h, weight, bias)
            if number < len(SHAPES) - 1:
                h = torch.tanh(h)
        return float(F.binary_cross_entropy_with_logits(h, y))

    population = [torch.randint(0, 16, (GENOME,), generator=rng, device=device)
                  for _ in range(n)]
    with torch.inference_mode():
        losses = [loss_of(g) for g in population]
        times = []
        for _ in range(generations):
            start = time.perf_counter()
            order = sorted(range(n), key=losses.__getitem__)
            children = [population[i] for i in order[:ELITE]]
            child_losses = [losses[i] for i in order[:ELITE]]
            while len(children) < n:
                picks = torch.randint(0, n, (2, TOURNAMENT), generator=rng, device=device)
                a, b = (min(row.tolist(), key=losses.__getitem__) for row in picks)
                mask = torch.rand(GENOME, generator=rng, device=device) < 0.5
                child = torch.where(mask, population[a], population[b])
                for bit in range(4):
                    flip = torch.rand(GENOME, generator=rng, device=device) < FLIP
                    child = child ^ (flip.long() << bit)
                children.append(child)
                child_losses.append(loss_of(child))
            population, losses = children, child_losses
            times.append(time.perf_counter() - start)
    return times, min(losses)


def evaluation_against_floor(n: int, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                             look_up: bool = True, repeats: int = 15) -> tuple[float, float]:
    """Median times of the engine's whole evaluation and of the network's matrix products
    alone (torch.bmm on the same shapes into preallocated outputs), interleaved so that
    the machine's noise hits both alike. ``look_up``: let the engine replace the first
    layer by its table (off, it computes that layer as the floor does)."""
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, device,
                                    look_up_first_layer=look_up)
    codes = torch.randint(0, 16, (n, GENOME), dtype=torch.uint8, device=device)
    weights = [torch.randn(n, i, o, device=device) for o, i in SHAPES]
    outputs = [torch.empty(n, len(x), o, device=device) for o, _ in SHAPES]
    inputs = x.expand(n, *x.shape)

    def products() -> None:
        h = inputs
        for weight, out in zip(weights, outputs, strict=True):
            h = torch.bmm(h, weight, out=out)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    timed(products)
    timed(lambda: evaluator.losses(codes))
    evaluations, floors = [], []
    for _ in range(repeats):
        floors.append(timed(products))
        evaluations.append(timed(lambda: evaluator.losses(codes)))
    return statistics.median(evaluations), statistics.median(floors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer generations at the large sizes (a few minutes in all)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--peers", nargs="+", default=["pygad", "evotorch", "loop"])
    args = parser.parse_args()
    device, note = resolve_device(args.device)
    if note:
        print(note)
    x, y = spiral_task(device)
    contestants = {"engine": run_engine, "pygad": run_pygad, "evotorch": run_evotorch,
                   "loop": run_loop}
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"genome {GENOME} codes; elite {ELITE}, tournament {TOURNAMENT}, flip {FLIP}")
    for n in args.sizes:
        generations = 200 if n <= 100 else (40 if n <= 1000 else 10)
        if args.quick:
            generations = min(generations, 50 if n <= 100 else 5)
        if device.type == "cuda" and n > 10_000:
            generations = 5
        print(f"\nN = {n}, {generations} generations each")
        fresh = evaluation_against_floor(n, x, y, device) if n == max(args.sizes) else None
        results = {}
        for name in ["engine", *args.peers]:
            # a Python loop over 10 000 individuals: two generations suffice for its time
            gens = 2 if name == "loop" and n > 1000 else generations
            if name != "engine" and device.type == "cuda" and n > 100_000:
                continue
            times, best = contestants[name](n, gens, x, y, device)
            results[name] = (statistics.median(times), best, gens)
        engine_time = results["engine"][0]
        for name, (median, best, gens) in results.items():
            ratio = median / engine_time
            print(f"  {name:9s} {median * 1e3:10.2f} ms/generation   {ratio:7.2f}× engine   "
                  f"best loss {best:.4f} after {gens} generations")
        peers = [results[name][0] for name in results if name != "engine"]
        if peers:
            print(f"  fastest peer / engine: {min(peers) / engine_time:.2f}×")
        if fresh is not None:
            # measured twice: in a fresh process, and after the contestants have run (the
            # allocator's state after them slows the elementwise passes on some machines);
            # then once more with the first layer computed, as for inputs wider than 2
            after = evaluation_against_floor(n, x, y, device)
            computed = evaluation_against_floor(n, x, y, device, look_up=False)
            for label, (evaluation, floor) in (("fresh", fresh), ("after the runs", after),
                                               ("first layer computed", computed)):
                print(f"  evaluation ({label}) {evaluation * 1e3:.2f} ms vs batched-matmul "
                      f"floor {floor * 1e3:.2f} ms: {evaluation / floor:.2f}× "
                      "(target at N = 10 000: ≤ 1.5×)")


if __name__ == "__main__":
    main()
