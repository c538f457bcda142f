"""Fixtures for driving the real window as a person would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox, QToolButton

from gui.main_window import MainWindow
from gui.state import AppState


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("CHAINLAB_SETTINGS", str(path))
    return path


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record message boxes instead of blocking on them; questions answer Discard."""
    shown: list[tuple[str, str]] = []

    def record(kind: str, answer: object = None):
        def box(parent: object, title: str, text: str, *args: object) -> object:
            shown.append((title, text))
            return answer
        return box

    monkeypatch.setattr(QMessageBox, "warning", record("warning"))
    monkeypatch.setattr(QMessageBox, "information", record("information"))
    monkeypatch.setattr(QMessageBox, "critical", record("critical"))
    monkeypatch.setattr(QMessageBox, "question",
                        record("question", QMessageBox.StandardButton.Discard))
    return shown


@pytest.fixture
def window(qtbot, settings_file: Path, dialogs: list) -> Iterator[MainWindow]:
    state = AppState()
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    state.stop_everything()
    state.dirty = False  # close now, while message boxes are still recorded, not shown
    win.close()


def toolbar_button(win: MainWindow, action_text: str) -> QToolButton:
    for button in win.findChildren(QToolButton):
        if button.defaultAction() is not None and button.defaultAction().text() == action_text:
            return button
    raise LookupError(action_text)


def click_action(qtbot, win: MainWindow, action_text: str) -> None:
    qtbot.mouseClick(toolbar_button(win, action_text), Qt.MouseButton.LeftButton)


def choose(qtbot, combo: QComboBox, text: str) -> None:
    """Pick an entry with the keyboard, as a person would (emits ``activated``)."""
    index = combo.findText(text)
    assert index >= 0, text
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(index):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == text
