"""The headless ``evolve`` task: run the GA on a session and lay out its results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.core.plots import LinePlot, Series
from engine.core.stepper import Pass
from engine.data.experiment import Experiment
from engine.data.tasks import EvolveTask
from engine.evolution.ga import GenerationStats
from engine.evolution.genome import genome_hex, load_genome
from engine.evolution.setup import prepare_evolution
from engine.headless.history import EveryStep, ThinnedRows
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


def run_evolution(experiment: Experiment, task: EvolveTask,
                  progress: Callable[[int, int], None] | None = None,
                  stop: Callable[[], bool] = lambda: False,
                  rows_shown: int | None = ROWS_SHOWN) -> RunOutput:
    """Run the GA; every generation's best loss is kept, the other statistics at the
    resolution of :mod:`engine.headless.history`."""
    chain, session = experiment.chain, experiment.session
    setup = prepare_evolution(chain, experiment.inputs, experiment.targets, session.loss, task,
                              session.seed)
    best, rows = EveryStep(), ThinnedRows(first=0)
    last: GenerationStats | None = None
    interrupted = False
    for stats in setup.generations():
        last = stats
        best.append(stats.best)
        if rows.offer(stats.generation):
            rows.offer(stats.generation, _row(stats))
        if progress is not None:
            progress(stats.generation, task.generations)
        if stats.generation < task.generations and stop():
            interrupted = True
            break
    assert last is not None
    rows.close(last.generation, _row(last))
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
