"""One session, run headless and in the window, gives identical histories: both build
their chain, data, trainer and GA run through the engine's one construction path
(engine/data/experiment.py, engine/evolution/setup.py)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from engine.data.session import load_session
from engine.headless.runner import run_session

ROOT = Path(__file__).resolve().parents[2]


def session_file(tmp_path: Path, name: str, **task: object) -> Path:
    raw = json.loads((ROOT / "examples" / name).read_text())
    raw["task"].update(task)
    raw["data"]["samples"] = 96
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


def test_training_history_matches_headless(qtbot, window, tmp_path: Path) -> None:
    path = session_file(tmp_path, "spiral_train.json", steps=40)
    headless = run_session(load_session(path), tmp_path).result["history"]["loss"]
    assert window.open_path(path)
    state = window.state
    qtbot.mouseClick(window.training.run_button, Qt.MouseButton.LeftButton)
    # the session's steps are where the window's run stops too
    qtbot.waitUntil(lambda: not state.is_training(), timeout=30_000)
    assert [s.loss for s in state.history] == headless


def test_evolution_history_matches_headless(qtbot, window, tmp_path: Path) -> None:
    path = session_file(tmp_path, "spiral_evolve.json", population=40, generations=6)
    headless = run_session(load_session(path), tmp_path).result["history"]
    assert window.open_path(path)
    run = window.state.evolution
    qtbot.mouseClick(window.evolution.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=30_000)
    assert len(run.history) == 7
    for key in ("best", "mean", "worst", "diversity"):
        assert [getattr(s, key) for s in run.history] == headless[key], key
