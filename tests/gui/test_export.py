"""Exports: every plot to PNG, SVG (valid, with its data) and CSV (the raw values); only
Chain Lab's entries in plot menus; normal file permissions; dialogs that open in the
user's folders; PyTorch code that runs. The SVG drawing itself: test_svg_export.py."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from gui.export import export_plot, export_widget_png
from gui.export_menu import ask_and_export
from gui.plot_widgets import titled_plot
from tests.gui.conftest import click_action

SVG = "{http://www.w3.org/2000/svg}"


def test_every_plot_exports_png_svg_csv(qtbot, window, tmp_path: Path) -> None:
    click_action(qtbot, window, "Full pass")
    qtbot.mouseClick(window.training.step_button, Qt.MouseButton.LeftButton)
    window.gradients.redraw()
    window.training.redraw()
    plots = window.all_plots()
    assert {"gradient_flow", "loss", "update_ratio", "activation_distributions"} <= set(plots)
    for name, plot in plots.items():
        for suffix in (".png", ".svg", ".csv"):
            export_plot(plot, tmp_path / f"{name}{suffix}")
        image = QImage(str(tmp_path / f"{name}.png"))
        assert image.width() > 100, name
        root = ET.parse(tmp_path / f"{name}.svg").getroot()
        assert root.tag == f"{SVG}svg"
        with (tmp_path / f"{name}.csv").open() as stream:
            assert next(csv.reader(stream)), name
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_svg_contains_the_plotted_data(qtbot, window, tmp_path: Path) -> None:
    click_action(qtbot, window, "Full pass")
    window.gradients.redraw()
    path = tmp_path / "flow.svg"
    export_plot(window.gradients.flow_plot, path)
    root = ET.parse(path).getroot()
    description = root.find(f"{SVG}desc").text
    weight_grad = window.state.pass_stats()[0].grad_weight_l2
    assert f"grad_weight_l2,0.0,{weight_grad!r}" in description
    bars = [r for g in root.iter(f"{SVG}g") if g.get("clip-path") for r in g.iter(f"{SVG}rect")]
    weights = [s for s in window.state.pass_stats() if s.grad_weight_l2]
    assert len(bars) >= len(weights) > 0  # a <rect> per bar, inside the view's clip


def test_csv_holds_the_loss_curve(qtbot, window, tmp_path: Path) -> None:
    for _ in range(5):
        window.state.training.step()
    window.training.redraw()
    export_plot(window.training.loss_plot, tmp_path / "loss.csv")
    with (tmp_path / "loss.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    losses = [float(r["y"]) for r in rows]
    np.testing.assert_allclose(losses, [s.loss for s in window.state.history], rtol=1e-12)


def test_bad_export_path_is_an_error_not_a_crash(qtbot, window, tmp_path: Path) -> None:
    from gui.export import ExportError

    for suffix in ("svg", "png", "csv"):
        with pytest.raises(ExportError, match=r"the folder .*missing does not exist"):
            export_plot(window.gradients.flow_plot, tmp_path / "missing" / f"x.{suffix}")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ExportError, match="unknown export format"):
        export_plot(window.gradients.flow_plot, tmp_path / "x.bmp")


def test_export_dialogs_write_where_the_person_chose(
        qtbot, window, dialogs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args: (chosen.pop(0), ""))
    click_action(qtbot, window, "Full pass")
    window.gradients.redraw()
    chosen.append(str(tmp_path / "flow"))  # typed without its suffix
    ask_and_export(window.gradients.flow_plot, ".csv")
    assert (tmp_path / "flow.csv").exists()
    chosen.append(str(tmp_path / "window.png"))
    window.files.export_window_dialog()
    assert QImage(str(tmp_path / "window.png")).width() > 0
    chosen.append(str(tmp_path / "missing" / "window.png"))
    window.files.export_window_dialog()
    assert dialogs[-1][0] == "Export failed"
    assert "could not write" in dialogs[-1][1]
    chosen.append("")  # cancelled
    window.files.export_window_dialog()
    assert len(dialogs) == 1


def test_window_png(qtbot, window, tmp_path: Path) -> None:
    export_widget_png(window, tmp_path / "window.png")
    image = QImage(str(tmp_path / "window.png"))
    assert image.width() == window.width()


def test_exported_pytorch_code_runs_and_matches(qtbot, window, tmp_path: Path) -> None:
    builder = window.builder
    builder.repeat_depth.setValue(3)
    builder.repeat_norm.setCurrentText("layer")
    qtbot.mouseClick(builder.repeat_button, Qt.MouseButton.LeftButton)
    for _ in range(3):
        window.state.training.step()
    path = tmp_path / "chain.py"
    assert window.files.export_torch(path)
    script = (f"import sys, torch\nsys.path.insert(0, {str(tmp_path)!r})\n"
              "from chain import build_model\n"
              "x = torch.linspace(-2, 2, 7, dtype=torch.float64).reshape(7, 1)\n"
              "print(repr(build_model()(x).detach().reshape(-1).tolist()))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    theirs = eval(result.stdout)
    x = torch.linspace(-2, 2, 7, dtype=torch.float64).reshape(7, 1)
    ours = window.state.chain.infer(x).reshape(-1).tolist()
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    subprocess.run([sys.executable, str(path)], check=True, capture_output=True)


def menu_entries(menu: QMenu) -> list[str]:
    entries = []
    for action in menu.actions():
        entries.append(action.text())
        if action.menu() is not None:
            entries += menu_entries(action.menu())
    return [e for e in entries if e]


def test_plot_menus_offer_only_chain_labs_exports(qtbot) -> None:
    """Right-click the view box and an axis: our PNG/SVG/CSV entries, no pyqtgraph
    "Export..." (the scene adds that one to every item's menu)."""
    widget = titled_plot("Menu", "x", "y")
    qtbot.addWidget(widget)
    widget.resize(500, 350)
    widget.show()
    qtbot.waitExposed(widget)
    item = widget.getPlotItem()
    for target in (item.getViewBox(), item.getAxis("bottom"), item.getAxis("left")):
        where = widget.mapFromScene(target.sceneBoundingRect().center())
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.RightButton, pos=where)
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), type(target).__name__
        entries = menu_entries(menu)
        menu.close()
        assert {"Export PNG…", "Export SVG…", "Export CSV…"} <= set(entries)
        assert not [e for e in entries if e.startswith("Export") and e not in
                    ("Export PNG…", "Export SVG…", "Export CSV…")], entries


def test_csv_holds_the_raw_values_of_a_log_plot(qtbot, tmp_path: Path) -> None:
    """Log x and y, clipped to the view and downsampled on screen: the CSV still holds
    every value as given, not log10 values or the points pyqtgraph draws."""
    widget = titled_plot("Log", "x", "y")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    item = widget.getPlotItem()
    item.setLogMode(x=True, y=True)
    x = np.logspace(0, 4, 5000)  # 1 … 10 000
    y = 1e-3 * x ** 1.5
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    item.plot(x, y, name="power law")
    item.setRange(xRange=(1, 2), padding=0)  # log10 units: x from 10 to 100
    QApplication.processEvents()
    assert len(item.listDataItems()[0].getData()[0]) < x.size  # the screen shows fewer
    export_plot(widget, tmp_path / "log.csv")
    with (tmp_path / "log.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["series"] for r in rows] == ["power law"] * x.size
    np.testing.assert_array_equal([float(r["x"]) for r in rows], x)
    np.testing.assert_array_equal([float(r["y"]) for r in rows], y)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_exported_files_get_normal_permissions(qtbot, tmp_path: Path, umask: int) -> None:
    """0666 less the umask for a new file (a temporary file from mkstemp would be 0600);
    a file written over keeps its mode, as when written in place."""
    widget = titled_plot("Permissions", "x", "y")
    qtbot.addWidget(widget)
    widget.plot([0.0, 1.0, 2.0], [1.0, 3.0, 2.0])
    old = os.umask(umask)
    try:
        for suffix in (".png", ".svg", ".csv"):
            export_plot(widget, tmp_path / f"new{suffix}")
        export_widget_png(widget, tmp_path / "widget.png")
        kept = tmp_path / "kept.svg"
        kept.write_text("old")
        kept.chmod(0o604)
        export_plot(widget, kept)
    finally:
        os.umask(old)
    for name in ("new.png", "new.svg", "new.csv", "widget.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604
    assert kept.read_text().startswith("<?xml")


def test_export_dialog_opens_in_documents_then_the_last_folder(
        qtbot, settings_file: Path, dialogs, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Never in the working folder (the app's source, when run from it): the user's
    documents, else home; then wherever the last export went."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the source folder
    asked: list[str] = []
    answers: list[str] = []

    def dialog(parent: object, title: str, start: str, file_filter: str) -> tuple[str, str]:
        asked.append(start)
        return answers.pop(0), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    widget = titled_plot("Dialogs", "x", "y", name="dialogs")
    qtbot.addWidget(widget)
    widget.plot([0.0, 1.0], [1.0, 2.0])
    elsewhere = tmp_path / "results"
    elsewhere.mkdir()
    answers += [str(elsewhere / "first.csv"), "", str(tmp_path / "missing" / "x.csv"), ""]
    for _ in range(4):
        ask_and_export(widget, ".csv")
    assert asked[0] == str(home / "Documents" / "dialogs.csv")
    assert (elsewhere / "first.csv").exists()
    assert asked[1:] == [str(elsewhere / "dialogs.csv")] * 3  # cancel, failure: no change
    assert [title for title, _ in dialogs] == ["Export failed"]
    shutil.rmtree(home / "Documents")
    shutil.rmtree(elsewhere)
    answers.append("")
    ask_and_export(widget, ".csv")
    assert asked[-1] == str(home / "dialogs.csv")


def test_export_plot_lists_titles_with_the_page_on_screen_first(
        qtbot, window, monkeypatch) -> None:
    """It listed ~35 snake_case ids and preselected the Gradient flow's on the Training
    page."""
    from PySide6.QtWidgets import QInputDialog

    offered: list[tuple[list[str], int]] = []

    def get_item(parent, title, label, items, current, editable):
        offered.append((list(items), current))
        return items[current], False  # cancelled: no file dialog

    monkeypatch.setattr(QInputDialog, "getItem", get_item)
    window.show_page("training")
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    items, current = offered[-1]
    assert items[current] == "Training \u25b8 Training loss (loss)"
    assert all(item.startswith("Training \u25b8") for item in items[:5])
    assert "Gradient flow \u25b8 Activation distributions" not in items[current]
    assert any(item.startswith("Evolution \u25b8 Loss per generation") for item in items)
    window.show_page("evolution")
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    items, current = offered[-1]
    assert items[current].startswith("Evolution \u25b8 Loss per generation")
    # every page's plots, each once (no lab is open)
    pages = [*window.gradients.plots(), *window.training.plots(), *window.evolution.plots()]
    listed = [plot for _, plot in window.plot_choices()]
    assert len(items) == len(listed) == len(pages)
    assert {id(plot) for plot in listed} == {id(plot) for plot in pages}
