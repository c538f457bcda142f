"""What a headless run leaves behind: ``result.json``'s records, CSV tables, plots, and
the folder they are written into.

The runners (:mod:`engine.headless.runner`, :mod:`engine.headless.evolve`) compute;
this module lays their results out and writes them. Plots go through a renderer passed
in, so the engine stays free of Qt.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.chain import Chain
from engine.core.plots import (
    BoundaryPlot,
    HeatMapPlot,
    LinePlot,
    Series,
    SmallMultiples,
    decision_values,
    grid_extent,
)
from engine.core.stats import layer_stats
from engine.core.stepper import LayerRecord, Pass
from engine.data.experiment import Experiment
from engine.data.tasks import PrecisionSpec

Rows = list[list[Any]] | tuple[np.ndarray, ...]
ROWS_SHOWN = 1000  # samples whose per-layer values result.json lists (--all-rows: all)
PLOT_POINTS = 20_000  # points drawn of a long series (peak-decimated)

Plot = LinePlot | BoundaryPlot | HeatMapPlot | SmallMultiples
PlotRenderer = Callable[[Plot, Path], None]


@dataclass
class RunOutput:
    result: dict[str, Any]
    # per CSV file: its header and its rows, as lists or as columns (1-D arrays)
    tables: dict[str, tuple[list[str], Rows]] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)


def network_record(chain: Chain) -> dict[str, Any]:
    """The chain with every parameter and batch-norm running statistic, in the session
    format's ``network`` layout (a session with it reproduces the chain exactly)."""
    return chain.to_spec().model_dump(mode="json", exclude_none=True)


def pass_result(pass_: Pass, rows_shown: int | None = ROWS_SHOWN) -> dict[str, Any]:
    """``loss``, ``nonfinite`` and one record per layer, as ``result.json`` holds them.

    Per-sample values (output, dL/d output, f'(z)) are listed for the first
    ``rows_shown`` samples (None: all); the statistics cover the whole batch.
    """
    stats = layer_stats(pass_)
    samples = len(pass_.inputs)
    shown = samples if rows_shown is None else min(samples, rows_shown)
    layers = []
    for index, layer_stat in enumerate(stats):
        entry = _layer_entry(pass_.record(index), shown)
        entry["stats"] = layer_stat.as_dict()
        layers.append(entry)
    nonfinite = pass_.first_nonfinite()
    assert pass_.loss is not None, "pass_result needs a finished pass"
    return {
        "loss": float(pass_.loss),
        "nonfinite": None if nonfinite is None else
        {"layer": nonfinite.layer, "phase": nonfinite.phase, "message": nonfinite.describe()},
        "samples": samples,
        "rows_shown": shown,
        "layers": layers,
    }


def _layer_entry(record: LayerRecord, shown: int) -> dict[str, Any]:
    """One layer's values; a residual block's entry lists its layers' (without stats)."""
    entry: dict[str, Any] = {
        "index": record.index, "type": record.type, "kind": record.kind,
        "output": record.output[:shown].tolist(),
        "grad_output": record.grad_output[:shown].tolist()
        if record.grad_output is not None else None,
    }
    for name, grad in record.grads.items():
        entry[f"grad_{name}"] = grad.tolist()
    if record.type == "activation" and record.local is not None:
        entry["local_derivative"] = record.local[:shown].tolist()
    if record.inner:
        entry["layers"] = [_layer_entry(inner, shown) for inner in record.inner]
    return entry


def peak_decimate(x: np.ndarray, y: np.ndarray,
                  points: int = PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ~``points`` points that keep every bucket's minimum and maximum (what a
    plot of the whole series would show), for plotting series of millions of steps."""
    if len(x) <= points:
        return x, y
    buckets = points // 2
    edges = np.linspace(0, len(x), buckets + 1).astype(int)
    keep = []
    for start, end in itertools.pairwise(edges):
        chunk = y[start:end]
        finite = np.isfinite(chunk)
        if not finite.any():
            keep.append(start)
            continue
        where = np.flatnonzero(finite)
        low = where[np.argmin(chunk[finite])]
        high = where[np.argmax(chunk[finite])]
        keep += sorted({start + low, start + high})
    index = np.asarray(keep)
    return x[index], y[index]


def gradient_flow_plot(layers: list[dict[str, Any]]) -> LinePlot:
    index = np.asarray([entry["index"] for entry in layers], dtype=float)

    def column(key: str) -> np.ndarray:
        return np.asarray([_nan_if_none(entry["stats"][key]) for entry in layers])

    return LinePlot("gradient_flow", "Gradient flow per layer", "layer", "L2 norm",
                    (Series("‖dL/d output‖", index, column("grad_l2")),
                     Series("‖dL/dW‖", index, column("grad_weight_l2"), style="bars")),
                    log_y=True)


def swamped_plot(steps: np.ndarray, swamped: np.ndarray, linear: list[int | str],
                 precision: PrecisionSpec) -> LinePlot:
    """The share of each linear layer's weight updates that rounding to the storage
    format undid, per step. Shape: ``swamped`` is (rows, linear layers)."""
    return LinePlot("swamped", f"Swamped weight updates ({precision.storage}, "
                    f"{precision.rounding} rounding)", "step", "share of updates lost",
                    tuple(Series(f"layer {i}", steps, swamped[:, j])
                          for j, i in enumerate(linear)))


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


def write_csv(path: Path, header: list[str], rows: Rows) -> None:
    """Rows (lists that may hold None and text, or columns given as 1-D arrays) as CSV,
    streamed: floats in their shortest exact form (``repr``), None as an empty cell."""
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        if isinstance(rows, tuple):
            for start in range(0, len(rows[0]) if rows else 0, 10_000):
                writer.writerows(zip(*(c[start:start + 10_000].tolist() for c in rows),
                                     strict=True))
        else:
            writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_outputs(output: RunOutput, folder: Path,
                  render: PlotRenderer | None = None) -> list[Path]:
    """Write result.json, the CSV tables and the plots into ``folder`` (a staging folder:
    see :mod:`engine.headless.output_folder`). Returns the files' paths."""
    written = [folder / "result.json"]
    with written[0].open("w") as stream:
        json.dump(output.result, stream, indent=1)
        stream.write("\n")
    for name, (header, rows) in output.tables.items():
        written.append(folder / f"{name}.csv")
        write_csv(written[-1], header, rows)
    if render is not None:
        for plot in output.plots:
            written.append(folder / f"{plot.name}.png")
            render(plot, written[-1])
    return written
