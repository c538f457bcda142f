"""Sessions from the GUI: open, save, reopen, bad files, unsaved changes, layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from engine.data.session import load_session
from gui.main_window import MainWindow
from gui.state import AppState
from tests.gui.conftest import choose

ROOT = Path(__file__).resolve().parents[2]


def test_open_bad_file_keeps_the_session(qtbot, window, dialogs, tmp_path: Path) -> None:
    before = window.state.chain.to_spec()
    bad = tmp_path / "bad.json"
    session = json.loads((ROOT / "examples" / "seed.json").read_text())
    session["network"]["layers"][0]["weight"] = [[1.0, 2.0]]
    bad.write_text(json.dumps(session))
    assert not window.open_path(bad)
    title, text = dialogs[-1]
    assert title == "Cannot open session"
    assert "network.layers.0.weight: expected shape [1, 1]" in text
    assert window.state.chain.to_spec() == before
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert not window.open_path(garbage)
    assert "invalid JSON at line 1" in dialogs[-1][1]
    assert window.state.chain.to_spec() == before


def test_save_and_reopen_round_trip(qtbot, window, tmp_path: Path) -> None:
    assert window.open_path(ROOT / "examples" / "spiral_train.json")
    assert window.state.network.input_size == 2
    window.training.lr_spin.setValue(0.07)
    qtbot.mouseClick(window.training.step_button, Qt.MouseButton.LeftButton)
    assert window.state.dirty
    assert window.isWindowModified()
    path = tmp_path / "saved.json"
    assert window.files.save_to(path)
    assert not window.state.dirty
    saved = load_session(path)
    assert saved.task.lr == 0.07
    assert saved.network.layers[0].weight is not None  # the trained parameters
    fresh = MainWindow(AppState())
    qtbot.addWidget(fresh)
    assert fresh.open_path(path, ask=False)
    assert fresh.state.chain.to_spec() == window.state.chain.to_spec()
    assert str(path.resolve()) in [a.text() for a in fresh.recent_menu.actions()]


def test_save_as_names_the_session_after_its_file(qtbot, window, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert window.open_path(ROOT / "examples" / "spiral_train.json")
    before = window.state.session.name
    path = tmp_path / "my spirals.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(path), ""))
    window.files.save_as()
    assert load_session(path).name == "my spirals" != before
    assert window.windowTitle().startswith(f"Chain Lab — my spirals[*] — {path}")
    window.state.set_loss(window.state.session.loss)  # any edit, then plain Save
    assert window.files.save()
    assert load_session(path).name == "my spirals"


def test_a_failed_save_as_changes_neither_name_nor_path(qtbot, window, dialogs,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert window.open_path(ROOT / "examples" / "spiral_train.json")
    before, path_before = window.state.session.name, window.state.path
    path = tmp_path / "no such folder" / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(path), ""))
    assert not window.files.save_as()
    assert dialogs[-1][0] == "Cannot save"
    assert window.state.session.name == before
    assert window.state.path == path_before


def test_a_recent_file_that_is_gone_is_said_and_dropped_from_the_menu(
        qtbot, window, dialogs, tmp_path: Path) -> None:
    path = tmp_path / "gone.json"
    shutil.copy(ROOT / "examples" / "seed.json", path)
    assert window.open_path(path, ask=False)
    entry = str(path.resolve())
    assert entry in [a.text() for a in window.recent_menu.actions()]
    path.unlink()
    (action,) = [a for a in window.recent_menu.actions() if a.text() == entry]
    action.trigger()  # File > Open recent > gone.json
    title, text = dialogs[-1]
    assert title == "Cannot open session"
    assert "no longer listed under Open recent" in text
    assert entry not in [a.text() for a in window.recent_menu.actions()]
    # a file that is there but broken stays listed: it may be fixed and opened again
    broken = tmp_path / "broken.json"
    shutil.copy(ROOT / "examples" / "seed.json", broken)
    assert window.open_path(broken, ask=False)
    broken.write_text("{")
    assert not window.open_path(str(broken.resolve()), ask=False)
    assert "no longer listed" not in dialogs[-1][1]
    assert str(broken.resolve()) in [a.text() for a in window.recent_menu.actions()]


def test_unsaved_changes_are_asked_about(qtbot, window, dialogs) -> None:
    choose(qtbot, window.builder.global_activation, "relu")
    assert window.state.dirty
    window.new_session()  # the dialog answers "Discard"
    assert dialogs[-1][0] == "Unsaved changes"
    assert not window.state.dirty


def test_layout_persists_between_launches(qtbot, settings_file: Path, dialogs) -> None:
    first = MainWindow(AppState())
    qtbot.addWidget(first)
    first.show()
    first.docks["inputs"].hide()
    first.resize(1101, 702)
    first.close()
    assert settings_file.exists()
    second = MainWindow(AppState())
    qtbot.addWidget(second)
    second.show()
    assert second.docks["inputs"].isHidden()
    assert second.size().height() == 702


def test_editing_a_loaded_chain_whose_weights_no_longer_fit(qtbot, window) -> None:
    assert window.open_path(ROOT / "examples" / "seed.json")
    builder = window.builder
    builder.layer_list.setCurrentRow(0)
    builder.editor.width_spin.setValue(4)
    builder.editor.width_spin.editingFinished.emit()  # as when the person leaves the field
    assert window.state.chain.layers[0].params["weight"].shape == (4, 1)
    assert window.state.chain.layers[2].params["weight"].shape == (1, 4)
    assert window.state.pass_ is not None


def test_saved_session_keeps_running_statistics_and_every_panel(qtbot, window,
                                                               tmp_path: Path) -> None:
    """Issue 8: batch norm's running statistics were lost on save (eval outputs 0.31 off),
    and only the last task's settings were kept."""
    window.training.samples_spin.setValue(96)
    choose(qtbot, window.training.dataset_box, "circle")
    choose(qtbot, window.builder.preset_box, "Deep tanh + batch norm, 30 layers")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    state = window.state
    state.set_dtype("float64")
    window.training.batch_spin.setValue(32)
    window.training.lr_spin.setValue(0.02)
    window.evolution.population_spin.setValue(77)
    window.evolution.mutation_spin.setValue(0.03)
    for _ in range(20):
        qtbot.mouseClick(window.training.step_button, Qt.MouseButton.LeftButton)
    assert len(state.history) == 20
    window.inputs.sliders[0].set_value(1.25)
    state.set_probe(0, 1.25)
    path = tmp_path / "bn.json"
    assert window.files.save_to(path)

    fresh = MainWindow(AppState())
    qtbot.addWidget(fresh)
    assert fresh.open_path(path, ask=False)
    grid = torch.tensor(np.random.default_rng(0).normal(size=(64, 2)) * 4,
                        dtype=torch.float64)
    np.testing.assert_allclose(fresh.state.chain.infer(grid).numpy(),
                               state.chain.infer(grid).numpy(), rtol=0, atol=1e-12)
    reopened = fresh.state
    assert reopened.training.settings.lr == 0.02
    assert reopened.training.settings.batch_size == 32
    assert reopened.evolution.task.population == 77
    assert reopened.evolution.task.mutation_rate == 0.03
    assert fresh.training.lr_spin.value() == 0.02
    assert fresh.evolution.population_spin.value() == 77
    assert reopened.stepping_inputs.probe[0] == 1.25
