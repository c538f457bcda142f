"""The headless runner: run a session's task (step, train or evolve) into a RunOutput.

``run_session`` computes; :mod:`engine.headless.results` lays out and writes
``result.json``, the CSV tables and the plots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.core.layers import Linear
from engine.core.plots import LinePlot, Series
from engine.core.stepper import Pass
from engine.data.experiment import Experiment, build_experiment, make_trainer
from engine.data.session import Session
from engine.data.tasks import EvolveTask, TrainTask
from engine.headless.evolve import run_evolution
from engine.headless.results import (
    RunOutput,
    boundary_plot,
    gradient_flow_plot,
    layer_table,
    network_record,
    pass_result,
)


def run_session(session: Session, base_dir: Path = Path(),
                progress: Callable[[int, int], None] | None = None) -> RunOutput:
    """Run the session's task. Raises :class:`SessionError` for bad input."""
    experiment = build_experiment(session, base_dir)
    task = session.task
    if isinstance(task, EvolveTask):
        return run_evolution(experiment, task, progress)
    output = RunOutput(result={"format": "chainlab-result/1", "task": task.kind})
    if isinstance(task, TrainTask):
        _train(experiment, task, output, progress)
    final = Pass(experiment.chain, experiment.inputs, experiment.targets, session.loss).run()
    output.result.update(pass_result(final))
    output.tables["layers"] = layer_table(output.result["layers"])
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)
    if boundary is not None:
        output.plots.append(boundary)
    return output


def _train(experiment: Experiment, task: TrainTask, output: RunOutput,
           progress: Callable[[int, int], None] | None) -> None:
    session = experiment.session
    trainer = make_trainer(experiment.chain, experiment.inputs, experiment.targets,
                           session.loss, task, session.seed)
    steps = []
    for record in trainer.steps(task.steps):
        steps.append(record)
        if progress is not None:
            progress(record.step, task.steps)
    losses = [s.loss for s in steps]
    linear_indices = [i for i, layer in enumerate(experiment.chain.layers)
                      if isinstance(layer, Linear)]
    output.result["history"] = {
        "loss": losses,
        "update_ratio": [list(s.update_ratios) for s in steps],
        "weight_norm": [list(s.weight_norms) for s in steps],
        "linear_layers": linear_indices,
    }
    stopped = steps[-1].nonfinite if steps else None
    output.result["training_stopped"] = None if stopped is None else stopped.describe()
    output.result["network"] = network_record(experiment.chain)
    output.result["skipped_batches"] = steps[-1].skipped if steps else 0
    header = ["step", "loss", "lr"] + [f"update_ratio_{i}" for i in linear_indices] \
        + [f"weight_norm_{i}" for i in linear_indices]
    output.tables["history"] = (header, [[s.step, s.loss, s.lr, *s.update_ratios,
                                          *s.weight_norms] for s in steps])
    x = np.arange(1, len(steps) + 1, dtype=float)
    output.plots.append(LinePlot("loss", "Training loss", "step", "loss",
                                 (Series("loss", x, np.asarray(losses)),), log_y=True))
    ratios = np.asarray([s.update_ratios for s in steps]).reshape(len(steps), -1)
    output.plots.append(LinePlot(
        "update_ratio", "Update-to-data ratio per linear layer", "step", "lr·std(grad)/std(W)",
        tuple(Series(f"layer {i}", x, ratios[:, j]) for j, i in enumerate(linear_indices)),
        log_y=True, reference_y=1e-3))


