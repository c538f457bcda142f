"""The Evolution page's Progress tab: the loss per generation (one population's best,
mean ± sd and worst; with islands the global best and each island's best, dashed), the
population's diversity (the GA's; with islands their mean), the decision boundary of the
best (2-D data), and the table behind the first two (the loss plot's CSV export).

Records are added as they arrive; the panel decides when to redraw (at most ~30 times a
second, part by part).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGridLayout, QWidget

from engine.evolution.ga import GenerationStats
from engine.evolution.islands import IslandGeneration
from engine.evolution.strategy_record import StrategyGeneration
from gui.boundary_view import BoundaryView
from gui.plot_widgets import (
    GrowingTable,
    StickyRanges,
    downsample_to_pixels,
    reset_range,
    set_keys,
    titled_plot,
)

COLUMNS = ("run", "generation", "best", "mean", "std", "worst", "diversity", "seconds",
           "evaluations")
GA = "#2ca02c"
ISLAND_COLOURS = ("#17becf", "#bcbd22", "#8c564b", "#e377c2", "#7f7f7f", "#ff7f0e")
LOSS_TITLE, DIVERSITY_TITLE = "Loss per generation", "Population diversity"
ONE_POPULATION_KEYS = (("best", GA), ("mean ± sd", "#1f77b4"), ("worst", "#d62728"))
ISLAND_KEYS_SHOWN = 3  # beyond, one key stands for the rest: the legend keeps to one line

Records = Sequence[GenerationStats] | Sequence[StrategyGeneration] | Sequence[IslandGeneration]


def loss_keys(islands: int) -> tuple[tuple[str, str], ...]:
    """The loss plot's legend: one population's best, mean ± sd and worst, or the global
    best and each island's best (dashed, in ISLAND_COLOURS' order)."""
    if islands <= 1:
        return ONE_POPULATION_KEYS
    shown = islands if islands <= ISLAND_KEYS_SHOWN else ISLAND_KEYS_SHOWN - 1
    # "island 1", then bare numbers: four keys fit a half-width plot's line at 1280×800
    keys = [("global best", GA)] + [(f"island {k + 1}" if k == 0 else str(k + 1),
                                     ISLAND_COLOURS[k % len(ISLAND_COLOURS)])
                                    for k in range(shown)]
    if shown < islands:
        keys.append((f"{shown + 1}–{islands}", "#7f7f7f"))
    return tuple(keys)


class ProgressPlots(QWidget):
    """The three plots and the table of the current run's generations."""

    def __init__(self) -> None:
        super().__init__()
        self.table = GrowingTable(len(COLUMNS) - 1)
        self._island_bests: list[list[float]] = []
        self.loss_plot = titled_plot(LOSS_TITLE, "generation", "loss",
                                     name="evolution_loss", integer_x=True,
                                     keys=ONE_POPULATION_KEYS)
        # invisible edges (not pen=None: pyqtgraph draws no path, and no band, without one)
        self.band_low = self.loss_plot.plot([], [], pen=pg.mkPen(None))
        self.band_high = self.loss_plot.plot([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=(31, 119, 180, 50))
        self.loss_plot.addItem(self.band)
        self.best_curve = self.loss_plot.plot([], [], pen=pg.mkPen(GA, width=2))
        self.mean_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.worst_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#d62728", width=1))
        self.island_curves: list[pg.PlotDataItem] = []  # each island's best (islands > 1)
        self.diversity_plot = titled_plot(DIVERSITY_TITLE, "generation",
                                          "mean pairwise Hamming distance (bits)",
                                          name="diversity", integer_x=True)
        self.diversity_curve = self.diversity_plot.plot([], [], pen=pg.mkPen("#9467bd",
                                                                             width=2))
        self.boundary = BoundaryView("Decision boundary of the best", "evolution_boundary",
                                     point_size=5)
        self.boundary_plot = self.boundary.widget
        for plot in (self.loss_plot, self.diversity_plot):
            downsample_to_pixels(plot)
        self.ranges = {"loss": StickyRanges(self.loss_plot),
                       "diversity": StickyRanges(self.diversity_plot)}
        grid = self._grid = QGridLayout(self)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.diversity_plot, 0, 1)
        grid.addWidget(self.boundary_plot, 1, 0, 1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        # equal halves: by size hints alone the loss plot's legend took most of the width
        # and clipped the diversity plot's title and labels at 1280×800
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    def show_algorithm(self, ga: bool) -> None:
        """The diversity plot is the GA's; without it the loss plot takes the row."""
        self.diversity_plot.setVisible(ga)
        self._grid.removeWidget(self.loss_plot)
        self._grid.addWidget(self.loss_plot, 0, 0, 1, 1 if ga else 2)

    def show_data(self, inputs: np.ndarray, targets: np.ndarray, classes: int) -> None:
        """The dataset under the boundary; for data that is not 2-D the boundary plot
        hides, and the loss and diversity plots take its height too."""
        self.boundary.show_data(inputs, targets, classes)
        self._grid.setRowStretch(1, 1 if inputs.shape[1] == 2 else 0)

    def add(self, records: Records) -> None:
        """Rows for the table: a GA or float strategy's numbers (a float strategy has no
        diversity); with islands the global best (mean, sd and worst are per island,
        not overall: left empty), the mean of the islands' diversities, and each
        island's best for its own curve."""
        if not records:
            return
        islands = [r for r in records if isinstance(r, IslandGeneration)]
        if islands:
            self._add_islands(islands)
            return
        self.table.extend([[r.generation, r.best, r.mean, r.std, r.worst,
                            getattr(r, "diversity", np.nan), r.seconds, r.evaluations]
                           for r in records if not isinstance(r, IslandGeneration)])

    def _add_islands(self, records: Sequence[IslandGeneration]) -> None:
        self.table.extend([[r.generation, r.best, np.nan, np.nan, np.nan,
                            float(np.mean([s.diversity for s in r.islands])), r.seconds,
                            r.evaluations] for r in records])
        count = len(records[0].islands)
        if len(self._island_bests) != count:
            self._island_bests = [[] for _ in range(count)]
        for record in records:
            for best, stats in zip(self._island_bests, record.islands, strict=True):
                best.append(stats.best)
        while len(self.island_curves) < count:
            colour = ISLAND_COLOURS[len(self.island_curves) % len(ISLAND_COLOURS)]
            self.island_curves.append(self.loss_plot.plot(
                [], [], pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine)))
            downsample_to_pixels(self.loss_plot)

    def clear(self) -> None:
        """No rows; the plots' ranges fit the next run's data afresh."""
        self.table = GrowingTable(len(COLUMNS) - 1)
        self._island_bests = []
        reset_range(self.loss_plot, self.ranges["loss"])
        reset_range(self.diversity_plot, self.ranges["diversity"])
        reset_range(self.boundary_plot)

    def loss_table(self, run_number: int) -> tuple[list[str], list[list[object]]]:
        """The rows with the run's number in the first column (runs stay apart)."""
        return list(COLUMNS), [[run_number, int(row[0]), *row[1:7], int(row[7])]
                               for row in self.table.view().tolist()]

    def redraw_loss(self) -> None:
        data = self.table.view()
        generation = data[:, 0]
        self.best_curve.setData(generation, data[:, 1])
        self.mean_curve.setData(generation, data[:, 2])
        worst = np.where(np.isfinite(data[:, 4]), data[:, 4], np.nan)
        self.worst_curve.setData(generation, worst, connect="finite")
        self.band_low.setData(generation, data[:, 2] - data[:, 3])
        self.band_high.setData(generation, data[:, 2] + data[:, 3])
        if len(generation) == 0:  # the band keeps its old path when its edges empty
            self.band.setPath(QPainterPath())
        islands = [np.asarray(best) for best in self._island_bests]
        set_keys(self.loss_plot, LOSS_TITLE, loss_keys(len(islands)))
        set_keys(self.diversity_plot, DIVERSITY_TITLE if len(islands) <= 1
                 else f"Diversity, mean over the {len(islands)} islands", ())
        for k, curve in enumerate(self.island_curves):
            if k < len(islands):
                curve.setData(generation, islands[k])
            else:
                curve.setData([], [])
        self.ranges["loss"].fit_curves(generation, [data[:, 1], data[:, 2] + data[:, 3],
                                                    worst, *islands])

    def redraw_diversity(self) -> None:
        data = self.table.view()
        self.diversity_curve.setData(data[:, 0], data[:, 5])
        self.ranges["diversity"].fit_curves(data[:, 0], [data[:, 5], np.zeros(1)])
