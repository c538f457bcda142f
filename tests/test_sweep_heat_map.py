"""The sweep's heat map (the mean over seeds per cell, the seeds' range in its label, a
gap where no cell finished) and its loss curves (a panel per combination, a line per
seed)."""

from __future__ import annotations

import json
import math

import numpy as np

from engine.sweeps.summary import heat_map, loss_curves, metric_plot


def row(activation: str, depth: int, seed: int, ratio: float | None,
        status: str = "ok") -> dict:
    return {"activation": activation, "depth": depth, "seed": seed, "status": status,
            "grad_ratio": ratio, "loss": 1.0}


def test_each_cell_is_the_mean_over_seeds_with_their_range() -> None:
    rows = [row("tanh", 2, 0, 0.2), row("tanh", 2, 1, 0.4), row("relu", 2, 0, 0.5),
            row("relu", 2, 1, 0.7), row("tanh", 5, 0, 1e-3), row("tanh", 5, 1, 3e-3),
            row("relu", 5, 0, None, "failed"), row("relu", 5, 1, None, "failed")]
    plot = heat_map("grad_ratio", ["activation", "depth", "seed"], rows)
    assert plot is not None
    assert plot.x_ticks == ("tanh", "relu")
    assert plot.y_ticks == ("2", "5")
    assert plot.values[0].tolist() == [0.30000000000000004, 0.6]
    assert math.isclose(plot.values[1, 0], 2e-3)
    assert np.isnan(plot.values[1, 1])  # both seeds failed: no colour, and says so
    assert plot.cell_text[1][1] == "failed"
    assert plot.cell_text[0][0] == "0.3\n[0.2, 0.4]"
    assert plot.log  # every value positive: coloured by log10


def test_cells_still_to_run_or_not_run_are_labelled_and_have_no_value() -> None:
    rows = [row("tanh", 2, 0, 0.2), row("tanh", 2, 1, None, "failed"),
            row("relu", 2, 0, None, "pending"), row("relu", 2, 1, None, "pending"),
            row("tanh", 5, 0, None, "not run"), row("relu", 5, 0, None, "not run")]
    plot = heat_map("grad_ratio", ["activation", "depth", "seed"], rows)
    assert plot is not None
    assert plot.x_ticks == ("tanh", "relu")  # a column of cells still to run is there
    assert plot.y_ticks == ("2", "5")
    assert plot.values[0, 0] == 0.2
    assert np.isnan(plot.values[0, 1])
    assert np.isnan(plot.values[1]).all()
    assert plot.cell_text == (("0.2\n1 failed", "…"), ("not run", "not run"))


def test_one_varying_axis_has_no_heat_map() -> None:
    rows = [row("tanh", 2, 0, 0.2), row("tanh", 5, 0, 0.1)]
    assert heat_map("grad_ratio", ["activation", "depth", "seed"], rows) is None


def write_cell(runs, cell_id: str, history: dict) -> None:
    (runs / cell_id).mkdir(parents=True)
    (runs / cell_id / "result.json").write_text(json.dumps({"history": history}))


def test_loss_curves_are_one_panel_per_combination_and_a_line_per_seed(tmp_path) -> None:
    runs = tmp_path / "runs"
    rows = []
    for n, (activation, seed) in enumerate([("tanh", 0), ("tanh", 1), ("relu", 0)]):
        write_cell(runs, f"c{n}", {"step": [1, 2, 3], "loss": [1.0, 0.5 + seed, 0.25]})
        rows.append({"id": f"c{n}", "activation": activation, "seed": seed, "status": "ok"})
    rows.append({"id": "bad", "activation": "relu", "seed": 1, "status": "failed"})
    plot = loss_curves(runs, ["activation", "seed"], rows)
    assert plot is not None
    assert [panel.title for panel in plot.panels] == ["activation=tanh", "activation=relu"]
    tanh = plot.panels[0]
    assert [s.label for s in tanh.series] == ["seed 0", "seed 1"]
    assert tanh.series[1].y.tolist() == [1.0, 1.5, 0.25]
    assert tanh.log_y


def test_evolve_cells_plot_the_best_loss_per_generation(tmp_path) -> None:
    runs = tmp_path / "runs"
    write_cell(runs, "g", {"generation": [0, 1], "best": [0.7, 0.6]})
    plot = loss_curves(runs, ["task.population"], [{"id": "g", "task.population": 50,
                                                    "status": "ok"}])
    assert plot is not None
    assert plot.panels[0].x_label == "generation"
    assert plot.panels[0].series[0].y.tolist() == [0.7, 0.6]


def test_step_cells_have_no_loss_curves(tmp_path) -> None:
    runs = tmp_path / "runs"
    write_cell(runs, "s", {})
    assert loss_curves(runs, ["activation"], [{"id": "s", "activation": "tanh",
                                               "status": "ok"}]) is None


def test_categories_on_x_are_named_points_with_the_seeds_range() -> None:
    rows = [{"task.algorithm": algorithm, "seed": seed, "status": "ok", "loss": loss}
            for algorithm, seed, loss in [("ga", 0, 0.6), ("ga", 1, 0.7), ("openes", 0, 0.1),
                                          ("openes", 1, 0.3), ("pso", 0, 0.4),
                                          ("pso", 1, 0.5)]]
    plot = metric_plot("loss", ["task.algorithm", "seed"], rows)
    assert plot is not None
    assert plot.x_ticks == ("ga", "openes", "pso")
    assert plot.x_label == "task.algorithm"
    assert [s.label for s in plot.series] == ["mean over seeds", "lowest seed", "highest seed"]
    assert {s.style for s in plot.series} == {"points"}  # no line joins two categories
    mean, low, high = plot.series
    assert mean.x.tolist() == [0, 1, 2]
    assert np.allclose(mean.y, [0.65, 0.2, 0.45])
    assert low.y.tolist() == [0.6, 0.1, 0.4]
    assert high.y.tolist() == [0.7, 0.3, 0.5]


def test_numbers_on_x_stay_a_line() -> None:
    rows = [{"task.lr": lr, "seed": 0, "status": "ok", "loss": 1 / lr} for lr in (0.1, 0.3)]
    plot = metric_plot("loss", ["task.lr", "seed"], rows)
    assert plot is not None
    assert plot.x_ticks == ()
    assert {s.style for s in plot.series} == {"line"}
