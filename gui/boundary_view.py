"""A decision-boundary plot: the model's score on a grid as a heat map, the data on top.

Used by the Training panel (the current chain) and the Evolution panel (the best
individual). The grid values come from the engine; this only draws and exports them.
Binary tasks and regression are a diverging heat map (Playground's orange → blue); with
K ≥ 3 classes each cell takes its most probable class's colour, paler where that
probability is lower (white at 1/K, full colour at 1).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from gui.plot_widgets import titled_plot

Extent = tuple[float, float, float, float]


def boundary_colormap() -> pg.ColorMap:
    """Playground's orange (class 0 / negative) → white → blue (class 1 / positive)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(245, 147, 34), (232, 234, 235), (8, 119, 189)])


CLASS_COLOURS = ((245, 147, 34), (8, 119, 189), (44, 160, 44), (214, 39, 40),
                 (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
                 (188, 189, 34), (23, 190, 207))
PALE = np.array([255.0, 255.0, 255.0])


def class_colour(k: int) -> tuple[int, int, int]:
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def argmax_image(probabilities: np.ndarray) -> np.ndarray:
    """RGB (rows, cols, 3) uint8: each cell in its argmax class's colour, mixed with white
    by how far its probability is above chance (1/K)."""
    classes = probabilities.shape[-1]
    winner = probabilities.argmax(-1)
    confidence = np.take_along_axis(probabilities, winner[..., None], -1)[..., 0]
    strength = np.clip((confidence - 1 / classes) / (1 - 1 / classes), 0, 1)[..., None]
    colours = np.array([class_colour(k) for k in range(classes)], dtype=float)[winner]
    return np.round(PALE + (colours - PALE) * (0.25 + 0.75 * strength)).astype(np.uint8)


class BoundaryView:
    """Owns one plot widget (``widget``) with the heat map and the two classes' points."""

    def __init__(self, title: str, name: str, point_size: int = 6) -> None:
        self.widget = titled_plot(title, "x1", "x2", name=name)
        self.image = pg.ImageItem()
        self._lookup = boundary_colormap().getLookupTable(nPts=256)
        self.image.setLookupTable(self._lookup)
        self.widget.addItem(self.image)
        self.point_size = point_size
        self.points: dict[int, pg.PlotDataItem] = {}
        self.widget.getPlotItem().export_table = self.table
        self.inputs = np.zeros((0, 2))
        self.targets = np.zeros(0)
        self.values: np.ndarray | None = None
        self.extent: Extent | None = None

    def show_data(self, inputs: np.ndarray, targets: np.ndarray, classes: int = 2) -> None:
        """The dataset's points, coloured by class (two classes: label > 0 is blue);
        the plot hides itself for data that is not 2-D."""
        two_d = inputs.shape[1] == 2
        self.widget.setVisible(two_d)
        self.inputs, self.targets = (inputs, targets) if two_d else (np.zeros((0, 2)),
                                                                      np.zeros(0))
        groups = [self.targets <= 0, self.targets > 0] if classes < 3 else \
            [self.targets == k for k in range(classes)]
        for k in range(max(len(groups), len(self.points))):
            curve = self.points.get(k)
            if curve is None:
                curve = self.points[k] = self.widget.plot(
                    [], [], pen=None, symbol="o", symbolSize=self.point_size, symbolPen="w",
                    symbolBrush=pg.mkBrush(class_colour(k)))
            mask = groups[k] if k < len(groups) else np.zeros(len(self.targets), bool)
            curve.setData(self.inputs[mask, 0], self.inputs[mask, 1])

    def show_values(self, values: np.ndarray | None, extent: Extent | None,
                    probabilities: bool) -> None:
        """Grid scores (rows are y); ``probabilities`` colours [0, 1], else [−1, 1].
        A (rows, cols, K) grid of class probabilities is drawn by argmax."""
        self.values, self.extent = values, extent
        if values is None or extent is None:
            self.image.setVisible(False)
            return
        x0, x1, y0, y1 = extent
        self.image.setVisible(True)
        if values.ndim == 3:
            self.image.setLookupTable(None)
            # ImageItem's first axis is x
            self.image.setImage(argmax_image(values).transpose(1, 0, 2), autoLevels=False,
                                levels=(0, 255))
        else:
            self.image.setLookupTable(self._lookup)
            self.image.setImage(values.T, autoLevels=False)
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
            if self.values.ndim == 3:  # the winning class and its probability
                winner = self.values.argmax(-1)
                rows += [["grid", float(xs[c]), float(ys[r]), int(winner[r, c]),
                          float(self.values[r, c, winner[r, c]])]
                         for r in range(res) for c in range(res)]
                return ["kind", "x1", "x2", "value", "probability"], rows
            rows += [["grid", float(xs[c]), float(ys[r]), float(self.values[r, c])]
                     for r in range(res) for c in range(res)]
        return ["kind", "x1", "x2", "value"], rows
