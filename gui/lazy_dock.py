"""A dock whose panel is built the first time the dock is shown.

The labs start hidden, and most sessions never open some of them; building their panels
at start cost about 0.4 s before the window was ready. A :class:`LazyDock` holds a
factory instead and builds the panel (once) in its first ``showEvent``, so every way a
dock becomes visible builds it the same way: the View menu's toggle, a shortcut, a
lesson opening a lab, "Show bits", a click on its tab, a layout restored from the
settings. ``panel`` is None until then; ``ensure_panel()`` builds it on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDockWidget, QWidget

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

    def ensure_panel(self) -> P:
        """The panel, built now if it has not been."""
        if self.panel is None:
            self.panel = self._factory()
            self.setWidget(self.panel)
            self.panel_built.emit(self.panel)
        return self.panel

    def showEvent(self, event: QShowEvent) -> None:
        self.ensure_panel()  # before Qt lays the dock out for its first paint
        super().showEvent(event)
