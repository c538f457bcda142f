"""The population as a grid of 4-bit codes, and how one child was made.

Top: individuals (rows, best first) × parameters (columns), coloured by the code's value
(blue negative, red positive, grey zero); the elites are marked on the left. Bottom:
parent A, parent B, the crossover mask (which parent each code came from), the bits that
mutation flipped, and the child. Clicking a code emits ``code_clicked(code, where)`` (the
panel shows its bits in the Numbers lab).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from engine.evolution.ga import GenerationStats
from engine.evolution.genome import code_table

LINEAGE_ROWS = ("parent A", "parent B", "from A / B", "flipped bits", "child")


def code_colours() -> np.ndarray:
    """RGB per code: magnitude as saturation, sign as hue, zero grey."""
    values = code_table().numpy()
    colours = np.zeros((16, 3), dtype=np.ubyte)
    for code, value in enumerate(values):
        if value == 0:
            colours[code] = (200, 200, 200)
            continue
        strength = (7 + np.log2(abs(value))) / 7  # 2^-6 → 1/7, 1 → 1
        base = np.array((214, 39, 40)) if value > 0 else np.array((31, 119, 180))
        colours[code] = (255 - strength * (255 - base)).astype(np.ubyte)
    return colours


class GenomeView(pg.GraphicsLayoutWidget):
    """Codes of the best individuals and the lineage of this generation's first child."""

    code_clicked = Signal(int, str)

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.colours = code_colours()
        self.population_plot = self.addPlot(
            row=0, col=0,
            title="Population, best first (red +, blue −, grey 0; darker = larger |w|)")
        self.population_image = pg.ImageItem()
        self.population_plot.addItem(self.population_image)
        self.elite_marks = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush="#2ca02c")
        self.population_plot.addItem(self.elite_marks)
        self.population_plot.invertY(True)
        self.population_plot.setLabel("left", "individual (rank)")
        self.population_plot.setLabel("bottom", "parameter")
        self.lineage_plot = self.addPlot(row=1, col=0, title="How child 0 was made")
        self.lineage_image = pg.ImageItem()
        self.lineage_plot.addItem(self.lineage_image)
        self.lineage_plot.invertY(True)
        axis = self.lineage_plot.getAxis("left")
        axis.setTicks([[(i + 0.5, name) for i, name in enumerate(LINEAGE_ROWS)]])
        for plot in (self.population_plot, self.lineage_plot):
            plot.getAxis("left").setWidth(90)  # room for "flipped bits"; columns line up
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.last: GenerationStats | None = None
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def code_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(code, rank, parameter) under the population plot's data point (x, y)."""
        if self.last is None:
            return None
        rank, parameter = int(np.floor(y)), int(np.floor(x))
        rows, genome = self.last.sample.shape
        if not (0 <= rank < rows and 0 <= parameter < genome):
            return None
        return int(self.last.sample[rank, parameter]), rank, parameter

    def _on_scene_clicked(self, event: object) -> None:
        view = self.population_plot.vb
        position = event.scenePos()  # type: ignore[attr-defined]
        if not view.sceneBoundingRect().contains(position):
            return
        point = view.mapSceneToView(position)
        found = self.code_at(point.x(), point.y())
        if found is not None:
            code, rank, parameter = found
            self.code_clicked.emit(code, f"individual {rank + 1}, parameter {parameter}")

    def show_generation(self, stats: GenerationStats) -> None:
        self.last = stats
        self.lineage_image.setVisible(True)
        rows = self.colours[stats.sample]  # (rows, genome, 3)
        self.population_image.setImage(rows.transpose(1, 0, 2), levels=(0, 255))
        self.population_image.setRect(pg.QtCore.QRectF(0, 0, rows.shape[1], rows.shape[0]))
        self.population_plot.setRange(xRange=(-rows.shape[1] / 30, rows.shape[1]),
                                      yRange=(0, rows.shape[0]), padding=0.02)
        elites = stats.elites
        self.elite_marks.setOpts(x0=[-max(2, rows.shape[1] // 60)] * elites,
                                 y0=list(range(elites)), width=[max(2, rows.shape[1] // 60)]
                                 * elites, height=[1] * elites)
        lineage = stats.lineage
        if lineage is None:
            self.lineage_image.setVisible(False)
            return
        white, black = np.array((255, 255, 255)), np.array((40, 40, 40))
        mask_row = np.where(lineage.from_first_parent[:, None], np.array((255, 187, 120)),
                            np.array((152, 223, 138)))
        flips = np.unpackbits(lineage.flipped[:, None], axis=1)[:, 4:].sum(1)
        flip_row = np.where(flips[:, None] > 0, black, white)
        image = np.stack([self.colours[lineage.parent_codes[0]],
                          self.colours[lineage.parent_codes[1]], mask_row, flip_row,
                          self.colours[lineage.child_codes]]).astype(np.ubyte)
        self.lineage_image.setImage(image.transpose(1, 0, 2), levels=(0, 255))
        self.lineage_image.setRect(pg.QtCore.QRectF(0, 0, image.shape[1], image.shape[0]))
        self.lineage_plot.setRange(xRange=(-image.shape[1] / 30, image.shape[1]),
                                   yRange=(0, image.shape[0]), padding=0.02)

    def show_nothing(self) -> None:
        # Not named clear(): GraphicsLayoutWidget binds its layout's clear() (which
        # removes every plot) onto the instance, shadowing any method of that name.
        self.last = None
        blank = np.full((1, 1, 3), 255, dtype=np.ubyte)
        for image in (self.population_image, self.lineage_image):
            image.setImage(blank, levels=(0, 255))
        self.elite_marks.setOpts(x0=[0], y0=[0], width=[0], height=[0])
