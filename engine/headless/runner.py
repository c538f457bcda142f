"""The headless runner: run a session's task (step, train or evolve) into a RunOutput.

``run_session`` computes; :mod:`engine.headless.results` lays out and writes
``result.json``, the CSV tables and the plots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.core.plots import LinePlot, Series
from engine.core.stepper import Pass
from engine.core.training import TrainStep
from engine.data.experiment import Experiment, build_experiment, make_trainer
from engine.data.session import Session
from engine.data.tasks import EvolveTask, TrainTask
from engine.headless.evolve import run_evolution
from engine.headless.history import EveryStep, ThinnedRows
from engine.headless.results import (
    ROWS_SHOWN,
    RunOutput,
    boundary_plot,
    gradient_flow_plot,
    layer_table,
    network_record,
    pass_result,
    peak_decimate,
    swamped_plot,
)


def run_session(session: Session, base_dir: Path = Path(),
                progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None,
                rows_shown: int | None = ROWS_SHOWN, ray: bool = False) -> RunOutput:
    """Run the session's task. Raises :class:`SessionError` for bad input.

    ``should_stop`` is asked after every step or generation; when it answers True the
    run ends there and the result so far is returned, marked ``"interrupted": true``.
    ``rows_shown`` caps the samples whose per-layer values ``result.json`` lists
    (None: all). ``ray`` runs an island evolution's islands as Ray actors (Ray must be
    initialised).
    """
    experiment = build_experiment(session, base_dir)
    task = session.task
    stop = should_stop or (lambda: False)
    if isinstance(task, EvolveTask):
        return run_evolution(experiment, task, progress, stop, rows_shown, ray=ray)
    output = RunOutput(result={"format": "chainlab-result/1", "task": task.kind,
                               "interrupted": False})
    if isinstance(task, TrainTask):
        _train(experiment, task, output, progress, stop)
    final = Pass(experiment.chain, experiment.inputs, experiment.targets, session.loss).run()
    output.result.update(pass_result(final, rows_shown))
    output.tables["layers"] = layer_table(output.result["layers"])
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)
    if boundary is not None:
        output.plots.append(boundary)
    return output


def _train(experiment: Experiment, task: TrainTask, output: RunOutput,
           progress: Callable[[int, int], None] | None, stop: Callable[[], bool]) -> None:
    session = experiment.session
    trainer = make_trainer(experiment.chain, experiment.inputs, experiment.targets,
                           session.loss, task, session.seed)
    losses, rows = EveryStep(), ThinnedRows()
    last = None
    for record in trainer.steps(task.steps):
        last = record
        losses.append(record.loss)
        if rows.offer(record.step):
            rows.offer(record.step, _row(record))
        if progress is not None:
            progress(record.step, task.steps)
        if record.step < task.steps and stop():
            output.result["interrupted"] = True
            break
    if last is not None:
        rows.close(last.step, _row(last))
    # a linear layer's index in the chain, or inside a residual block its module path
    linear: list[int | str] = [int(path) if path.isdigit() else path
                               for path, _ in experiment.chain.linear_layers()]
    n = len(linear)
    precision = task.precision
    width = 3 + (3 * n + len(RANGE_COUNTS) if precision is not None else 2 * n)
    table = np.asarray(rows.rows, dtype=float).reshape(len(rows.rows), width)
    ratios, norms = table[:, 3:3 + n], table[:, 3 + n:3 + 2 * n]
    output.result["history"] = {
        "step": table[:, 0].astype(int).tolist(),
        "loss": table[:, 1].tolist(),
        "update_ratio": ratios.tolist(),
        "weight_norm": norms.tolist(),
        "linear_layers": linear,
        "stride": rows.stride,
    }
    header = ["step", "loss", "lr"] + [f"update_ratio_{i}" for i in linear] \
        + [f"weight_norm_{i}" for i in linear]
    if precision is not None:
        swamped = table[:, 3 + 2 * n:3 + 3 * n]
        output.result["history"]["swamped"] = _nan_to_none(swamped)
        for k, name in enumerate(RANGE_COUNTS):
            output.result["history"][name] = table[:, 3 + 3 * n + k].astype(int).tolist()
        header += [f"swamped_{i}" for i in linear] + list(RANGE_COUNTS)
        output.plots.append(swamped_plot(table[:, 0], swamped, linear, precision))
    output.result["steps_done"] = losses.size
    stopped = last.nonfinite if last is not None else None
    output.result["training_stopped"] = None if stopped is None else stopped.describe()
    output.result["network"] = network_record(experiment.chain)
    output.result["skipped_batches"] = last.skipped if last is not None else 0
    output.tables["history"] = (header, [[int(row[0]), *row[1:]] for row in table.tolist()])
    every = losses.values()
    steps = np.arange(1, len(every) + 1)
    if rows.stride > 1:  # the thinned rows do not hold every step's loss: this does
        output.tables["loss"] = (["step", "loss"], (steps, every))
    output.plots.append(LinePlot("loss", "Training loss", "step", "loss",
                                 (Series("loss", *peak_decimate(steps.astype(float), every)),),
                                 log_y=True))
    output.plots.append(LinePlot(
        "update_ratio", "Update-to-data ratio per linear layer", "step", "std(ΔW)/std(W)",
        tuple(Series(f"layer {i}", table[:, 0], table[:, 3 + j])
              for j, i in enumerate(linear)),
        log_y=True, reference_y=1e-3))


RANGE_COUNTS = ("forward_overflow", "forward_flushed", "backward_overflow",
                "backward_flushed")


def _row(record: TrainStep) -> list[float]:
    row = [record.step, record.loss, record.lr, *record.update_ratios, *record.weight_norms]
    if record.range_counts is not None:
        counts = record.range_counts
        row += [*record.swamped, *(getattr(counts, name) for name in RANGE_COUNTS)]
    return row


def _nan_to_none(table: np.ndarray) -> list[list[float | None]]:
    """JSON has no NaN: a step that was not applied has no swamped share."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in table]
