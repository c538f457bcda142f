"""Exports: every plot to PNG, SVG (valid, with its data) and CSV; PyTorch code that runs."""

from __future__ import annotations

import csv
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from gui.export import export_plot, export_widget_png
from tests.gui.conftest import click_action

SVG = "{http://www.w3.org/2000/svg}"


def test_every_plot_exports_png_svg_csv(qtbot, window, tmp_path: Path) -> None:
    click_action(qtbot, window, "Full pass")
    qtbot.mouseClick(window.training.step_button, Qt.MouseButton.LeftButton)
    window.gradients.redraw()
    window.training.redraw()
    plots = window.all_plots()
    assert {"gradient_flow", "loss", "update_ratio", "activation_histograms"} <= set(plots)
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
    drawn = [e for e in root.iter() if e.tag in (f"{SVG}path", f"{SVG}rect", f"{SVG}polyline")]
    assert len(drawn) > 10


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

    with pytest.raises(ExportError, match="could not write"):
        export_plot(window.gradients.flow_plot, tmp_path / "missing" / "x.svg")
    with pytest.raises(ExportError, match="unknown export format"):
        export_plot(window.gradients.flow_plot, tmp_path / "x.bmp")


def test_export_dialogs_write_where_the_person_chose(
        qtbot, window, dialogs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from gui.export_menu import ask_and_export

    chosen: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args: (chosen.pop(0), ""))
    click_action(qtbot, window, "Full pass")
    window.gradients.redraw()
    chosen.append(str(tmp_path / "flow"))  # typed without its suffix
    ask_and_export(window.gradients.flow_plot, ".csv")
    assert (tmp_path / "flow.csv").exists()
    chosen.append(str(tmp_path / "window.png"))
    window.export_window_dialog()
    assert QImage(str(tmp_path / "window.png")).width() > 0
    chosen.append(str(tmp_path / "missing" / "window.png"))
    window.export_window_dialog()
    assert dialogs[-1][0] == "Export failed"
    assert "could not write" in dialogs[-1][1]
    chosen.append("")  # cancelled
    window.export_window_dialog()
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
    assert window.export_torch(path)
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
