"""Start the desktop app: paint a light window first, then load the engine and panels.

Importing torch takes longer than starting Qt, so the first window is painted before
anything heavy is imported; the full window replaces it a moment later. With
``CHAINLAB_REPORT_STARTUP=1`` the time from process start to that first paint is printed
(bench/bench_startup.py reads it).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox

if TYPE_CHECKING:  # imported for real only after the first paint (they import torch)
    from gui.main_window import MainWindow
    from gui.state import AppState


def seconds_since_process_start() -> float:
    """Wall time since this process started (Linux /proc; else since this module loaded)."""
    try:
        with open("/proc/self/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime") as stream:
            uptime = float(stream.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _MODULE_LOADED


_MODULE_LOADED = time.perf_counter()


class LoadingWindow(QMainWindow):
    """A window that paints at once and says it is loading."""

    first_painted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Chain Lab")
        label = QLabel("Chain Lab\n\nloading the engine…")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("font-size: 20px; color: #555;")
        self.setCentralWidget(label)
        self._painted = False

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()


def launch(session_path: str | None = None, screenshot: str | None = None) -> int:
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                       or os.environ.get("QT_QPA_PLATFORM") or sys.platform != "linux")
    if session_path and not Path(session_path).is_file():
        # said first (before the display): the app would otherwise start without it
        print(f"error: {session_path}: no such session file", file=sys.stderr)
        return 2
    if screenshot and not has_display:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not has_display:
        print("error: no display to open the window on (DISPLAY is not set). Run it in a "
              "desktop session, or headless: main.py run SESSION.json --out DIR, or "
              "main.py --screenshot FILE [SESSION.json]", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Chain Lab")
    app.setOrganizationName("ChainLab")
    loading = LoadingWindow()
    from gui.settings import open_settings

    geometry = open_settings().value("geometry")
    if geometry is not None:
        loading.restoreGeometry(geometry)
    else:
        loading.resize(1400, 900)
    holder: dict[str, object] = {}

    def on_first_paint() -> None:
        if os.environ.get("CHAINLAB_REPORT_STARTUP"):
            print(f"first-paint-seconds {seconds_since_process_start():.3f}", flush=True)
        QTimer.singleShot(0, load)

    def load() -> None:
        from engine.data.session import SessionError  # imports torch: only after the first paint

        try:
            window = build_window(session_path, interactive=not screenshot)
        except SessionError as error:  # --screenshot with a bad session: no one to ask
            print(f"error: {session_path}: {error}", file=sys.stderr)
            QApplication.exit(2)
            return
        except Exception as error:  # the app cannot start: say why instead of hanging
            if not screenshot:
                QMessageBox.critical(loading, "Chain Lab cannot start", f"{error}")
            QApplication.exit(1)
            raise
        holder["window"] = window
        # Everything built so far lives as long as the window: keep it out of the
        # collector's full passes, which would otherwise walk it and pause the GUI.
        gc.collect()
        gc.freeze()
        if screenshot:
            window.resize(1280, 800)  # a laptop's screen, whatever the (virtual) one
            window.show()
        elif window.fills_screen:
            window.showMaximized()
        else:
            window.show()
        loading.close()
        if os.environ.get("CHAINLAB_REPORT_STARTUP"):
            print(f"ready-seconds {seconds_since_process_start():.3f}", flush=True)
        if screenshot:
            QTimer.singleShot(400, lambda: save_screenshot(window, Path(screenshot)))

    loading.first_painted.connect(on_first_paint)
    _close_on_terminate(app)
    loading.show()
    if screenshot and os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        loading.repaint()  # offscreen windows get no expose event of their own
    return app.exec()


def _close_on_terminate(app: QCoreApplication) -> None:
    """SIGTERM/SIGINT close the windows as the Quit action does (workers stopped, layout
    saved) instead of killing the process mid-write. Unsaved changes are kept in a
    recovery file rather than asked about, since nobody may be there to answer."""

    def on_signal(signum: int, frame: object) -> None:
        from gui.main_window import MainWindow

        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.state.dirty:
                _write_recovery(widget.state)
                widget.state.dirty = False
        QTimer.singleShot(0, QApplication.closeAllWindows)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Python runs signal handlers only when it holds control; a light timer gives it that.
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(200)


def _write_recovery(state: AppState) -> None:
    from engine.data.session import save_session
    from gui.settings import recovery_path

    path = recovery_path()
    try:
        save_session(state.current_session(), path)
        print(f"unsaved session kept in {path}", file=sys.stderr)
    except OSError as error:
        print(f"could not keep the unsaved session: {error}", file=sys.stderr)


def build_window(session_path: str | None, interactive: bool = True) -> MainWindow:
    """The main window, with the session opened. A bad session is shown in a message box
    (the app starts with the default session) or, not ``interactive``, raised."""
    from gui.main_window import MainWindow
    from gui.state import AppState

    state = AppState()
    window = MainWindow(state)
    if session_path and interactive:
        window.open_path(session_path, ask=False)
    elif session_path:
        try:
            state.open_session(session_path)
        except Exception:
            window.stop_background_work()  # a thread still running at exit aborts Python
            raise
    return window


def save_screenshot(window: MainWindow, path: Path) -> None:
    from gui.export import ExportError, export_widget_png

    QApplication.processEvents()
    try:
        export_widget_png(window, path)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        window.state.dirty = False
        QApplication.exit(2)
        return
    print(f"wrote {path}", file=sys.stderr)
    window.state.dirty = False  # nothing to ask about on exit
    window.close()
    QApplication.quit()
