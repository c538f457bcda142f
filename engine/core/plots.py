"""Plot descriptions the engine hands to whatever draws them (GUI panels, headless PNGs).

The engine computes the numbers; :mod:`gui.export` turns these into PNG/SVG/CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.core.chain import Chain

LIVE_RESOLUTION = 48  # grid cells per side for boundaries redrawn while a run goes on


@dataclass(frozen=True)
class Series:
    label: str
    x: np.ndarray
    y: np.ndarray
    style: str = "line"  # "line", "bars" (squares) or "points" (dots, nothing joins them)


@dataclass(frozen=True)
class LinePlot:
    name: str  # file stem
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    log_y: bool = False
    reference_y: float | None = None
    integer_x: bool = True  # x counts steps, generations or layers: whole-number ticks
    x_ticks: tuple[str, ...] = ()  # categories at x = 0, 1, 2, ...: their names as ticks


@dataclass(frozen=True)
class BoundaryPlot:
    """A decision-boundary heat map: model output on a grid, with the data on top.

    ``values`` is one score per cell (resolution, resolution), or for K ≥ 3 classes the
    class probabilities per cell (resolution, resolution, K): each cell is drawn in its
    most probable class's colour, as strong as that probability.
    """

    name: str
    title: str
    values: np.ndarray  # (resolution, resolution[, K]), rows are y
    extent: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    points: np.ndarray  # (samples, 2)
    labels: np.ndarray  # (samples,)
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeatMapPlot:
    """A metric over two categorical axes: one coloured cell per combination, labelled
    with its value (a sweep's mean over seeds, and the seeds' spread).

    Shape: ``values`` and ``cell_text`` are (len(y_ticks), len(x_ticks)); NaN (and "")
    where no cell finished.
    """

    name: str
    title: str
    x_label: str
    y_label: str
    x_ticks: tuple[str, ...]
    y_ticks: tuple[str, ...]
    values: np.ndarray
    cell_text: tuple[tuple[str, ...], ...]
    log: bool = False  # colour by log10 of the value


@dataclass(frozen=True)
class SmallMultiples:
    """Many small line plots on one page, ``columns`` a row (a sweep's loss curves: one
    panel per combination of axis values, one line per seed)."""

    name: str
    title: str
    panels: tuple[LinePlot, ...]
    columns: int


def grid_extent(points: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    low, high = points.min(0), points.max(0)
    pad = (high - low) * margin + 1e-9
    return (float(low[0] - pad[0]), float(high[0] + pad[0]),
            float(low[1] - pad[1]), float(high[1] + pad[1]))


def grid_inputs(extent: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """Grid points (resolution², 2), row-major with y as the slow axis."""
    xs = np.linspace(extent[0], extent[1], resolution)
    ys = np.linspace(extent[2], extent[3], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def score(outputs: torch.Tensor, loss: str) -> torch.Tensor:
    """What a boundary plot colours, per sample: P(class 1) for binary classification,
    every class's probability (samples, K) for cross entropy over K ≥ 3 outputs, the
    first output otherwise."""
    if loss == "bce_with_logits":
        return torch.sigmoid(outputs[:, 0])
    if loss == "cross_entropy":
        probabilities = torch.softmax(outputs, -1)
        return probabilities if outputs.shape[1] >= 3 else probabilities[:, -1]
    return outputs[:, 0]


def decision_values(chain: Chain, loss: str, extent: tuple[float, float, float, float],
                    resolution: int = 64) -> np.ndarray:
    """The chain's :func:`score` on a grid, (resolution, resolution) or (resolution,
    resolution, K); needs a 2-input chain. Batch norm uses its running statistics."""
    grid = torch.tensor(grid_inputs(extent, resolution), dtype=chain.dtype)
    values = score(chain.infer(grid), loss)
    return values.reshape(resolution, resolution, -1).squeeze(-1).cpu().numpy().copy()
