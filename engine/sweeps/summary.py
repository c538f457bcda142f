"""A sweep's summary: ``sweep.csv``, ``sweep.json`` and the plots of the final loss.

One row per finished cell, in the cells' order: ``id``, each axis under its key as the
sweep file writes it, ``status``, ``loss``, ``grad_ratio``, ``best_loss``, ``seconds``,
``error``. The numbers come from the cells' ``result.json`` files, so a cell gives the
same numbers whether it ran now or in an earlier, interrupted sweep.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.plots import HeatMapPlot, LinePlot, Series, SmallMultiples
from engine.data.session import write_atomic
from engine.headless.results import PlotRenderer
from engine.sweeps.cells import Cell

METRICS = ("status", "loss", "grad_ratio", "best_loss", "seconds", "error")
SEED_AXIS = "seed"


def summary_rows(cells: list[Cell], outcomes: dict[str, dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """One row per cell that has an outcome (cells never run are left out)."""
    rows = []
    for cell in cells:
        outcome = outcomes.get(cell.id)
        if outcome is not None:
            rows.append({"id": cell.id, **cell.value_map(),
                         **{key: outcome.get(key) for key in METRICS}})
    return rows


def write_summary(folder: Path, axes: list[str], rows: list[dict[str, Any]],
                  sweep: dict[str, Any]) -> None:
    """``sweep.csv`` and ``sweep.json`` in ``folder``, each written atomically."""
    header = ["id", *axes, *METRICS]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell_text(row[key]) for key in header])
    write_atomic(folder / "sweep.csv", text.getvalue().encode("utf-8"))
    document = {"format": "chainlab-sweep-result/1", "sweep": sweep,
                "rows": [{key: _finite(row[key]) for key in header} for row in rows]}
    write_atomic(folder / "sweep.json",
                 (json.dumps(document, indent=1, allow_nan=False) + "\n").encode("utf-8"))


def holds_other_sweep(folder: Path, sweep: dict[str, Any]) -> bool:
    """Whether ``folder/sweep.json`` records a sweep file other than ``sweep`` (its cells
    stay: those whose resolved session is the same are reused, see
    :mod:`engine.sweeps.cells`; ``sweep.csv`` will list the new sweep's)."""
    try:
        recorded = json.loads((folder / "sweep.json").read_text())["sweep"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(recorded != sweep)


def other_sweep_notice(folder: Path) -> str:
    return f"{folder} holds results of a different sweep file; cells with the same " \
        "content are reused"


PLOTTED = {"loss": "Final loss", "grad_ratio": "‖dL/dW‖ first / last linear layer"}


# why a heat-map cell has no value, by the status of its rows, the first found
MISSING = {"pending": "…", "not run": "not run", "failed": "failed", "no value": "n/a"}


def heat_map(metric: str, axes: list[str], rows: list[dict[str, Any]]) -> HeatMapPlot | None:
    """``metric`` over two varying axes (``seed`` aside) as a heat map: each cell the
    mean over seeds, labelled with the mean and the seeds' range. None for other shapes
    (and for rows that do not yet show two axes varying).

    A cell with no value has NaN and a label that says why: "…" (a row's ``status`` is
    ``pending``: still to run), "not run" (a stopped sweep's), "failed" (every seed
    failed), "n/a" (finished without this metric); "" when no row has its values (not
    in a random sample).
    """
    varying = [a for a in axes if a != SEED_AXIS and len({_key(r[a]) for r in rows}) > 1]
    ok = [r for r in rows if r["status"] == "ok" and _is_number(r[metric])]
    if len(varying) != 2:  # no cell finished yet: a grid of "…" all the same
        return None
    x_axis, y_axis = varying
    xs, ys = _order(rows, x_axis), _order(rows, y_axis)
    column = {_key(v): n for n, v in enumerate(xs)}
    line = {_key(v): n for n, v in enumerate(ys)}
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    others: dict[tuple[int, int], list[str]] = defaultdict(list)
    for row in rows:
        where = (line[_key(row[y_axis])], column[_key(row[x_axis])])
        if row["status"] == "ok" and _is_number(row[metric]):
            cells[where].append(float(row[metric]))
        else:
            others[where].append("no value" if row["status"] == "ok" else str(row["status"]))
    values = np.full((len(ys), len(xs)), np.nan)
    text = [["" for _ in xs] for _ in ys]
    for (r, c), found in cells.items():
        values[r, c] = float(np.mean(found))
        spread = f"\n[{min(found):.2g}, {max(found):.2g}]" if len(found) > 1 else ""
        text[r][c] = f"{values[r, c]:.3g}{spread}"
    for (r, c), statuses in others.items():
        if (r, c) not in cells:
            text[r][c] = next((MISSING[s] for s in MISSING if s in statuses), "")
        elif "failed" in statuses:  # the mean is of the seeds that finished
            text[r][c] += f"\n{statuses.count('failed')} failed"
    positive = all(float(r[metric]) > 0 for r in ok)
    return HeatMapPlot(f"sweep_{metric}_heat_map", f"{PLOTTED[metric]} (mean over seeds)",
                       x_axis, y_axis, tuple(map(_cell_text, xs)), tuple(map(_cell_text, ys)),
                       values, tuple(tuple(line_) for line_ in text), log=positive)


def metric_plot(metric: str, axes: list[str], rows: list[dict[str, Any]]) -> LinePlot | None:
    """``metric`` over the one or two axes that vary (``seed`` aside), mean over seeds.

    One axis: the mean with the seeds' lowest and highest as two more series. Two axes:
    the numeric one (else the first) on x, one series per value of the other. None for
    other shapes or no finished cell. Categorical values are placed at 0, 1, 2, ... in
    the sweep file's order, named by ``x_ticks``, and drawn as points (no line joins
    two categories).
    """
    varying = [a for a in axes if a != SEED_AXIS and len({_key(r[a]) for r in rows}) > 1]
    ok = [r for r in rows if r["status"] == "ok" and _is_number(r[metric])]
    if not ok or len(varying) not in (1, 2):
        return None
    if len(varying) == 2 and not all(_is_number(r[varying[0]]) for r in rows):
        varying.reverse()
    first = varying[0]
    xs = _positions([r[first] for r in rows])
    groups: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in ok:
        label = f"{varying[1]}={_cell_text(row[varying[1]])}" if len(varying) == 2 \
            else "mean over seeds"
        groups[label][xs[_key(row[first])]].append(float(row[metric]))
    numeric = all(_is_number(r[first]) for r in rows)
    style = "line" if numeric else "points"  # a line between categories means nothing
    series = []
    for label, by_x in groups.items():
        x = np.asarray(sorted(by_x))
        series.append(Series(label, x, np.asarray([np.mean(by_x[v]) for v in x]), style))
        if len(varying) == 1:
            series.append(Series("lowest seed", x, np.asarray([min(by_x[v]) for v in x]),
                                 style))
            series.append(Series("highest seed", x, np.asarray([max(by_x[v]) for v in x]),
                                 style))
    positive = all(float(r[metric]) > 0 for r in ok)
    return LinePlot(f"sweep_{metric}", f"{PLOTTED[metric]} (mean over seeds)", first, metric,
                    tuple(series), log_y=positive,
                    integer_x=not numeric or all(isinstance(r[first], int) for r in rows),
                    x_ticks=() if numeric else tuple(map(_cell_text, _order(rows, first))))


MAX_PANELS = 48  # small multiples on one page; beyond, the first ones


def loss_curves(runs: Path, axes: list[str], rows: list[dict[str, Any]]
                ) -> SmallMultiples | None:
    """Small multiples of the training loss (or the GA's best loss) over the steps: one
    panel per combination of the non-seed axes, one line per seed. None when no finished
    cell trained or evolved."""
    others = [a for a in axes if a != SEED_AXIS]
    panels: dict[str, list[Series]] = {}
    x_label = "step"
    for row in rows:
        if row["status"] != "ok":
            continue
        try:
            history = json.loads((runs / row["id"] / "result.json").read_text())["history"]
        except (OSError, ValueError, KeyError):
            continue
        if "loss" in history:
            x, y = history["step"], history["loss"]
        elif "best" in history:
            x, y, x_label = history["generation"], history["best"], "generation"
        else:
            continue
        title = ", ".join(f"{a}={_cell_text(row[a])}" for a in others) or "the sweep"
        seed = f"seed {_cell_text(row[SEED_AXIS])}" if SEED_AXIS in row else "loss"
        panels.setdefault(title, []).append(Series(seed, np.asarray(x, dtype=float),
                                                   np.asarray(y, dtype=float)))
    if not panels:
        return None
    plots = tuple(LinePlot(f"loss_{n}", title, x_label, "loss", tuple(series), log_y=True)
                  for n, (title, series) in enumerate(list(panels.items())[:MAX_PANELS]))
    columns = min(4, len(plots))
    shown = "" if len(panels) <= MAX_PANELS else f" (the first {MAX_PANELS})"
    return SmallMultiples("sweep_loss_curves", f"Loss curves, one line per seed{shown}",
                          plots, columns)


def write_plots(folder: Path, axes: list[str], rows: list[dict[str, Any]],
                render: PlotRenderer) -> list[Path]:
    """One PNG per metric of :data:`PLOTTED` that :func:`metric_plot` or :func:`heat_map`
    can draw, and the loss curves' small multiples."""
    written = []
    plots: list[Any] = [plot for metric in PLOTTED
                        for plot in (metric_plot(metric, axes, rows),
                                     heat_map(metric, axes, rows))]
    plots.append(loss_curves(folder / "runs", axes, rows))
    for plot in plots:
        if plot is not None:
            written.append(folder / f"{plot.name}.png")
            render(plot, written[-1])
    return written


def _positions(values: list[Any]) -> dict[str, float]:
    if all(_is_number(v) for v in values):
        return {_key(v): float(v) for v in values}
    order: dict[str, float] = {}
    for value in values:
        order.setdefault(_key(value), float(len(order)))
    return order


def _order(rows: list[dict[str, Any]], axis: str) -> list[Any]:
    seen: dict[str, Any] = {}
    for row in rows:
        seen.setdefault(_key(row[axis]), row[axis])
    return list(seen.values())


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell_text(value: Any) -> str:
    """A CSV cell: text as it is, None empty, numbers in their shortest exact form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
