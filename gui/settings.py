"""Persistent settings (window layout, geometry, recent files) in QSettings.

``CHAINLAB_SETTINGS`` names an INI file to use instead of the platform's store (tests use
it to stay out of the user's settings).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 8


def open_settings() -> QSettings:
    path = os.environ.get("CHAINLAB_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("ChainLab", "Chain Lab")


def recent_files(settings: QSettings) -> list[str]:
    value = settings.value("recent_files", [])
    if isinstance(value, str):  # QSettings returns a lone string for one-item lists
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def add_recent_file(settings: QSettings, path: str) -> list[str]:
    files = [path, *(f for f in recent_files(settings) if f != path)][:MAX_RECENT]
    settings.setValue("recent_files", files)
    return files


def forget_recent_file(settings: QSettings, path: str) -> list[str]:
    files = [f for f in recent_files(settings) if f != path]
    settings.setValue("recent_files", files)
    return files


def start_folder(kind: str) -> str:
    """Where a file dialog for ``kind`` ("sessions", "exports", "data") opens: the last
    folder used for it, else the user's documents (never the app's own folder)."""
    last = open_settings().value(f"folders/{kind}")
    app_folder = Path(__file__).resolve().parents[1]
    if isinstance(last, str) and Path(last).is_dir() \
            and not Path(last).resolve().is_relative_to(app_folder):
        return last
    documents = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.DocumentsLocation)
    return documents if documents and Path(documents).is_dir() else str(Path.home())


def remember_folder(kind: str, path: str | Path) -> None:
    """The folder of a file just opened or saved, for the next dialog of that kind."""
    settings = open_settings()
    settings.setValue(f"folders/{kind}", str(Path(path).resolve().parent))
    settings.sync()


def recovery_path() -> Path:
    """Where a session with unsaved changes is kept when the app is told to terminate."""
    settings_file = os.environ.get("CHAINLAB_SETTINGS")
    folder = Path(settings_file).parent if settings_file else Path(
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "recovered-session.json"
