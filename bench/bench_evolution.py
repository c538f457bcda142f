"""The engine's genetic algorithm versus PyGAD, EvoTorch, EvoX and a plain per-individual loop.

    .venv/bin/pip install -e '.[bench]'      # PyGAD, EvoTorch and EvoX (once)
    .venv/bin/python bench/bench_evolution.py [--quick] [--device cuda] [--sizes 100 1000]

Task (issue 4): a 2-16-16-1 tanh network with a logit output and bce_with_logits on a
256-point two-spirals set, 4-bit log-quantised genes (15 values, α = 1), elitism 2,
tournament 3, bit-flip rate 0.01. Every contestant runs the same number of generations
at each population size, measured in one run; printed: median seconds per generation,
each peer's ratio to the engine, and the best loss each reached. At the largest size the
engine's evaluation is also compared with the floor of plain batched matrix multiplies
on the same shapes (torch.bmm into preallocated outputs).

The engine is measured three ways: its generator alone; the headless run with its
history recording (``run_evolution``, what ``main.py run`` calls; a generation is the
time between two progress callbacks); and the GUI's consumption loop without Qt (what
the Evolution page's worker and GUI thread do per generation: the generator, the best's
decision boundary every 0.1 s, batches handed over at 30 Hz, the history kept and the
panel's table rows made), each generation's costs summed as they are on one interpreter.
The ratio printed for each is the fastest peer's time over its own. The generator runs
once more with torch's evaluation instead of the C kernel ("engine-torch", not counted
as a peer), to show what the kernel brings.

Peers, each in its fastest configuration we know:
- PyGAD: fitness evaluated for the whole population in one batch (fitness_batch_size),
  genes drawn from the 16 codes, uniform crossover, random mutation with the per-gene
  probability 1 − (1 − 0.01)^4 that matches four bit flips.
- EvoTorch: a vectorised problem (the whole population per call, batched bmm), its
  GeneticAlgorithm with built-in two-point crossover (tournament 3) and a vectorised
  bit-flip mutation operator.
- EvoX 1.4.0: its tutorials' way, an ``Algorithm`` and a ``Problem`` in a
  ``StdWorkflow`` whose ``step`` is run eagerly and compiled with
  ``torch.compile(workflow.step)``. Its GA is written from ``evox.operators`` as its
  custom-algorithm guide does (tournament selection, simulated binary crossover,
  polynomial mutation, the best ``elite`` kept) on a float genome in [-1, 1]; its PSO is
  ``evox.algorithms.PSO``. The fitness is the same batched network and loss on float
  weights. Compiling (the first two steps: the second recompiles for the state that
  ``init_step`` left) is reported and left out of the per-generation time, as it would
  be paid once per run.
- A plain loop: per individual, decode and forward in torch; tournament, crossover and
  mutation per child.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.chain import Chain
from engine.core.losses import prepare_targets
from engine.core.plots import LIVE_RESOLUTION, decision_values, grid_extent
from engine.core.specs import ActivationSpec, LinearSpec, NetworkSpec
from engine.data.datasets import make_dataset
from engine.data.experiment import build_experiment
from engine.data.session import parse_session
from engine.data.tasks import EvolveTask
from engine.evolution import fused
from engine.evolution.ga import GenerationStats, evolve, resolve_device
from engine.evolution.genome import code_table, load_genome
from engine.evolution.population import PopulationEvaluator
from engine.evolution.setup import prepare_evolution
from engine.headless.evolve import run_evolution

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
    return float_losses(table[codes.long()], x, y)


def float_losses(weights: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same network's losses for float weights (N, genome) in genome order."""
    h = x.expand(len(weights), *x.shape)
    start = 0
    for number, (out_features, in_features) in enumerate(SHAPES):
        size = out_features * in_features
        weight = weights[:, start:start + size].reshape(-1, out_features, in_features)
        bias = weights[:, start + size:start + size + out_features]
        start += size + out_features
        h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if number < len(SHAPES) - 1:
            h = torch.tanh(h)
    return F.binary_cross_entropy_with_logits(h, y.expand_as(h), reduction="none").mean((1, 2))


Result = tuple[list[float], float, str]  # seconds per generation, best loss, a note


def run_engine(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
               device: torch.device, fuse: bool = True) -> Result:
    """The generator alone (``fuse``: with the C kernel's evaluation where it applies)."""
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, device,
                                    fuse=fuse)
    task = EvolveTask(population=n, elite=ELITE, selection="tournament",
                      tournament_size=TOURNAMENT, mutation_rate=FLIP, generations=generations)
    times: list[float] = []
    best = math.inf
    for stats in timed(evolve(evaluator, task, seed=0), times, device):
        best = stats.best
    return times, best, ""


def session_json(n: int, generations: int, device: torch.device) -> str:
    """The bench's task as a session file (the same data, network, seed and GA)."""
    return json.dumps({
        "format": "chainlab/1", "seed": 0, "dtype": "float32",
        "network": {"input_size": 2, "layers": [
            {"type": "linear", "out_features": 16}, {"type": "activation", "kind": "tanh"},
            {"type": "linear", "out_features": 16}, {"type": "activation", "kind": "tanh"},
            {"type": "linear", "out_features": 1}]},
        "data": {"dataset": "spiral", "samples": 256, "noise": 0.0},
        "loss": "bce_with_logits",
        "task": {"kind": "evolve", "population": n, "elite": ELITE, "selection": "tournament",
                 "tournament_size": TOURNAMENT, "mutation_rate": FLIP,
                 "generations": generations, "device": device.type}})


def run_headless(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
                 device: torch.device) -> Result:
    """``run_evolution`` as ``main.py run`` calls it: every generation's best kept, the
    thinned rows of statistics recorded; a generation is the time between two progress
    calls. The result's assembly after the last generation is the note."""
    session = parse_session(session_json(n, generations, device))
    experiment = build_experiment(session)
    assert isinstance(session.task, EvolveTask)
    stamps: list[float] = []

    def progress(done: int, total: int) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    output = run_evolution(experiment, session.task, progress)
    ended = time.perf_counter()
    times = np.diff(stamps).tolist()
    best = float(output.result["history"]["best"][-1])
    return times, best, f"results after the run {(ended - stamps[-1]) * 1e3:.0f} ms"


def gui_rows(stats: list[GenerationStats]) -> list[list[float]]:
    """The Evolution panel's table rows (gui/panels/evolution_panel.py)."""
    return [[s.generation, s.best, s.mean, s.std, s.worst, s.diversity, s.seconds,
             s.evaluations] for s in stats]


def run_gui(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
            device: torch.device) -> Result:
    """The Evolution page's loop without Qt, on one thread: the run set up as
    gui/evolution_run.py does, the generator with the best's decision boundary beside it
    every 0.1 s (gui/worker.with_extras), batches handed over at 30 Hz as the worker
    does, then what the GUI thread does with a batch (the run's history, the panel's
    table). Painting is not included: it happens at most 30 times a second whatever
    the generation rate."""
    from gui.worker import split_extras, with_extras  # imports QtCore, starts no Qt

    session = parse_session(session_json(n, generations, device))
    experiment = build_experiment(session)
    assert isinstance(session.task, EvolveTask)
    setup = prepare_evolution(experiment.chain.copy(), experiment.inputs, experiment.targets,
                              session.loss, session.task, session.seed)
    chain, extent = experiment.chain.copy(), grid_extent(experiment.dataset.inputs)

    def boundary(stats: GenerationStats) -> np.ndarray:
        load_genome(chain, torch.from_numpy(stats.best_genome), setup.scales)
        return decision_values(chain, session.loss, extent, LIVE_RESOLUTION)

    history: list[GenerationStats] = []
    table: list[list[float]] = []

    def deliver(batch: list[Any]) -> None:
        stats, _ = split_extras(batch)
        history.extend(stats)
        table.extend(gui_rows(stats))

    times: list[float] = []
    items = with_extras(timed(setup.generations(), times, device), boundary)
    pending: list[Any] = []
    last_emit = time.monotonic()
    for item in items:
        pending.append(item)
        if time.monotonic() - last_emit >= 1 / 30:
            deliver(pending)
            pending, last_emit = [], time.monotonic()
    deliver(pending)
    return times, history[-1].best, ""


def timed(items: Iterator[Any], times: list[float], device: torch.device) -> Iterator[Any]:
    """``items``, appending to ``times`` the seconds from one request to the next (the
    producer's and the consumer's work for one item; the first item is not timed)."""
    last = None
    for item in items:
        if device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        if last is not None:
            times.append(now - last)
        last = now
        yield item


def run_evotorch(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
                 device: torch.device) -> Result:
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
    return times, float(ga.status["pop_best_eval"]), ""


def run_pygad(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
              device: torch.device) -> Result:
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
    return times, best, ""


def run_loop(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
             device: torch.device) -> Result:
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
    return times, min(losses), ""


def evox_workflow(algorithm: str, n: int, x: torch.Tensor, y: torch.Tensor,
                  device: torch.device) -> Any:
    """An EvoX StdWorkflow of its GA (from evox.operators) or PSO on the float genome."""
    from evox.algorithms import PSO
    from evox.core import Algorithm, Mutable, Problem
    from evox.operators.crossover import simulated_binary
    from evox.operators.mutation import polynomial_mutation
    from evox.operators.selection import tournament_selection
    from evox.workflows import StdWorkflow

    class SpiralNetwork(Problem):
        def __init__(self) -> None:
            super().__init__()
            self.x, self.y = x, y

        def evaluate(self, pop: torch.Tensor) -> torch.Tensor:
            return float_losses(pop, self.x, self.y)

    class GA(Algorithm):
        """Tournament parents, SBX, polynomial mutation; the best ``elite`` survive."""

        def __init__(self, pop_size: int, lb: torch.Tensor, ub: torch.Tensor) -> None:
            super().__init__()
            self.pop_size, self.lb, self.ub = pop_size, lb, ub
            self.offspring = pop_size - ELITE + (pop_size - ELITE) % 2  # SBX makes pairs
            self.pop = Mutable(torch.rand(pop_size, len(lb), device=device) * (ub - lb) + lb)
            self.fit = Mutable(torch.full((pop_size,), torch.inf, device=device))

        def init_step(self) -> None:
            self.fit = self.evaluate(self.pop)

        def step(self) -> None:
            parents = tournament_selection(self.offspring, self.fit, TOURNAMENT)
            children = simulated_binary(self.pop[parents])
            children = polynomial_mutation(children, self.lb, self.ub)
            children = children[:self.pop_size - ELITE]
            fitness = self.evaluate(children)
            elite = torch.topk(self.fit, ELITE, largest=False).indices
            self.pop = torch.cat([self.pop[elite], children])
            self.fit = torch.cat([self.fit[elite], fitness])

    torch.manual_seed(0)  # EvoX draws from torch's global generator
    lb = -torch.ones(GENOME, device=device)
    ub = torch.ones(GENOME, device=device)
    chosen = GA(n, lb, ub) if algorithm == "ga" else PSO(n, lb, ub, device=device)
    return StdWorkflow(chosen, SpiralNetwork(), device=device)


def run_evox(algorithm: str, compiled: bool) -> Callable[..., Result]:
    def run(n: int, generations: int, x: torch.Tensor, y: torch.Tensor,
            device: torch.device) -> Result:
        workflow = evox_workflow(algorithm, n, x, y, device)
        workflow.init_step()
        note = ""
        step = workflow.step
        if compiled:
            torch._dynamo.reset()  # each size compiles afresh, as a run would
            step = torch.compile(workflow.step)
            start = time.perf_counter()
            for _ in range(2):  # the second step recompiles for the state init_step left
                step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            note = f"compiling {time.perf_counter() - start:.1f} s left out"
        times = []
        for _ in range(generations):
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        state = workflow.algorithm
        best = state.fit.min() if algorithm == "ga" else state.global_best_fit
        return times, float(best), note
    return run


def evaluation_against_floor(n: int, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                             look_up: bool = True, repeats: int = 15,
                             fuse: bool = True) -> tuple[float, float]:
    """Median times of the engine's whole evaluation and of the network's matrix products
    alone (torch.bmm on the same shapes into preallocated outputs), interleaved so that
    the machine's noise hits both alike. ``look_up``: let the engine replace the first
    layer by its table (off, it computes that layer as the floor does); ``fuse``: let it
    use the C kernel (off, torch's evaluation)."""
    spec = NetworkSpec(input_size=2, layers=[
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"),
        LinearSpec(out_features=16), ActivationSpec(kind="tanh"), LinearSpec(out_features=1)])
    chain = Chain(spec, "float32", torch.Generator().manual_seed(0))
    evaluator = PopulationEvaluator(chain, x, y, "bce_with_logits", [1.0] * 3, device,
                                    look_up_first_layer=look_up, fuse=fuse)
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


ENGINE = ("engine", "headless", "gui")  # the generator alone, main.py run's loop, the GUI's
# the generator with torch's evaluation instead of the C kernel: what the kernel brings
REFERENCE = ("engine-torch",)
PEERS = ("pygad", "evotorch", "evox-ga", "evox-ga-compiled", "evox-pso", "evox-pso-compiled",
         "loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer generations at the large sizes (a few minutes in all)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--repeats", type=int, default=1,
                        help="run every contestant this many times, interleaved; the "
                        "median of their medians is printed (the machine is shared)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for every contestant (default: torch's own); "
                        "on a busy machine one thread spares them the waits of parallel "
                        "regions whose other thread is descheduled")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device, note = resolve_device(args.device)
    if note:
        print(note)
    x, y = spiral_task(device)
    contestants: dict[str, Callable[..., Result]] = {
        "engine": run_engine, "headless": run_headless, "gui": run_gui,
        "engine-torch": lambda *args: run_engine(*args, fuse=False),
        "pygad": run_pygad, "evotorch": run_evotorch,
        "evox-ga": run_evox("ga", False), "evox-ga-compiled": run_evox("ga", True),
        "evox-pso": run_evox("pso", False), "evox-pso-compiled": run_evox("pso", True),
        "loop": run_loop}
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"genome {GENOME} codes; elite {ELITE}, tournament {TOURNAMENT}, flip {FLIP}; "
          f"fused kernel: {fused.instruction_set() or 'not built'}")
    for n in args.sizes:
        generations = 200 if n <= 100 else (40 if n <= 1000 else 10)
        if args.quick:
            generations = min(generations, 50 if n <= 100 else 5)
        if device.type == "cuda" and n > 10_000:
            generations = 5
        print(f"\nN = {n}, {generations} generations each"
              + (f", {args.repeats} repeats" if args.repeats > 1 else ""))
        fresh = evaluation_against_floor(n, x, y, device) if n == max(args.sizes) else None
        medians: dict[str, list[float]] = {}
        results: dict[str, tuple[float, str, int]] = {}
        for _ in range(args.repeats):
            for name in [*ENGINE, *REFERENCE, *args.peers]:
                # a Python loop over 10 000 individuals: two generations suffice for its time
                gens = 2 if name == "loop" and n > 1000 else generations
                if name not in ENGINE and device.type == "cuda" and n > 100_000:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    times, best, remark = contestants[name](n, gens, x, y, device)
                medians.setdefault(name, []).append(statistics.median(times))
                results.setdefault(name, (best, remark, gens))
        median = {name: statistics.median(values) for name, values in medians.items()}
        fastest = min((median[name] for name in median
                       if name not in ENGINE + REFERENCE), default=None)
        for name, (best, remark, gens) in results.items():
            ratio = (f"fastest peer / this {fastest / median[name]:5.2f}×" if name in ENGINE
                     and fastest is not None else f"{median[name] / median['engine']:7.2f}× "
                     "engine")
            print(f"  {name:17s} {median[name] * 1e3:10.2f} ms/generation   {ratio}   "
                  f"best loss {best:.4f} after {gens} generations"
                  + (f"   ({remark})" if remark else ""))
        if fastest is not None:
            lead = min(fastest / median[name] for name in ("headless", "gui"))
            print(f"  goal, headless and GUI at least 2x the fastest peer: "
                  f"{'met' if lead >= 2 else 'missed'} ({lead:.2f}x)")
        if fresh is not None:
            # measured twice: in a fresh process, and after the contestants have run (the
            # allocator's state after them slows the elementwise passes on some machines);
            # then once more with the first layer computed, as for inputs wider than 2
            after = evaluation_against_floor(n, x, y, device)
            computed = evaluation_against_floor(n, x, y, device, look_up=False)
            unfused = evaluation_against_floor(n, x, y, device, fuse=False)
            for label, (evaluation, floor) in (("fresh", fresh), ("after the runs", after),
                                               ("first layer computed", computed),
                                               ("torch's, not the C kernel", unfused)):
                print(f"  evaluation ({label}) {evaluation * 1e3:.2f} ms vs batched-matmul "
                      f"floor {floor * 1e3:.2f} ms: {evaluation / floor:.2f}× "
                      "(target at N = 10 000: ≤ 1.5×)")


if __name__ == "__main__":
    main()
