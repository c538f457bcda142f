"""A dock whose panel is built the first time the dock is shown.

The labs start hidden, and most sessions never open some of them; building their panels
at start cost about 0.4 s before the window was ready. A :class:`LazyDock` holds a
factory instead and builds the panel (once) in its first ``showEvent``, so every way a
dock becomes visible builds it the same way: the View menu's toggle, a shortcut, a
lesson opening a lab, "Show bits", a click on its tab, a layout restored from the
settings. ``panel`` is None until then; ``ensure_panel()`` builds it on demand. A panel
that cannot be built (a broken install, a module changed under a running app) leaves the
dock saying so, instead of an empty box, and is tried again the next time it is shown.
"""

from __future__ import annotations

import html
import sys
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

P = TypeVar("P", bound=QWidget)


class LazyDock(QDockWidget, Generic[P]):
    """A dock that builds its panel with ``factory`` when it is first shown.

    Signals
    -------
    panel_built(QWidget) : the panel was built and put in the dock (emitted once).
    """

    panel_built = Signal(QWidget)

    def __init__(self, title: str, factory: Callable[[], P],
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._factory = factory
        self.panel: P | None = None

    def ensure_panel(self) -> P | None:
        """The panel, built now if it has not been; None when building it failed (the
        dock then shows why)."""
        if self.panel is None:
            try:
                panel = self._factory()
            except Exception as error:  # any failure: said in the dock, not an empty box
                traceback.print_exc(file=sys.stderr)
                self.setWidget(self._failure(error))
                return None
            self.panel = panel
            self.setWidget(panel)
            self.panel_built.emit(panel)
        return self.panel

    def _failure(self, error: Exception) -> QLabel:
        label = QLabel(f"<b>The {self.windowTitle()} could not be opened.</b><br><br>"
                       f"{type(error).__name__}: {html.escape(str(error), quote=False)}<br><br>"
                       "Restart Chain Lab; if this stays, reinstall it (./run-app makes a "
                       "fresh .venv when it is deleted). The details are on the terminal.")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setMargin(12)
        return label

    def showEvent(self, event: QShowEvent) -> None:
        self.ensure_panel()  # before Qt lays the dock out for its first paint
        super().showEvent(event)
