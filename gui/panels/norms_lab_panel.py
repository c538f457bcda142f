"""Norms lab: why normalisation helps and what it costs.

Pages: Without vs with (the chain without norms beside the chain with one kind after
every hidden linear layer: activation statistics and gradient flow per block), Covariate
shift (a block's input distribution while both train), Axis (which entries each norm
averages over; batch norm on one sample and in eval mode) and Cost (reductions, and
times measured against torch). The subject is the window's session or a preset deep
tanh chain on spiral data.

Reads ``state.network``, ``state.dataset``, ``state.session`` and
``state.training.settings``; never changes the state. Listens to ``chain_changed``,
``data_changed`` and ``settings_changed`` (recomputes the side-by-side view when the
subject is the current session). Emits ``norm_chosen_for_chain(str)`` when "use this
norm in the app's chain" is pressed ("none": remove every norm).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.norms.axis_page import AxisPage
from gui.norms.compare_page import ComparePage
from gui.norms.cost_page import CostPage
from gui.norms.shift_page import ShiftPage
from gui.norms.subject import CURRENT, PRESET_XAVIER, SUBJECTS, Subject, subject_for
from gui.state import AppState


class NormsLabPanel(QWidget):
    """The Norms lab's subject choice and its four pages in tabs."""

    norm_chosen_for_chain = Signal(str)

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        self.subject_box = QComboBox()
        self.subject_box.addItems(list(SUBJECTS))
        self.subject_box.currentIndexChanged.connect(lambda _index: self._on_subject_chosen())
        self.subject_label = QLabel("subject")
        self.subject_note = QLabel()  # why the lab shows a preset, or that a tab has none
        self.subject_note.setStyleSheet("color: #555")
        row.addWidget(self.subject_label)
        row.addWidget(self.subject_box)
        row.addWidget(self.subject_note, 1)
        layout.addLayout(row)
        self.tabs = QTabWidget()
        self.compare = ComparePage(self.subject)
        self.shift = ShiftPage(self.subject)
        self.axis = AxisPage()
        self.cost = CostPage()
        for page, title in ((self.compare, "Without vs with"), (self.shift, "Covariate shift"),
                            (self.axis, "Axis"), (self.cost, "Cost")):
            self.tabs.addTab(page, title)
        layout.addWidget(self.tabs)
        self.tabs.currentChanged.connect(self._on_page_shown)
        self.compare.norm_chosen_for_chain.connect(self.norm_chosen_for_chain)
        for signal in (state.chain_changed, state.data_changed, state.settings_changed):
            signal.connect(self._on_session_changed)
        self._stale = True
        if self._session_is_narrow():  # the seed example: every norm of it is trivial
            self.subject_box.setCurrentText(PRESET_XAVIER)
        self._on_subject_chosen()

    def subject(self) -> Subject:
        return subject_for(self.subject_box.currentText(), self.state)

    def choose_subject(self, name: str) -> None:
        self.subject_box.setCurrentText(name)

    def plots(self) -> list[pg.PlotWidget]:
        return [*self.compare.plots(), *self.shift.plots()]

    def stop(self) -> None:
        """Wait for background computations (the window is closing)."""
        self.shift.stop()
        for task in (self.compare.task, self.cost.task):
            task.stop()

    def _on_page_shown(self, index: int) -> None:
        # the axis and cost pages work on their own small tensors, not on the subject
        # (disabled, not hidden: hiding the row made the tab bar jump under the pointer)
        uses_subject = self.tabs.widget(index) in (self.compare, self.shift)
        self.subject_label.setEnabled(uses_subject)
        self.subject_box.setEnabled(uses_subject)
        self._say_why()

    def _session_is_narrow(self) -> bool:
        return subject_for(CURRENT, self.state).widest_hidden() <= 1

    def _say_why(self) -> None:
        """The note beside the subject: a tab that does not use it, or a session chain
        too narrow for a norm to mean anything (shown, or replaced by a preset)."""
        if not self.subject_box.isEnabled():
            note = "not used here: this tab works on its own small tensors"
        elif not self._session_is_narrow():
            note = ""
        elif self.subject_box.currentText() == CURRENT:
            note = "no hidden layer of this chain is wider than one unit: a norm has " \
                "nothing to average over (a preset shows more)"
        else:
            note = "the session's chain has no hidden layer wider than one unit, where a " \
                "norm has nothing to average over: a preset is shown"
        self.subject_note.setText(note)

    def _on_subject_chosen(self) -> None:
        self._say_why()
        if not self.isVisible():  # a hidden lab costs nothing: it catches up when shown
            self._stale = True
            return
        self._stale = False
        self.shift.subject_changed(self.subject())
        self.compare.compute()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._on_subject_chosen()

    def _on_session_changed(self) -> None:
        if self.subject_box.currentText() == CURRENT:
            self._on_subject_chosen()
        else:
            self._say_why()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)
