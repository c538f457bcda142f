"""The headless ``evolve`` task: run the GA on a session and lay out its results."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from engine.core.plots import LinePlot, Series
from engine.core.processes import WORKERS_LOST
from engine.core.stepper import Pass
from engine.data.experiment import Experiment
from engine.data.tasks import EvolveTask
from engine.evolution.ga import GenerationStats
from engine.evolution.genome import genome_hex, load_genome
from engine.evolution.islands import IslandGeneration, evolve_islands, island_plan
from engine.evolution.setup import EvolutionSetup, prepare_evolution
from engine.headless.evolve_strategies import run_strategy
from engine.headless.history import log_generations
from engine.headless.results import (
    ROWS_SHOWN,
    RunOutput,
    boundary_plot,
    gradient_flow_plot,
    network_record,
    pass_result,
    peak_decimate,
)

COLUMNS = ("generation", "best", "mean", "std", "worst", "diversity", "seconds", "evaluations")
# with islands: these, then ISLAND_COLUMNS for island 0, island 1, …
GLOBAL_COLUMNS = ("generation", "best", "best_island", "seconds", "evaluations")
ISLAND_COLUMNS = ("best", "mean", "worst", "diversity")
# Below this population per island, starting worker processes (about a second) costs
# more than they save on a short run (bench/bench_islands.py).
PROCESS_POPULATION = 1000


def run_evolution(experiment: Experiment, task: EvolveTask,
                  progress: Callable[[int, int], None] | None = None,
                  stop: Callable[[], bool] = lambda: False,
                  rows_shown: int | None = ROWS_SHOWN, ray: bool = False) -> RunOutput:
    """Run the GA; every generation's best loss is kept, the other statistics at the
    resolution of :mod:`engine.headless.history`. ``ray``: islands run as Ray actors."""
    if task.algorithm != "ga":  # OpenES, PSO: float weights
        return run_strategy(experiment, task, progress, stop, rows_shown)
    chain, session = experiment.chain, experiment.session
    setup = prepare_evolution(chain, experiment.inputs, experiment.targets, session.loss, task,
                              session.seed)
    if task.islands > 1:
        return _run_islands(experiment, task, setup, progress, stop, rows_shown, ray)
    log = log_generations(setup.generations(), _row, task.generations, progress, stop)
    best, rows, last, interrupted = log.best, log.rows, log.last, log.interrupted
    table = np.asarray(rows.rows, dtype=float)
    load_genome(chain, torch.from_numpy(last.best_genome), setup.scales)
    final = Pass(chain, experiment.inputs, experiment.targets, session.loss).run()
    history: dict[str, Any] = {name: table[:, i].tolist() for i, name in enumerate(COLUMNS)
                               if name not in ("generation", "std", "evaluations")}
    history["generation"] = table[:, 0].astype(int).tolist()
    history["stride"] = rows.stride
    result = {
        "format": "chainlab-result/1", "task": "evolve", "interrupted": interrupted,
        "device": str(setup.device), "device_note": setup.device_note or None,
        "evaluation": setup.evaluator.evaluation,
        "generations_done": last.generation,
        "history": history,
        "network": network_record(chain),
        "genome": genome_hex(torch.from_numpy(last.best_genome)),
        "scales": setup.scales,
    }
    result.update(pass_result(final, rows_shown))  # "loss": the best network's, ordinary pass
    output = RunOutput(result=result)
    output.tables["history"] = (list(COLUMNS), [[int(row[0]), *row[1:7], int(row[7])]
                                                for row in table.tolist()])
    if rows.stride > 1:  # the thinned rows do not hold every generation's best: this does
        generations = np.arange(best.size)
        output.tables["best"] = (["generation", "best"], (generations, best.values()))
    x = table[:, 0]
    output.plots.append(LinePlot("evolution_loss", "Population loss per generation",
                                 "generation", "loss", (
                                     Series("best", *peak_decimate(
                                         np.arange(best.size, dtype=float), best.values())),
                                     Series("mean", x, table[:, 2]),
                                     Series("worst", x, table[:, 4])),
                                 log_y=True))
    output.plots.append(LinePlot("diversity", "Population diversity", "generation",
                                 "mean pairwise Hamming distance (bits)",
                                 (Series("diversity", x, table[:, 5]),)))
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)  # of the best individual, now loaded in the chain
    if boundary is not None:
        output.plots.append(boundary)
    return output


def _row(stats: GenerationStats) -> list[float]:
    return [stats.generation, stats.best, stats.mean, stats.std, stats.worst,
            stats.diversity, stats.seconds, stats.evaluations]


def island_workers(task: EvolveTask, device: torch.device) -> int:
    """Worker processes for an island run: 0 (this process) on a GPU, on one core or for
    small populations; otherwise one per core, at most one per island. Either way the
    history is the same."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    if device.type != "cpu" or cores < 2 or task.population < PROCESS_POPULATION:
        return 0
    return min(task.islands, cores)


def _until_workers_lost(records: Iterator[IslandGeneration], stop: Callable[[], bool],
                        lost: list[BaseException]) -> Iterator[IslandGeneration]:
    """``records``, ending early when the worker processes were lost to the interrupt
    that ``stop()`` reports: a signal to the whole process group in a worker's first
    moments, before it could leave signals to this process (see
    :mod:`engine.core.processes`). What was computed before is kept, as for any
    interrupt; losing them otherwise, or before generation 0, raises."""
    computed = False
    try:
        for record in records:
            computed = True
            yield record
    except WORKERS_LOST as error:
        if not (stop() and computed):
            raise
        lost.append(error)


def _run_islands(experiment: Experiment, task: EvolveTask, setup: EvolutionSetup,
                 progress: Callable[[int, int], None] | None, stop: Callable[[], bool],
                 rows_shown: int | None, ray: bool) -> RunOutput:
    """``task.islands`` populations with ring migration: the global best of every
    generation, each island's statistics at the thinned resolution, the best network.
    ``ray``: each island in a Ray actor (Ray initialised by the caller)."""
    chain, session = experiment.chain, experiment.session
    workers = 0 if ray else island_workers(task, setup.device)
    records = evolve_islands(island_plan(setup), task.islands, task.migration.every,
                             task.migration.count, workers=workers, ray=ray)
    lost: list[BaseException] = []
    log = log_generations(_until_workers_lost(records, stop, lost), _island_row,
                          task.generations, progress, stop)
    best, rows, last = log.best, log.rows, log.last
    interrupted = log.interrupted or bool(lost)
    table = np.asarray(rows.rows, dtype=float)  # (rows, 5 + 4 · islands)
    best_genome = torch.tensor(last.best_genome)  # from Ray it is a read-only array
    load_genome(chain, best_genome, setup.scales)
    final = Pass(chain, experiment.inputs, experiment.targets, session.loss).run()
    width = len(ISLAND_COLUMNS)
    per_island = [table[:, len(GLOBAL_COLUMNS) + width * k:len(GLOBAL_COLUMNS) + width * (k + 1)]
                  for k in range(task.islands)]
    history: dict[str, Any] = {
        "generation": table[:, 0].astype(int).tolist(), "best": table[:, 1].tolist(),
        "best_island": table[:, 2].astype(int).tolist(), "seconds": table[:, 3].tolist(),
        "stride": rows.stride,
        "islands": [{name: island[:, j].tolist() for j, name in enumerate(ISLAND_COLUMNS)}
                    for island in per_island]}
    result = {
        "format": "chainlab-result/1", "task": "evolve", "interrupted": interrupted,
        "device": str(setup.device), "device_note": setup.device_note or None,
        "evaluation": setup.evaluator.evaluation,
        "generations_done": last.generation,
        "islands": task.islands, "migration": task.migration.model_dump(),
        "workers": workers, "islands_on": _islands_on(ray, workers),
        "best_island": last.best_island,
        "history": history,
        "network": network_record(chain),
        "genome": genome_hex(best_genome),
        "scales": setup.scales,
    }
    result.update(pass_result(final, rows_shown))
    output = RunOutput(result=result)
    header = [*GLOBAL_COLUMNS, *(f"island{k}_{name}" for k in range(task.islands)
                                 for name in ISLAND_COLUMNS)]
    output.tables["history"] = (header, [[int(row[0]), row[1], int(row[2]), row[3],
                                          int(row[4]), *row[5:]] for row in table.tolist()])
    if rows.stride > 1:
        output.tables["best"] = (["generation", "best"], (np.arange(best.size), best.values()))
    x = table[:, 0]
    output.plots.append(LinePlot("evolution_loss", "Best loss per generation, overall and "
                                 "per island", "generation", "loss", (
                                     Series("best", *peak_decimate(
                                         np.arange(best.size, dtype=float), best.values())),
                                     *(Series(f"island {k}", x, island[:, 0])
                                       for k, island in enumerate(per_island))),
                                 log_y=True))
    output.plots.append(LinePlot("diversity", "Diversity per island", "generation",
                                 "mean pairwise Hamming distance (bits)",
                                 tuple(Series(f"island {k}", x, island[:, 3])
                                       for k, island in enumerate(per_island))))
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)
    if boundary is not None:
        output.plots.append(boundary)
    return output


def _islands_on(ray: bool, workers: int) -> str:
    if ray:
        return "ray actors"
    return f"{workers} worker processes" if workers else "this process"


def _island_row(record: IslandGeneration) -> list[float]:
    row = [record.generation, record.best, record.best_island, record.seconds,
           record.evaluations]
    for stats in record.islands:
        row += [stats.best, stats.mean, stats.worst, stats.diversity]
    return row
