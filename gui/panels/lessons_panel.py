"""Lessons: guided lessons, each a short text, a session, the page to look at and what
to try (``resources/lessons/``, :mod:`engine.lessons`).

"Open" asks the window to load the lesson's session and show its page
(``open_requested``); the text stays here beside the pages. "Check the claims" evaluates
the lesson's machine-readable claims with the engine, off the GUI thread, and lists
each with the value the engine computed.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.lessons.claims import ClaimResult, check_lesson
from engine.lessons.lesson import Lesson, LessonError, load_lessons
from gui.background import BackgroundTask

PAGE_NAMES = {"chain": "Chain", "gradients": "Gradient flow", "training": "Training",
              "evolution": "Evolution", "numbers": "Numbers lab",
              "activations": "Activation lab", "norms": "Norms lab"}


CLAIMS_ANCHOR = "claims"


class LessonsPanel(QWidget):
    """Signals: ``open_requested(Lesson)`` when the user opens a lesson."""

    open_requested = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.task = BackgroundTask(self)
        self.task.done.connect(self._on_checked)
        self.task.failed.connect(self._on_check_failed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        # one line to pick a lesson: on a laptop screen the dock shares the left column,
        # and the lesson's text needs its height (a list left it three lines)
        self.picker = QComboBox()
        self.picker.setToolTip("The lessons, in order")
        self.picker.currentIndexChanged.connect(self._on_row_changed)
        layout.addWidget(self.picker)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open this lesson")
        self.open_button.setToolTip("Load its session and show the page it uses")
        self.open_button.clicked.connect(self.open_current)
        self.check_button = QPushButton("Check its claims")
        self.check_button.setToolTip("Compute every number the lesson states with the engine")
        self.check_button.clicked.connect(self.check_current)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.check_button)
        layout.addLayout(buttons)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        layout.addWidget(self.text, 1)
        self.lessons: list[tuple[str, Lesson]] = []
        self.results: dict[str, list[ClaimResult]] = {}
        try:
            self.lessons = load_lessons()
        except LessonError as error:
            self.status.setText(f"⚠ {error}")
        for number, (_stem, lesson) in enumerate(self.lessons, start=1):
            self.picker.addItem(f"{number}. {lesson.title}")
        if self.lessons:
            self.picker.setCurrentIndex(0)

    def current(self) -> tuple[str, Lesson] | None:
        row = self.picker.currentIndex()
        return self.lessons[row] if 0 <= row < len(self.lessons) else None

    def select(self, stem: str) -> None:
        for row, (name, _lesson) in enumerate(self.lessons):
            if name == stem:
                self.picker.setCurrentIndex(row)

    def open_current(self) -> None:
        current = self.current()
        if current is not None:
            self.open_requested.emit(current[1])

    def check_current(self) -> None:
        current = self.current()
        if current is None:
            return
        stem, lesson = current
        self.check_button.setEnabled(False)
        self.status.setText(f"checking {len(lesson.claims)} claim(s) with the engine …")
        self.task.start(lambda: (stem, check_lesson(lesson)))

    def _on_checked(self, outcome: tuple[str, list[ClaimResult]]) -> None:
        stem, results = outcome
        self.results[stem] = results
        self.check_button.setEnabled(True)
        held = sum(result.passed for result in results)
        self.status.setText(f"{held} of {len(results)} claims hold in the engine")
        self._show()
        self.text.scrollToAnchor(CLAIMS_ANCHOR)  # the results, not the lesson's top

    def _on_check_failed(self, message: str) -> None:
        self.check_button.setEnabled(True)
        self.status.setText(f"checking failed: {message}")

    def _on_row_changed(self, _row: int) -> None:
        self.status.setText("")
        self._show()

    def _show(self) -> None:
        current = self.current()
        if current is None:
            self.text.setHtml("")
            return
        stem, lesson = current
        self.text.setHtml(lesson_html(lesson, self.results.get(stem)))


def lesson_html(lesson: Lesson, results: list[ClaimResult] | None) -> str:
    """The lesson as the panel shows it: text, what to try, and its claims (checked)."""
    page = PAGE_NAMES[lesson.page]
    tries = "".join(f"<li>{escape(item)}</li>" for item in lesson.try_this)
    if results is None:
        claims = "".join(f"<li>{escape(claim.says)}</li>" for claim in lesson.claims)
    else:
        claims = "".join(
            f"<li>{'✓' if r.passed else '✗'} {escape(r.claim.says)} "
            f"<span style='color:#666'>(engine: {escape(_shown(r.value))})</span></li>"
            for r in results)
    return (f"<h3>{escape(lesson.title)}</h3>{lesson.text}"
            f"<p><b>Look at</b>: the {page} page.</p>"
            + (f"<p><b>Try</b>:</p><ul>{tries}</ul>" if tries else "")
            + f"<p><a name='{CLAIMS_ANCHOR}'></a><b>What this lesson claims</b> (checked by "
              f"the engine):</p><ul>{claims}</ul>")


def _shown(value: float | str | None) -> str:
    if value is None:
        return "could not compute"
    return f"{value:.6g}" if isinstance(value, float) else value
