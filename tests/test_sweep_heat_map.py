"""The sweep's heat map: the mean over seeds per cell, the seeds' range in its label, a
gap where no cell finished; drawn with the axis values as ticks."""

from __future__ import annotations

import math

import numpy as np

from engine.sweeps.summary import heat_map


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
    assert np.isnan(plot.values[1, 1])  # both seeds failed: no colour, no label
    assert plot.cell_text[1][1] == ""
    assert plot.cell_text[0][0] == "0.3\n[0.2, 0.4]"
    assert plot.log  # every value positive: coloured by log10


def test_one_varying_axis_has_no_heat_map() -> None:
    rows = [row("tanh", 2, 0, 0.2), row("tanh", 5, 0, 0.1)]
    assert heat_map("grad_ratio", ["activation", "depth", "seed"], rows) is None
