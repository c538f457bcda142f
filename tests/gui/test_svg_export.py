"""SVG exports checked outside the scene that drew them: parsed with xml.etree, drawn by
rsvg-convert (cairo, as Inkscape; scripts/ensure-xvfb.sh installs it) and by QtSvg, and
compared with Qt's own drawing of the same plot. Where the data should land comes from
Qt's view mapping, or from a hand computation."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer

from gui.export import export_png, export_svg
from gui.plot_widgets import titled_plot

SVG = "{http://www.w3.org/2000/svg}"
RSVG = shutil.which("rsvg-convert")
RED, BLUE = "#ff0000", "#0000ff"


@pytest.fixture
def plot(qtbot) -> pg.PlotWidget:
    widget = titled_plot("Known <span style='color:#d62728'>red</span> curve", "x", "y",
                         name="known")
    qtbot.addWidget(widget)
    widget.resize(640, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def fix_range(widget: pg.PlotWidget, x: tuple[float, float], y: tuple[float, float]) -> None:
    widget.getPlotItem().setRange(xRange=x, yRange=y, padding=0)
    widget.getPlotItem().disableAutoRange()
    pg.QtWidgets.QApplication.processEvents()


def on_page(widget: pg.PlotWidget, x: float, y: float) -> QPointF:
    """Where Qt draws view point (x, y), relative to the plot's top left corner."""
    item = widget.getPlotItem()
    return item.getViewBox().mapViewToScene(QPointF(x, y)) - item.sceneBoundingRect().topLeft()


def view_on_page(widget: pg.PlotWidget) -> QRectF:
    item = widget.getPlotItem()
    corner = item.sceneBoundingRect().topLeft()
    return item.getViewBox().sceneBoundingRect().translated(-corner.x(), -corner.y())


def points_of(path: ET.Element) -> np.ndarray:
    """(n, 2) points of a path written with M/L and implicit L only."""
    data = path.get("d", "")
    assert set(re.sub(r"[-0-9. ]", "", data)) <= {"M", "L", "Z"}, data[:80]
    numbers = [float(v) for v in re.findall(r"-?[0-9.]+", data)]
    return np.array(numbers).reshape(-1, 2)


def pixels(path: Path) -> np.ndarray:
    """(rows, cols, 3) RGB of an image file, over white where transparent."""
    image = QImage(str(path))
    assert not image.isNull(), path
    flat = QImage(image.size(), QImage.Format.Format_RGB888)
    flat.fill(pg.QtGui.QColor("white"))
    painter = pg.QtGui.QPainter(flat)
    painter.drawImage(0, 0, image)
    painter.end()
    rows = np.frombuffer(flat.constBits(), np.uint8).reshape(flat.height(), flat.bytesPerLine())
    return rows[:, :flat.width() * 3].reshape(flat.height(), flat.width(), 3).astype(int)


def rsvg(svg: Path) -> np.ndarray:
    png = svg.with_suffix(".rsvg.png")
    subprocess.run([RSVG, "-o", str(png), str(svg)], check=True, capture_output=True)
    return pixels(png)


def qt_svg(svg: Path) -> np.ndarray:
    """The SVG drawn by QtSvg (Qt's own SVG engine, not the scene painting it)."""
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid()
    image = QImage(renderer.defaultSize(), QImage.Format.Format_ARGB32)
    image.fill(pg.QtGui.QColor("white"))
    painter = pg.QtGui.QPainter(image)
    renderer.render(painter)
    painter.end()
    image.save(str(svg.with_suffix(".qtsvg.png")))
    return pixels(svg.with_suffix(".qtsvg.png"))


def pixels_of_screen(widget: pg.PlotWidget, folder: Path) -> np.ndarray:
    widget.grab().save(str(folder / "screen.png"))
    return pixels(folder / "screen.png")


def rgb(widget_image: np.ndarray, point: QPointF) -> np.ndarray:
    return widget_image[round(point.y()), round(point.x())]


def red_rows(image: np.ndarray, view: QRectF) -> np.ndarray:
    """Rows of the view holding mostly-red pixels (anti-aliased edges over white are pink:
    left out), numbered from the page's top."""
    area = view.toRect()
    image = image[area.top():area.bottom(), area.left():area.right()]
    red = (image[..., 0] > 150) & (image[..., 1] < 100) & (image[..., 2] < 100)
    return np.flatnonzero(red.any(axis=1)) + area.top()


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()).strip() for e in root.iter(f"{SVG}text")]


def clipped(root: ET.Element) -> ET.Element:
    groups = [g for g in root.iter(f"{SVG}g") if g.get("clip-path") == "url(#view)"]
    assert len(groups) == 1
    return groups[0]


def known_line_plot(widget: pg.PlotWidget) -> None:
    """A noisy 100 000-point blue curve, and on top a red horizontal line at y = 0.25."""
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 1.0, 100_000)
    widget.plot(x, 0.8 * np.sin(6 * x) + rng.normal(0, 0.05, x.size), pen=pg.mkPen(BLUE))
    widget.plot(x, np.full(x.size, 0.25), pen=pg.mkPen(RED, width=2))
    fix_range(widget, (0.0, 1.0), (-1.5, 1.5))


def test_line_plot_svg_is_small_thin_and_where_the_data_says(plot, tmp_path: Path) -> None:
    known_line_plot(plot)
    export_svg(plot, tmp_path / "known.svg")
    assert (tmp_path / "known.svg").stat().st_size < 100_000
    root = ET.parse(tmp_path / "known.svg").getroot()
    assert (root.get("width"), root.get("height")) == ("640", "420")
    assert root.find(f"{SVG}desc").text.startswith("series,x,y\nseries 1,0.0,")
    red = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == RED]
    blue = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == BLUE]
    assert len(red) == len(blue) == 1  # one path per curve
    assert red[0].get("stroke-width") == "2"
    assert not [e.tag for e in root.iter() if e.get("transform") and e.tag != f"{SVG}text"]
    line = points_of(red[0])
    view = view_on_page(plot)
    np.testing.assert_allclose(line[:, 1], on_page(plot, 0.5, 0.25).y(), atol=0.06)
    assert line[:, 0].min() <= view.left() + 0.1  # edge to edge of the view
    assert line[:, 0].max() >= view.right() - 0.6
    assert len(points_of(blue[0])) <= 2 * (view.width() + 3)  # thinned to the pixels
    # The tick values pyqtgraph's axis shows inside the range, the labels, the title.
    axis = plot.getPlotItem().getAxis("bottom")
    spacing, values = axis.tickValues(0.0, 1.0, view.width())[0]
    inside = [v for v in values if 0.02 < v < 0.98]
    assert set(axis.tickStrings(inside, 1.0, spacing)) <= set(texts(root))
    assert {"x", "y", "Known red curve"} <= set(texts(root))
    spans = [s for s in root.iter(f"{SVG}tspan") if s.text == "red"]
    assert [s.get("fill") for s in spans] == ["#d62728"]
    (title,) = [t for t in root.iter(f"{SVG}text") if "".join(t.itertext()) == "Known red curve"]
    # rsvg drops a space that starts a tspan (" curve") unless spaces are preserved
    assert title.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"


@pytest.mark.parametrize("renderer", ["rsvg-convert", "QtSvg"])
def test_renderers_draw_the_line_where_qt_does(plot, tmp_path: Path, renderer: str) -> None:
    """rsvg-convert (cairo, as Inkscape) and QtSvg draw the SVG; Qt's own PNG of the
    plot is the reference."""
    if renderer == "rsvg-convert" and RSVG is None:
        pytest.skip("rsvg-convert is not installed "
                    "(Debian: librsvg2-bin; scripts/ensure-xvfb.sh installs it)")
    known_line_plot(plot)
    export_svg(plot, tmp_path / "known.svg")
    export_png(plot, tmp_path / "known.png", width=640)
    drawn = rsvg if renderer == "rsvg-convert" else qt_svg
    ours, qts = drawn(tmp_path / "known.svg"), pixels(tmp_path / "known.png")
    assert ours.shape == qts.shape == (420, 640, 3)
    expected, page_view = on_page(plot, 0.5, 0.25).y(), view_on_page(plot)
    for image in (ours, qts):
        rows = red_rows(image, page_view)
        assert 1 <= len(rows) <= 3, rows  # a 2-pixel pen, not hundreds of pixels
        assert abs(rows.mean() + 0.5 - expected) <= 1.0
    assert abs(red_rows(ours, page_view).mean() - red_rows(qts, page_view).mean()) <= 1.0
    view = page_view.toRect()
    for image in (ours, qts):
        blue = (image[..., 2] > 150) & (image[..., 0] < 100)
        assert blue[view.top():view.bottom(), view.left():view.right()].sum() > 5000
        # tick values under the x axis and left of the y axis: grey text pixels
        below = image[view.bottom() + 5:view.bottom() + 20, view.left():view.right()]
        beside = image[view.top():view.bottom(), view.left() - 25:view.left() - 3]
        assert (below.min(axis=2) < 200).sum() > 50
        assert (beside.min(axis=2) < 200).sum() > 50


def test_thinning_keeps_spikes_and_gaps(plot, tmp_path: Path) -> None:
    y = np.zeros(100_000)
    y[54_321] = 1.0
    y[70_000:70_005] = np.nan
    plot.plot(np.linspace(0.0, 1.0, y.size), y, pen=pg.mkPen(RED))
    fix_range(plot, (0.0, 1.0), (-0.5, 1.5))
    export_svg(plot, tmp_path / "spike.svg")
    root = ET.parse(tmp_path / "spike.svg").getroot()
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == RED]
    assert path.get("d").count("M") == 2  # the NaNs break the line
    points = points_of(path)
    assert points[:, 1].min() == pytest.approx(on_page(plot, 0.54321, 1.0).y(), abs=0.06)
    assert len(points) <= 2 * (view_on_page(plot).width() + 3) + 4


def test_bars_band_heat_map_symbols_and_reference_line(plot, tmp_path: Path) -> None:
    plot.addItem(pg.BarGraphItem(x=[0.2, 0.4], height=[0.5, -0.25], width=0.1,
                                 brush="#ff7f0e"))
    x = np.linspace(0.0, 1.0, 50)
    low = plot.plot(x, np.full(x.size, -1.4), pen=pg.mkPen("#1f77b4"))
    high = plot.plot(x, -1.2 + 0.1 * np.sin(10 * x), pen=pg.mkPen("#1f77b4"))
    plot.addItem(pg.FillBetweenItem(low, high, brush=(31, 119, 180, 50)))
    heat = pg.ImageItem()
    colours = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 0]]], np.ubyte)
    heat.setImage(colours, levels=(0, 255))  # image[x, y]: red at x0 y0, green at x0 y1
    heat.setRect(QRectF(0.6, 0.5, 0.3, 0.8))
    plot.addItem(heat)
    plot.plot([0.1, 0.3, 0.5], [-0.6, -0.7, -0.8], pen=None, symbol="o", symbolSize=8,
              symbolBrush="#2ca02c")
    plot.getPlotItem().addLine(y=-0.9, pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
    fix_range(plot, (0.0, 1.0), (-1.5, 1.5))
    export_svg(plot, tmp_path / "items.svg")
    root = ET.parse(tmp_path / "items.svg").getroot()
    data = clipped(root)
    clip = root.find(f"{SVG}defs/{SVG}clipPath/{SVG}rect")
    view = view_on_page(plot)
    assert [float(clip.get(k)) for k in ("x", "y", "width", "height")] == pytest.approx(
        [view.x(), view.y(), view.width(), view.height()], abs=0.06)
    bars = list(data.iter(f"{SVG}rect"))
    assert len(bars) == 2
    corner, far = on_page(plot, 0.15, 0.5), on_page(plot, 0.25, 0.0)
    assert [float(bars[0].get(k)) for k in ("x", "y", "width", "height")] == pytest.approx(
        [corner.x(), corner.y(), far.x() - corner.x(), far.y() - corner.y()], abs=0.1)
    bands = [p for p in data.iter(f"{SVG}path") if p.get("fill") == "#1f77b4"]
    assert len(bands) == 1
    assert float(bands[0].get("fill-opacity")) == pytest.approx(50 / 255, abs=0.01)
    (image,) = data.iter(f"{SVG}image")
    href = image.get("{http://www.w3.org/1999/xlink}href")
    assert href.startswith("data:image/png;base64,")
    assert not QImage.fromData(pg.QtCore.QByteArray.fromBase64(href.split(",")[1].encode())
                               ).isNull()
    circles = [(float(c.get("cx")), float(c.get("cy"))) for c in data.iter(f"{SVG}circle")]
    expected = [on_page(plot, x, y) for x, y in ((0.1, -0.6), (0.3, -0.7), (0.5, -0.8))]
    np.testing.assert_allclose(circles, [(p.x(), p.y()) for p in expected], atol=0.06)
    (line,) = data.iter(f"{SVG}line")
    assert float(line.get("y1")) == float(line.get("y2")) == pytest.approx(
        on_page(plot, 0.5, -0.9).y(), abs=0.06)
    assert line.get("stroke-dasharray")
    if RSVG is None:
        pytest.skip("rsvg-convert is not installed: drawn colours not compared")
    ours, qts = rsvg(tmp_path / "items.svg"), pixels_of_screen(plot, tmp_path)
    # each heat-map cell, a bar and a symbol: the colour Qt shows, where Qt shows it
    for x, y in ((0.675, 0.7), (0.675, 1.1), (0.825, 0.7), (0.825, 1.1), (0.2, 0.25),
                 (0.3, -0.7)):
        assert np.abs(rgb(ours, on_page(plot, x, y)) - rgb(qts, on_page(plot, x, y))).max() \
            <= 40, (x, y)




def test_log_axes_place_the_curve_and_label_powers(qtbot, tmp_path: Path) -> None:
    """pyqtgraph plots log10 of the data on log axes: so must the SVG, with the
    axes' own tick labels (powers of ten)."""
    widget = pg.PlotWidget(background="w")
    qtbot.addWidget(widget)
    widget.resize(500, 360)
    widget.show()
    qtbot.waitExposed(widget)
    widget.getPlotItem().setLogMode(x=True, y=True)
    x, y = np.array([1.0, 10.0, 100.0, 1000.0]), np.array([1e-3, 0.1, 10.0, 1000.0])
    widget.plot(x, y, pen=pg.mkPen(RED, width=2))
    fix_range(widget, (-0.5, 3.5), (-3.5, 3.5))
    export_svg(widget, tmp_path / "log.svg")
    root = ET.parse(tmp_path / "log.svg").getroot()
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == RED]
    expected = [on_page(widget, a, b) for a, b in zip(np.log10(x), np.log10(y), strict=True)]
    np.testing.assert_allclose(points_of(path), [(p.x(), p.y()) for p in expected], atol=0.06)
    shown = set(texts(root))
    for side in ("bottom", "left"):
        axis = widget.getPlotItem().getAxis(side)
        low, high = sorted(axis.range)
        length = view_on_page(widget).width() if side == "bottom" else \
            view_on_page(widget).height()
        spacing, values = axis.tickValues(low, high, length)[0]
        inside = [v for v in values if low + 0.1 < v < high - 0.1]
        strings = axis.tickStrings(inside, 1.0, spacing)
        assert strings
        assert set(strings) <= shown, side


def test_a_plot_never_painted_is_auto_ranged_first(qtbot, tmp_path: Path) -> None:
    """A plot in a hidden tab has not auto-ranged to its data yet (pyqtgraph waits for a
    paint): the SVG must still show the data, inside the view."""
    widget = titled_plot("Hidden", "x", "y")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.plot([100.0, 150.0, 200.0], [50.0, 60.0, 55.0], pen=pg.mkPen(RED))
    export_svg(widget, tmp_path / "hidden.svg")
    root = ET.parse(tmp_path / "hidden.svg").getroot()
    (path,) = [p for p in clipped(root).iter(f"{SVG}path") if p.get("stroke") == RED]
    assert len(points_of(path)) == 3
    values = [float(t) for t in texts(root) if re.fullmatch(r"-?[0-9.]+", t)]
    assert [v for v in values if 100 <= v <= 200]  # x ticks over the data, not 0…1
    assert [v for v in values if 50 <= v <= 60]
    assert not [v for v in values if 0 < v < 1]


def test_heat_map_with_colour_bar(plot, tmp_path: Path) -> None:
    """A scalar heat map coloured through a ColorBarItem (a plot inside the plot's
    layout): cells, the colour scale and its axis, where and as Qt draws them."""
    heat = pg.ImageItem()
    heat.setImage(np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), autoLevels=False)
    heat.setRect(QRectF(0.0, 0.0, 1.0, 1.0))
    plot.addItem(heat)
    bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), width=14, label="level",
                          interactive=False)
    bar.setImageItem(heat, insert_in=plot.getPlotItem())
    bar.setLevels((0.0, 5.0))
    fix_range(plot, (0.0, 1.0), (0.0, 1.0))
    export_svg(plot, tmp_path / "heat.svg")
    root = ET.parse(tmp_path / "heat.svg").getroot()
    assert len(list(root.iter(f"{SVG}image"))) == 2  # the cells and the colour scale
    shown = set(texts(root))
    assert "level" in shown
    spacing, values = bar.axis.tickValues(0.0, 5.0, bar.axis.height())[0]
    inside = [v for v in values if 0.2 < v < 4.8]
    assert set(bar.axis.tickStrings(inside, 1.0, spacing)) <= shown
    if RSVG is None:
        pytest.skip("rsvg-convert is not installed: drawn colours not compared")
    ours, qts = rsvg(tmp_path / "heat.svg"), pixels_of_screen(plot, tmp_path)
    cells = [on_page(plot, (i + 0.5) / 2, (j + 0.5) / 3) for i in range(2) for j in range(3)]
    scale = bar.bar.sceneBoundingRect()
    ends = [QPointF(scale.center().x(), scale.top() + 3), scale.center(),
            QPointF(scale.center().x(), scale.bottom() - 3)]
    for point in cells + ends:
        assert np.abs(rgb(ours, point) - rgb(qts, point)).max() <= 40, point
    assert len({tuple(rgb(ours, p)) for p in cells}) == 6


def test_values_far_outside_the_view_keep_their_visible_part(plot, tmp_path: Path) -> None:
    """A blown-up value (1e30 in a 0…1 view) would be 1e32 pixels off the page, past
    what fixed-point renderers hold: the visible part must still be drawn right."""
    plot.plot([0.0, 0.5, 1.0], [0.3, -1e30, 0.3], pen=None, fillLevel=0.5,
              fillBrush="#0000ff")
    plot.plot([0.0, 0.5, 1.0], [0.2, 1e30, 0.6], pen=pg.mkPen(RED, width=2))
    fix_range(plot, (0.0, 1.0), (0.0, 1.0))
    export_svg(plot, tmp_path / "far.svg")
    root = ET.parse(tmp_path / "far.svg").getroot()
    view = view_on_page(plot)
    for path in clipped(root).iter(f"{SVG}path"):  # cut to the view: QtSvg has no clip
        points = points_of(path)
        assert (points[:, 0] >= view.left() - 0.06).all()
        assert (points[:, 0] <= view.right() + 0.06).all()
        assert (points[:, 1] >= view.top() - 0.06).all()
        assert (points[:, 1] <= view.bottom() + 0.06).all()
    (line,) = [p for p in clipped(root).iter(f"{SVG}path") if p.get("stroke") == RED]
    # cut where it leaves the view (and comes back), exactly there
    heights = {round(on_page(plot, 0.0, 0.2).y(), 1), round(on_page(plot, 1.0, 0.6).y(), 1),
               round(view.top(), 1)}
    assert {round(y, 1) for y in points_of(line)[:, 1]} == heights
    if RSVG is None:
        pytest.skip("rsvg-convert is not installed: drawing not checked")
    ours = rsvg(tmp_path / "far.svg")
    # Up from (0, 0.2) the red line runs along x = 0 to the top (the half of its stroke
    # inside the view shows). The area between y = 0.5 and a curve that dives off the
    # page at x = 0.5 fills nearly all the view below 0.5.
    column = ours[:, round(view.left())]  # the stroke covers part of this pixel column
    red = (column[:, 0] > 150) & (column[:, 0] - column[:, 1] > 80)
    top, low = round(on_page(plot, 0, 0.95).y()), round(on_page(plot, 0, 0.3).y())
    assert red[top:low].mean() > 0.9  # (grid lines under the stroke's edge dull a few)
    assert not red[round(on_page(plot, 0, 0.15).y()):round(on_page(plot, 0, 0.05).y())].any()
    for x, y, blue in ((0.5, 0.25, True), (0.25, 0.1, True), (0.5, 0.75, False)):
        colour = rgb(ours, on_page(plot, x, y))
        assert (colour[2] > 200 and colour[0] < 60) == blue, (x, y, colour)
