"""Low-precision training from the Training panel: the Precision settings, the swamped-
updates plot, and the same history as a headless run of the saved session."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PySide6.QtCore import Qt

from engine.data.session import load_session
from engine.headless.runner import run_session
from tests.gui.conftest import choose


def weights(state) -> list[float]:
    return [float(layer.params["weight"]) for layer in state.chain.layers
            if "weight" in layer.params]


def test_bfloat16_storage_swamps_the_seed_examples_first_layer(qtbot, window) -> None:
    panel, state = window.training, window.state  # the app opens on the seed example
    window.pages.setCurrentWidget(panel)
    panel.lr_spin.setValue(0.1)
    assert not panel.swamped_plot.isVisibleTo(window)
    choose(qtbot, panel.storage_box, "bfloat16")
    assert state.training.settings.precision.storage == "bfloat16"
    assert panel.swamped_plot.isVisibleTo(window)
    assert panel.swamped_plot in panel.plots()
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    first, second = weights(state)
    stored_start = float(torch.tensor(0.3).to(torch.bfloat16))  # 0.30078125
    assert first == stored_start  # W1's update (8.5e-5) was below half a bfloat16 gap
    assert second != stored_start
    assert state.history[-1].swamped == (1.0, 0.0)
    assert "swamped updates: first layer 100%, last 0%" in panel.status.text()
    panel.redraw()
    x, y = panel.layer_curves["swamped"][0].getData()
    assert list(x) == [1.0]
    assert list(y) == [1.0]
    choose(qtbot, panel.storage_box, "off")
    assert state.training.settings.precision is None
    assert not panel.swamped_plot.isVisibleTo(window)
    assert state.history == []  # a new storage format restarts training


def test_the_storage_choices_follow_the_dtype(qtbot, window) -> None:
    panel, state = window.training, window.state
    assert state.session.dtype == "float64"
    choose(qtbot, panel.storage_box, "float64")
    choose(qtbot, window.builder.dtype_box, "float32")
    items = [panel.storage_box.itemText(i) for i in range(panel.storage_box.count())]
    assert "float64" not in items
    assert state.training.settings.precision is None  # float64 storage dropped with it
    assert panel.storage_box.currentText() == "off"


def test_window_and_headless_agree_with_stochastic_rounding(qtbot, window,
                                                            tmp_path: Path) -> None:
    panel, state = window.training, window.state
    panel.lr_spin.setValue(0.5)
    choose(qtbot, panel.storage_box, "float8_e5m2")
    choose(qtbot, panel.rounding_box, "stochastic")
    panel.steps_spin.setValue(30)
    path = tmp_path / "low.json"  # saved before training: a save holds the current weights
    state.last_task_kind = "train"
    window.files.save_to(path)
    saved = json.loads(path.read_text())
    assert saved["task"]["precision"] == {"storage": "float8_e5m2", "rounding": "stochastic"}
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not state.is_training(), timeout=30_000)
    assert len(state.history) == 30
    headless = run_session(load_session(path), tmp_path).result["history"]
    assert headless["loss"] == [s.loss for s in state.history]
    assert headless["swamped"] == [list(s.swamped) for s in state.history]
