"""Decision boundaries: two classes as a heat map, K classes by argmax with confidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from engine.core.plots import BoundaryPlot
from gui.boundary_view import CLASS_COLOURS, BoundaryView, argmax_image
from gui.plot_specs import render_plot_png


def test_argmax_image_colours_the_winning_class_by_confidence() -> None:
    probabilities = np.array([[[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]],
                              [[0.1, 0.1, 0.8], [0.0, 1.0, 0.0]]])
    image = argmax_image(probabilities)
    assert image.shape == (2, 2, 3)
    assert tuple(image[1, 1]) == CLASS_COLOURS[1]  # certain: the full colour
    assert np.abs(image[0, 1].astype(int) - 255).max() < 70  # chance: near white
    # class 0 at 0.9 is stronger than class 2 at 0.8, both in their own hue
    assert np.abs(image[0, 0].astype(int) - CLASS_COLOURS[0]).sum() < \
        np.abs(image[1, 0].astype(int) - CLASS_COLOURS[2]).sum()


def test_three_class_boundary_png_shows_every_region(qtbot, tmp_path: Path) -> None:
    res = 48
    xs = np.linspace(-1, 1, res)
    gx, gy = np.meshgrid(xs, xs)
    logits = np.stack([-gx * 4, gx * 4, gy * 4 - 1], axis=-1)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    points = np.array([[-0.8, 0.0], [0.8, 0.0], [0.0, 0.9]])
    plot = BoundaryPlot("decision_boundary", "three classes", probabilities,
                        (-1.0, 1.0, -1.0, 1.0), points, np.array([0.0, 1.0, 2.0]))
    path = tmp_path / "b.png"
    render_plot_png(plot, path)
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(
        image.height(), image.width(), 3)
    for colour in CLASS_COLOURS[:3]:
        close = np.abs(pixels.astype(int) - colour).sum(-1) < 60
        assert close.sum() > 200, colour


def test_view_table_holds_the_winning_class(qtbot) -> None:
    view = BoundaryView("b", "b")
    qtbot.addWidget(view.widget)
    values = np.zeros((4, 4, 3))
    values[..., 2] = 1.0
    view.show_data(np.zeros((3, 2)), np.array([0.0, 1.0, 2.0]), classes=3)
    view.show_values(values, (0.0, 1.0, 0.0, 1.0), probabilities=True)
    header, rows = view.table()
    assert header == ["kind", "x1", "x2", "value", "probability"]
    grid = [row for row in rows if row[0] == "grid"]
    assert len(grid) == 16
    assert all(row[3] == 2 and row[4] == 1.0 for row in grid)
    assert len(view.points) == 3
