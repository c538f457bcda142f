"""Numbers lab: how ints and floats are stored, and what low precision does.

Pages: Bits (one value in every format, clickable bits), Limits (every format's range
and resolution, common claims corrected), Integers (two's complement, overflow),
Accumulation (summation error against N), Speed (integer versus float arithmetic,
measured on this machine) and Low precision (training with the weights stored in a
narrow format, one run per format). Listens to the state's ``number_inspected`` ("Show
bits" in the chain view, the weights table and the GA's genome view); built after one
(the window builds the lab when it is first opened), it shows the state's ``inspected``.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from engine.data.session import Session
from engine.data.tasks import TrainTask
from gui.numbers.accumulation_page import AccumulationPage
from gui.numbers.bits_page import BitsPage
from gui.numbers.integers_page import IntegersPage
from gui.numbers.limits_page import LimitsPage
from gui.numbers.speed_page import SpeedPage
from gui.numbers.storage_page import StoragePage
from gui.state import AppState


class NumbersPanel(QWidget):
    """The Numbers lab's pages in tabs."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.tabs = QTabWidget()
        self.bits = BitsPage()
        self.limits = LimitsPage()
        self.integers = IntegersPage()
        self.accumulation = AccumulationPage()
        self.speed = SpeedPage()
        self.storage = StoragePage(self._session, self._train_task)
        for page, title in ((self.bits, "Bits"), (self.limits, "Limits"),
                            (self.integers, "Integers"), (self.accumulation, "Accumulation"),
                            (self.speed, "Speed"), (self.storage, "Low precision")):
            self.tabs.addTab(page, title)
        layout.addWidget(self.tabs)
        state.number_inspected.connect(self._on_number_inspected)
        if state.inspected is not None:
            self._on_number_inspected(*state.inspected)

    def _session(self) -> Session:
        return self.state.current_session()

    def _train_task(self) -> TrainTask:
        return self.state.training.settings

    def plots(self) -> list[pg.PlotWidget]:
        return [self.accumulation.plot, *self.storage.plots()]

    def stop(self) -> None:
        """Wait for background computations (the window is closing)."""
        for task in (self.accumulation.task, self.speed.task, self.storage.task):
            task.stop()

    def _on_number_inspected(self, text: str, fmt: str, source: str) -> None:
        self.tabs.setCurrentWidget(self.bits)
        self.bits.show_value(text, fmt, source)
