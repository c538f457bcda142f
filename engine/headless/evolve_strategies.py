"""The headless ``evolve`` task with ``algorithm`` openes or pso: run the float strategy
on a session and lay out its results as the GA's are laid out, less what only codes have
(the genome, its diversity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.core.plots import LinePlot, Series
from engine.core.stepper import Pass
from engine.data.experiment import Experiment
from engine.data.tasks import EvolveTask
from engine.evolution.strategies import load_weights, prepare_strategy, quantised_loss
from engine.evolution.strategy_record import StrategyGeneration
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

# history.csv's columns ("center": OpenES only, the loss of the mean it perturbed)
COLUMNS = ("generation", "best", "generation_best", "mean", "std", "worst", "center",
           "seconds", "evaluations")
LISTED = ("best", "generation_best", "mean", "worst", "seconds")  # in result.json's history


def run_strategy(experiment: Experiment, task: EvolveTask,
                 progress: Callable[[int, int], None] | None = None,
                 stop: Callable[[], bool] = lambda: False,
                 rows_shown: int | None = ROWS_SHOWN) -> RunOutput:
    """Run OpenES or PSO; every generation's best loss is kept, the other statistics at
    the resolution of :mod:`engine.headless.history`. The best weights found end up in
    the chain as float parameters."""
    chain, session = experiment.chain, experiment.session
    setup = prepare_strategy(chain, experiment.inputs, experiment.targets, session.loss,
                             task, session.seed)
    log = log_generations(setup.generations(), _row, task.generations, progress, stop)
    best, rows, last, interrupted = log.best, log.rows, log.last, log.interrupted
    table = np.asarray(rows.rows, dtype=float)
    load_weights(chain, last.best_weights)
    final = Pass(chain, experiment.inputs, experiment.targets, session.loss).run()
    history: dict[str, Any] = {name: table[:, COLUMNS.index(name)].tolist()
                               for name in LISTED}
    if task.algorithm == "openes":
        history["center"] = table[:, COLUMNS.index("center")].tolist()
    history["generation"] = table[:, 0].astype(int).tolist()
    history["stride"] = rows.stride
    result = {
        "format": "chainlab-result/1", "task": "evolve", "algorithm": task.algorithm,
        "settings": getattr(task, task.algorithm).model_dump(),
        "interrupted": interrupted,
        "device": str(setup.device), "device_note": setup.device_note or None,
        "generations_done": last.generation,
        "history": history,
        "network": network_record(chain),
        "scales": setup.scales,
        "quantised_loss": quantised_loss(setup.evaluator, last.best_weights),
    }
    result.update(pass_result(final, rows_shown))  # "loss": the best network's, ordinary pass
    output = RunOutput(result=result)
    columns = [name for name in COLUMNS if name != "center" or task.algorithm == "openes"]
    keep = [COLUMNS.index(name) for name in columns]
    output.tables["history"] = (columns, [[int(row[0]), *(row[i] for i in keep[1:-1]),
                                           int(row[-1])] for row in table.tolist()])
    if rows.stride > 1:  # the thinned rows do not hold every generation's best: this does
        output.tables["best"] = (["generation", "best"], (np.arange(best.size), best.values()))
    x = table[:, 0]
    series = [Series("best so far", *peak_decimate(np.arange(best.size, dtype=float),
                                                   best.values())),
              Series("mean", x, table[:, COLUMNS.index("mean")]),
              Series("worst", x, table[:, COLUMNS.index("worst")])]
    if task.algorithm == "openes":
        series.append(Series("centre", x, table[:, COLUMNS.index("center")]))
    name = {"openes": "OpenES", "pso": "PSO"}[task.algorithm]
    output.plots.append(LinePlot("evolution_loss", f"{name}: population loss per generation",
                                 "generation", "loss", tuple(series), log_y=True))
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)  # of the best weights, now loaded in the chain
    if boundary is not None:
        output.plots.append(boundary)
    return output


def _row(record: StrategyGeneration) -> list[float]:
    return [record.generation, record.best, record.generation_best, record.mean, record.std,
            record.worst, np.nan if record.center is None else record.center,
            record.seconds, record.evaluations]
