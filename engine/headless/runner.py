"""The headless runner: run a session's task and lay out its results.

``run_session`` computes; ``write_outputs`` writes ``result.json``, CSV tables and PNG
plots (through a renderer passed in, so the engine stays free of Qt) into a folder,
staging everything first so that a failure leaves nothing half-written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.layers import Linear
from engine.core.optim import SGDConfig
from engine.core.plots import BoundaryPlot, LinePlot, Series, decision_values, grid_extent
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from engine.core.training import Trainer
from engine.data.experiment import Experiment, build_experiment
from engine.data.session import EvolveTask, Session, SessionError, TrainTask, dataset_task

Plot = LinePlot | BoundaryPlot
PlotRenderer = Callable[[Plot, Path], None]


@dataclass
class RunOutput:
    result: dict[str, Any]
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)


def run_session(session: Session, base_dir: Path = Path(),
                progress: Callable[[int, int], None] | None = None) -> RunOutput:
    """Run the session's task. Raises :class:`SessionError` for bad input."""
    experiment = build_experiment(session, base_dir)
    task = session.task
    if isinstance(task, EvolveTask):
        from engine.headless.evolve import run_evolution  # heavy only when asked for

        return run_evolution(experiment, task, progress)
    output = RunOutput(result={"format": "chainlab-result/1", "task": task.kind})
    if isinstance(task, TrainTask):
        _train(experiment, task, output, progress)
    final = Pass(experiment.chain, experiment.inputs, experiment.targets, session.loss).run()
    output.result.update(pass_result(final))
    output.tables["layers"] = _layer_table(output.result["layers"])
    output.plots.append(gradient_flow_plot(output.result["layers"]))
    boundary = boundary_plot(experiment)
    if boundary is not None:
        output.plots.append(boundary)
    return output


def pass_result(pass_: Pass) -> dict[str, Any]:
    """``loss``, ``nonfinite`` and one record per layer, as ``result.json`` holds them."""
    stats = layer_stats(pass_)
    layers = []
    for record, layer_stat in zip(pass_.records(), stats, strict=True):
        entry: dict[str, Any] = {
            "index": record.index, "type": record.type, "kind": record.kind,
            "output": record.output.tolist(),
            "grad_output": record.grad_output.tolist() if record.grad_output is not None
            else None,
        }
        for name, grad in record.grads.items():
            entry[f"grad_{name}"] = grad.tolist()
        if record.type == "activation" and record.local is not None:
            entry["local_derivative"] = record.local.tolist()
        entry["stats"] = layer_stat.as_dict()
        layers.append(entry)
    nonfinite = pass_.first_nonfinite()
    return {
        "loss": float(pass_.loss),  # type: ignore[arg-type]
        "nonfinite": None if nonfinite is None else
        {"layer": nonfinite.layer, "phase": nonfinite.phase, "message": nonfinite.describe()},
        "layers": layers,
    }


def _train(experiment: Experiment, task: TrainTask, output: RunOutput,
           progress: Callable[[int, int], None] | None) -> None:
    config = SGDConfig(task.lr, task.momentum, task.weight_decay, task.nesterov)
    generator = torch.Generator().manual_seed(experiment.session.seed + 1)
    trainer = Trainer(experiment.chain, experiment.inputs, experiment.targets,
                      experiment.session.loss, config, task.batch_size, generator)
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
    output.result["network"] = experiment.chain.to_spec().model_dump(mode="json",
                                                                     exclude_none=True)
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


def gradient_flow_plot(layers: list[dict[str, Any]]) -> LinePlot:
    index = np.asarray([entry["index"] for entry in layers], dtype=float)

    def column(key: str) -> np.ndarray:
        return np.asarray([_nan_if_none(entry["stats"][key]) for entry in layers])

    return LinePlot("gradient_flow", "Gradient flow per layer", "layer", "L2 norm",
                    (Series("‖dL/d output‖", index, column("grad_l2")),
                     Series("‖dL/dW‖", index, column("grad_weight_l2"), style="bars")),
                    log_y=True)


def boundary_plot(experiment: Experiment) -> BoundaryPlot | None:
    dataset = experiment.dataset
    if dataset.inputs.shape[1] != 2 or dataset_task(experiment.session.data) != \
            "classification" or not np.isfinite(dataset.inputs).all():
        return None
    extent = grid_extent(dataset.inputs)
    values = decision_values(experiment.chain, experiment.session.loss, extent)
    return BoundaryPlot("decision_boundary", "Decision boundary", values, extent,
                        dataset.inputs, dataset.targets)


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def _layer_table(layers: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    keys = list(layers[0]["stats"]) if layers else []
    return (["index", "type", "kind", *keys],
            [[e["index"], e["type"], e["kind"], *(e["stats"][k] for k in keys)] for e in layers])


def csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return stream.getvalue()


def write_outputs(output: RunOutput, out_dir: Path,
                  render: PlotRenderer | None = None) -> list[Path]:
    """Write result.json, the CSV tables and the plots into ``out_dir``.

    Everything is written into a staging folder inside ``out_dir`` first and moved into
    place only when all of it succeeded. Raises :class:`SessionError` (path ``--out``)
    when the folder cannot be written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".chainlab-", dir=out_dir))
    except OSError as error:
        raise SessionError("--out", f"cannot write to {out_dir}: {error.strerror or error}") \
            from None
    try:
        (staging / "result.json").write_text(json.dumps(output.result, indent=1) + "\n")
        for name, (header, rows) in output.tables.items():
            (staging / f"{name}.csv").write_text(csv_text(header, rows))
        if render is not None:
            for plot in output.plots:
                render(plot, staging / f"{plot.name}.png")
        written = []
        for staged in sorted(staging.iterdir()):
            target = out_dir / staged.name
            staged.replace(target)
            written.append(target)
        return written
    except OSError as error:
        raise SessionError("--out", f"cannot write to {out_dir}: {error.strerror or error}") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
