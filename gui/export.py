"""Every export goes through here: PNG, SVG and CSV of any plot, PNG of any widget.

SVG: pyqtgraph 0.14's ``SVGExporter`` fails with PySide6 6.12 (pyqtgraph issue 3485), so
SVG is rendered by QtSvg's ``QSvgGenerator`` painting the plot's scene. Curves become
SVG paths whose coordinates are the data mapped to the page, and a ``<desc>`` lists the
data series, so the file carries the plotted numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class ExportError(OSError):
    """An export that could not be written; the message names the file."""


def plot_item_of(target: pg.PlotWidget | pg.PlotItem) -> pg.PlotItem:
    return target.getPlotItem() if isinstance(target, pg.PlotWidget) else target


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(temporary)
        if not temporary.exists() or temporary.stat().st_size == 0:
            raise ExportError(f"could not write {path}")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"could not write {path}: {error.strerror or error}") from None


def export_png(target: pg.PlotWidget | pg.PlotItem, path: str | Path, width: int = 1000) -> None:
    item = plot_item_of(target)

    def write(temporary: Path) -> None:
        exporter = ImageExporter(item)
        exporter.parameters()["width"] = width
        exporter.export(str(temporary))

    _write_atomic(Path(path), write)


def export_svg(target: pg.PlotWidget | pg.PlotItem, path: str | Path) -> None:
    item = plot_item_of(target)
    rect = item.sceneBoundingRect()
    size = QSize(max(1, round(rect.width())), max(1, round(rect.height())))

    def write(temporary: Path) -> None:
        generator = QSvgGenerator()
        generator.setFileName(str(temporary))
        generator.setSize(size)
        # Match the screen's resolution: at QSvgGenerator's default 72 dpi, pyqtgraph's
        # view-box contents are scaled by 96/72 against the axes.
        view = item.scene().views()[0] if item.scene().views() else None
        generator.setResolution(view.logicalDpiX() if view is not None else 96)
        generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
        generator.setTitle(item.titleLabel.text or "Chain Lab plot")
        generator.setDescription(_data_description(item))
        painter = QPainter(generator)
        try:
            item.scene().render(painter, QRectF(0, 0, size.width(), size.height()), rect)
        finally:
            painter.end()

    _write_atomic(Path(path), write)


def curves_of(item: pg.PlotItem) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, x, y) of each data curve in the plot, in drawing order."""
    curves = []
    for number, data_item in enumerate(item.listDataItems()):
        x, y = data_item.getData()
        if x is None or y is None:
            continue
        name = data_item.name() or f"series {number + 1}"
        if item.ctrl.logYCheck.isChecked():
            y = np.power(10.0, y)  # the item holds log10 values in log mode
        curves.append((name, np.asarray(x, dtype=float), np.asarray(y, dtype=float)))
    return curves


def table_of(item: pg.PlotItem) -> tuple[list[str], list[list[object]]]:
    """The plotted data as a table. A plot that draws more than curves (bars, images)
    sets ``item.export_table`` to a function returning its own (header, rows)."""
    provider = getattr(item, "export_table", None)
    if provider is not None:
        return provider()
    rows: list[list[object]] = []
    for name, x, y in curves_of(item):
        rows.extend([name, float(a), float(b)] for a, b in zip(x, y, strict=False))
    return ["series", "x", "y"], rows


def _data_description(item: pg.PlotItem) -> str:
    header, rows = table_of(item)
    return "\n".join([",".join(header), *(",".join(_cell(v) for v in row) for row in rows)])


def _cell(value: object) -> str:
    return repr(float(value)) if isinstance(value, float | np.floating) else str(value)


def export_csv(target: pg.PlotWidget | pg.PlotItem, path: str | Path) -> None:
    """The plot's data table: by default one row per point (series, x, y)."""
    header, rows = table_of(plot_item_of(target))

    def write(temporary: Path) -> None:
        with temporary.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows([_cell(v) for v in row] for row in rows)

    _write_atomic(Path(path), write)


def export_plot(target: pg.PlotWidget | pg.PlotItem, path: str | Path) -> None:
    """Choose the format from the file suffix (.png, .svg, .csv)."""
    suffix = Path(path).suffix.lower()
    exporters = {".png": export_png, ".svg": export_svg, ".csv": export_csv}
    if suffix not in exporters:
        raise ExportError(f"unknown export format {suffix!r}: use .png, .svg or .csv")
    exporters[suffix](target, path)


def export_widget_png(widget: QWidget, path: str | Path) -> None:
    def write(temporary: Path) -> None:
        if not widget.grab().save(str(temporary), "PNG"):
            raise ExportError(f"could not write {path}")

    _write_atomic(Path(path), write)


def export_through_dialog(parent: QWidget, title: str, suggested: str, file_filter: str,
                          write: Callable[[str], None], suffix: str | None = None) -> None:
    """Ask where to save, then ``write(path)``; a failed export is shown, not raised.
    With ``suffix``, a name typed without it gets it."""
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    if not path:
        return
    if suffix and Path(path).suffix.lower() != suffix:
        path += suffix
    try:
        write(path)
    except ExportError as error:
        QMessageBox.warning(parent, "Export failed", str(error))
