"""Every export goes through here: PNG, SVG and CSV of any plot, PNG of any widget.

SVG is written by :mod:`gui.svg_export` from the plot's items (thin strokes, one path
per curve thinned to the pixels, axes, title, clipped data), with the data table in a
``<desc>``. CSV holds the data as given to the plot, never log10 values or pyqtgraph's
on-screen downsampling. Files are written to a temporary name and renamed, with the
permissions a file written in place would get. Dialogs open in the user's documents or
the folder last exported to.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.data.files import mode_for
from gui.settings import remember_folder, start_folder
from gui.svg_export import plot_svg

# Characters of the data table kept in an SVG's <desc>: enough for every plot's table in
# full but a long curve's, whose whole table is the CSV export (the SVG stays small).
DESCRIPTION_LIMIT = 50_000


class ExportError(OSError):
    """An export that could not be written; the message names the file."""


def plot_item_of(target: pg.PlotWidget | pg.PlotItem) -> pg.PlotItem:
    return target.getPlotItem() if isinstance(target, pg.PlotWidget) else target


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
    if not path.parent.is_dir():  # Qt's image writer fails without saying why
        raise ExportError(f"could not write {path}: the folder {path.parent} does not exist")
    try:
        write(temporary)
        if not temporary.exists() or temporary.stat().st_size == 0:
            raise ExportError(f"could not write {path}")
        os.chmod(temporary, mode_for(path))
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


def export_layout_png(layout: pg.GraphicsLayoutWidget, path: str | Path,
                      width: int = 1200) -> None:
    """A page of several plots (small multiples) as one PNG."""
    def write(temporary: Path) -> None:
        exporter = ImageExporter(layout.ci)
        exporter.parameters()["width"] = width
        exporter.export(str(temporary))

    _write_atomic(Path(path), write)


def export_svg(target: pg.PlotWidget | pg.PlotItem, path: str | Path) -> None:
    item = plot_item_of(target)
    lines = item.titleLabel.item.toPlainText().replace("\u2028", "\n").splitlines()
    title = next((line.strip() for line in lines if line.strip()), "")  # not the keys
    document = plot_svg(item, title or "Chain Lab plot", _data_description(item))

    def write(temporary: Path) -> None:
        temporary.write_text(document, "utf-8")

    _write_atomic(Path(path), write)


def curves_of(item: pg.PlotItem) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, x, y) of each data curve in the plot, in drawing order: the values the
    curve was given, whatever the plot shows (log axes, downsampling, clipping)."""
    curves = []
    for number, data_item in enumerate(item.listDataItems()):
        x, y = data_item.getOriginalDataset() if isinstance(data_item, pg.PlotDataItem) \
            else data_item.getData()
        if x is None or y is None:
            continue
        name = data_item.name() or f"series {number + 1}"
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
    """The data table as CSV text, cut after :data:`DESCRIPTION_LIMIT` characters."""
    header, rows = table_of(item)
    lines, size = [",".join(header)], 0
    for number, row in enumerate(rows):
        line = ",".join(_cell(v) for v in row)
        size += len(line) + 1
        if size > DESCRIPTION_LIMIT:
            lines.append(f"# {len(rows) - number} more rows: export CSV for the whole table")
            break
        lines.append(line)
    return "\n".join(lines)


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
    The dialog opens in the folder last exported to, else the user's documents (a bare
    ``suggested`` name would open in the working folder: the app's own, when run from
    its source). With ``suffix``, a name typed without it gets it."""
    start = suggested if Path(suggested).is_absolute() else \
        str(Path(start_folder("exports")) / suggested)
    path, _ = QFileDialog.getSaveFileName(parent, title, start, file_filter)
    if not path:
        return
    if suffix and Path(path).suffix.lower() != suffix:
        path += suffix
    try:
        write(path)
    except ExportError as error:
        QMessageBox.warning(parent, "Export failed", str(error))
        return
    remember_folder("exports", path)
