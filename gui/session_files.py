"""File ▸ New / Open / Save / Save As / Open recent / Export, for the main window.

Owns the dialogs and the unsaved-changes question; the state does the reading and
writing. A bad file is shown and the open session kept.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMenu, QMessageBox

from engine.core.torch_export import python_source
from engine.data.session import SessionError, write_atomic
from gui.export import export_plot, export_through_dialog, export_widget_png
from gui.settings import (
    add_recent_file,
    forget_recent_file,
    open_settings,
    recent_files,
    remember_folder,
    start_folder,
)
from gui.state import AppState


class SessionFiles:
    """The File menu's actions for ``window``, whose session is ``state``."""

    def __init__(self, window: QMainWindow, state: AppState, recent_menu: QMenu) -> None:
        self.window, self.state, self.recent_menu = window, state, recent_menu
        self.settings = open_settings()
        self.refresh_recent_menu()

    def confirm_discard(self) -> bool:
        """Ask before unsaved changes are lost; True means go ahead."""
        if not self.state.dirty:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes", "The session has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_session(self) -> None:
        if self.confirm_discard():
            self.state.new_session()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session",
                                              start_folder("sessions"),
                                              "Chain Lab sessions (*.json)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open a session; a bad file shows a message and keeps the current session."""
        if ask and not self.confirm_discard():
            return False
        try:
            self.state.open_session(path)
        except SessionError as error:
            gone = not Path(path).exists() and str(path) in recent_files(self.settings)
            if gone:  # a file moved or deleted: not offered again
                forget_recent_file(self.settings, str(path))
                self.refresh_recent_menu()
            QMessageBox.warning(self.window, "Cannot open session", f"{path}\n\n{error}" + (
                "\n\nIt is no longer listed under Open recent." if gone else ""))
            return False
        self._remember(Path(path))
        return True

    def save(self) -> bool:
        if self.state.path is None:
            return self.save_as()
        return self.save_to(self.state.path)

    def save_as(self) -> bool:
        suggested = str(Path(start_folder("sessions")) / "session.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", suggested,
                                              "Chain Lab sessions (*.json)")
        return bool(path) and self.save_to(Path(path), rename=True)

    def save_to(self, path: Path, rename: bool = False) -> bool:
        """Save to ``path``; ``rename``: the session takes the file's name (Save As)."""
        try:
            self.state.save(path, path.stem if rename else None)
        except OSError as error:
            QMessageBox.warning(self.window, "Cannot save", f"{path}\n\n{error}")
            return False
        self._remember(path)
        return True

    def _remember(self, path: Path) -> None:
        add_recent_file(self.settings, str(path.resolve()))
        remember_folder("sessions", path)
        self.refresh_recent_menu()

    def refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = recent_files(self.settings)
        for path in files:
            self.recent_menu.addAction(path, partial(self.open_path, path))
        self.recent_menu.setEnabled(bool(files))

    # -- exports ---------------------------------------------------------------------------

    def export_plot_dialog(self, choices: list[tuple[str, pg.PlotWidget]]) -> None:
        """Pick one of ``choices`` (label, plot), the first preselected, then a file."""
        if not choices:
            return
        plots = dict(choices)
        label, ok = QInputDialog.getItem(self.window, "Export plot", "Plot:", list(plots), 0,
                                         False)
        if ok:
            plot = plots[label]
            export_through_dialog(self.window, "Export plot", f"{plot.export_name}.png",
                                  "PNG (*.png);;SVG (*.svg);;CSV (*.csv)",
                                  lambda path: export_plot(plot, path))

    def export_window_dialog(self) -> None:
        export_through_dialog(self.window, "Export window", "chainlab.png", "PNG (*.png)",
                              lambda path: export_widget_png(self.window, path))

    def export_torch_dialog(self) -> None:
        suggested = str(Path(start_folder("exports")) / "chain.py")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export as PyTorch code", suggested,
                                              "Python (*.py)")
        if path:
            self.export_torch(Path(path))

    def export_torch(self, path: Path) -> bool:
        try:
            write_atomic(path, python_source(self.state.chain).encode("utf-8"))
        except OSError as error:
            QMessageBox.warning(self.window, "Export failed", f"{path}\n\n{error}")
            return False
        remember_folder("exports", path)
        self.window.statusBar().showMessage(f"wrote {path}", 5000)
        return True
