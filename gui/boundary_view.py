"""A decision-boundary plot: the model's score on a grid as a heat map, the data on top.

Used by the Training panel (the current chain) and the Evolution panel (the best
individual). The grid values come from the engine; this only draws and exports them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from gui.plot_widgets import titled_plot

Extent = tuple[float, float, float, float]


def boundary_colormap() -> pg.ColorMap:
    """Playground's orange (class 0 / negative) → white → blue (class 1 / positive)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(245, 147, 34), (232, 234, 235), (8, 119, 189)])


class BoundaryView:
    """Owns one plot widget (``widget``) with the heat map and the two classes' points."""

    def __init__(self, title: str, name: str, point_size: int = 6) -> None:
        self.widget = titled_plot(title, "x1", "x2", name=name)
        self.image = pg.ImageItem()
        self.image.setLookupTable(boundary_colormap().getLookupTable(nPts=256))
        self.widget.addItem(self.image)
        self.points = {sign: self.widget.plot(
            [], [], pen=None, symbol="o", symbolSize=point_size, symbolPen="w",
            symbolBrush=colour) for sign, colour in ((1, "#0877bd"), (-1, "#f59322"))}
        self.widget.getPlotItem().export_table = self.table
        self.inputs = np.zeros((0, 2))
        self.targets = np.zeros(0)
        self.values: np.ndarray | None = None
        self.extent: Extent | None = None

    def show_data(self, inputs: np.ndarray, targets: np.ndarray) -> None:
        """The dataset's points; the plot hides itself for data that is not 2-D."""
        two_d = inputs.shape[1] == 2
        self.widget.setVisible(two_d)
        self.inputs, self.targets = (inputs, targets) if two_d else (np.zeros((0, 2)),
                                                                      np.zeros(0))
        for sign, curve in self.points.items():
            mask = (self.targets > 0) if sign > 0 else (self.targets <= 0)
            curve.setData(self.inputs[mask, 0], self.inputs[mask, 1])

    def show_values(self, values: np.ndarray | None, extent: Extent | None,
                    probabilities: bool) -> None:
        """Grid scores (rows are y); ``probabilities`` colours [0, 1], else [−1, 1]."""
        self.values, self.extent = values, extent
        if values is None or extent is None:
            self.image.setVisible(False)
            return
        x0, x1, y0, y1 = extent
        self.image.setVisible(True)
        self.image.setImage(values.T, autoLevels=False)  # ImageItem's first axis is x
        self.image.setLevels((0.0, 1.0) if probabilities else (-1.0, 1.0))
        self.image.setRect(pg.QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))

    def table(self) -> tuple[list[str], list[list[object]]]:
        """Points (x1, x2, label) and grid cells (x1, x2, score), for CSV and SVG export."""
        rows: list[list[object]] = [["point", float(x), float(y), float(t)]
                                    for (x, y), t in zip(self.inputs, self.targets,
                                                         strict=False)]
        if self.values is not None and self.extent is not None:
            res = self.values.shape[0]
            xs = np.linspace(self.extent[0], self.extent[1], res)
            ys = np.linspace(self.extent[2], self.extent[3], res)
            rows += [["grid", float(xs[c]), float(ys[r]), float(self.values[r, c])]
                     for r in range(res) for c in range(res)]
        return ["kind", "x1", "x2", "value"], rows
