"""The mouse wheel scrolls panels; it edits a number only in the field that has focus.

Scrolling the Chain builder used to change depth 30 → 27 and width 32 → 30 under the
cursor: spin boxes, combo boxes and sliders took the wheel whenever the pointer crossed
them. This filter hands such a wheel event to the widget's parent (the scroll area or
panel) unless the widget has keyboard focus (clicked or tabbed into).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QSlider,
    QWidget,
)

# Scroll bars are sliders too, but scrolling is their job: a list or a table hands its
# wheel events to its scroll bar, which never has focus.
GUARDED = (QAbstractSpinBox, QComboBox, QSlider)


class WheelGuard(QObject):
    """Installed once on the application; guards every spin box, combo box and slider."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, GUARDED) \
                and isinstance(watched, QWidget) and not watched.hasFocus():
            if watched.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus by wheel
            event.ignore()  # ignored, the event goes on to the parent, which scrolls
            return True
        return False
