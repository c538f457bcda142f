"""Say that the window is busy while something slow runs on the GUI thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget


@contextmanager
def busy(widget: QWidget, message: str) -> Iterator[None]:
    """A wait cursor and ``message`` in the window's status bar, painted before the work
    starts (a chain of hundreds of layers takes a moment to build and draw)."""
    window = widget.window()
    bar = window.statusBar() if isinstance(window, QMainWindow) else None
    if bar is not None:
        bar.showMessage(message)
        bar.repaint()  # now: the work below blocks the event loop
    QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()
        if bar is not None and bar.currentMessage() == message:
            bar.clearMessage()
