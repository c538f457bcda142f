"""What a headless run leaves behind: ``result.json``'s records, CSV tables, plots, and
the folder they are written into.

The runners (:mod:`engine.headless.runner`, :mod:`engine.headless.evolve`) compute;
this module lays their results out and writes them. Plots go through a renderer passed
in, so the engine stays free of Qt.
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

from engine.core.chain import Chain
from engine.core.plots import BoundaryPlot, LinePlot, Series, decision_values, grid_extent
from engine.core.stats import layer_stats
from engine.core.stepper import Pass
from engine.data.experiment import Experiment
from engine.data.session import SessionError

Plot = LinePlot | BoundaryPlot
PlotRenderer = Callable[[Plot, Path], None]


@dataclass
class RunOutput:
    result: dict[str, Any]
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)


def network_record(chain: Chain) -> dict[str, Any]:
    """The chain with every parameter and batch-norm running statistic, in the session
    format's ``network`` layout (a session with it reproduces the chain exactly)."""
    return chain.to_spec().model_dump(mode="json", exclude_none=True)


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
    assert pass_.loss is not None, "pass_result needs a finished pass"
    return {
        "loss": float(pass_.loss),
        "nonfinite": None if nonfinite is None else
        {"layer": nonfinite.layer, "phase": nonfinite.phase, "message": nonfinite.describe()},
        "layers": layers,
    }


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
    if dataset.inputs.shape[1] != 2 or dataset.task != "classification" \
            or not np.isfinite(dataset.inputs).all():
        return None
    extent = grid_extent(dataset.inputs)
    values = decision_values(experiment.chain, experiment.session.loss, extent)
    return BoundaryPlot("decision_boundary", "Decision boundary", values, extent,
                        dataset.inputs, dataset.targets)


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def layer_table(layers: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
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
