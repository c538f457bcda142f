"""The GA's settings as a form: every field of the session's ``evolve`` task.

Emits ``task_changed(EvolveTask)`` with a validated task, or ``refused(str)`` naming
what is wrong (population below elite + 1, a tournament larger than the population).
"""

from __future__ import annotations

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from engine.data.tasks import EvolveTask


class EvolutionSettings(QGroupBox):
    task_changed = Signal(object)
    refused = Signal(str)

    def __init__(self) -> None:
        super().__init__("Genetic algorithm")
        form = QFormLayout(self)
        self.population_spin = self._spin(form, "population", 2, 1_000_000)
        self.elite_spin = self._spin(form, "elite", 0, 999_999)
        self.selection_box = self._combo(form, "selection", ["tournament", "uniform", "rank"])
        self.tournament_spin = self._spin(form, "tournament size", 1, 1000)
        self.crossover_check = QCheckBox("uniform crossover")
        form.addRow(self.crossover_check)
        self.children_box = self._combo(form, "children per pair", ["2", "1"])
        self.mutation_spin = QDoubleSpinBox()
        self.mutation_spin.setDecimals(4)
        self.mutation_spin.setRange(0.0, 1.0)
        self.mutation_spin.setSingleStep(0.005)
        form.addRow("bit-flip rate", self.mutation_spin)
        self.generations_spin = self._spin(form, "generations", 1, 10_000_000)
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(1e-4, 1e4)
        self.scale_spin.setDecimals(4)
        self.scale_spin.setToolTip("α: the largest weight magnitude of the 4-bit grid")
        form.addRow("scale α", self.scale_spin)
        self.device_box = self._combo(form, "device", ["cpu", "cuda", "auto"])
        self.seed_check = QCheckBox("seed from the current chain")
        self.seed_check.setToolTip("Start from the chain's weights snapped to the 4-bit grid")
        form.addRow(self.seed_check)
        for spin in (self.population_spin, self.elite_spin, self.tournament_spin,
                     self.generations_spin):
            spin.valueChanged.connect(self._apply)
        for combo in (self.selection_box, self.children_box, self.device_box):
            combo.currentIndexChanged.connect(self._apply)
        self.mutation_spin.valueChanged.connect(self._apply)
        self.scale_spin.valueChanged.connect(self._apply)
        self.crossover_check.toggled.connect(self._apply)
        self.seed_check.toggled.connect(self._apply)

    def _widgets(self) -> tuple[QWidget, ...]:
        return (self.population_spin, self.elite_spin, self.tournament_spin,
                self.generations_spin, self.selection_box, self.children_box,
                self.device_box, self.mutation_spin, self.scale_spin, self.crossover_check,
                self.seed_check)

    @staticmethod
    def _spin(form: QFormLayout, label: str, low: int, high: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        form.addRow(label, spin)
        return spin

    @staticmethod
    def _combo(form: QFormLayout, label: str, items: list[str]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        form.addRow(label, combo)
        return combo

    def show_task(self, task: EvolveTask) -> None:
        """Show ``task`` without emitting anything."""
        for widget in self._widgets():
            widget.blockSignals(True)
        self.population_spin.setValue(task.population)
        self.elite_spin.setValue(task.elite)
        self.tournament_spin.setValue(task.tournament_size)
        self.generations_spin.setValue(task.generations)
        self.selection_box.setCurrentText(task.selection)
        self.children_box.setCurrentText(str(task.children_per_pair))
        self.device_box.setCurrentText(task.device)
        self.mutation_spin.setValue(task.mutation_rate)
        scale = task.scales if isinstance(task.scales, float | int) else task.scales[0]
        self.scale_spin.setValue(float(scale))
        self.crossover_check.setChecked(task.crossover)
        self.seed_check.setChecked(task.seed_from_network)
        for widget in self._widgets():
            widget.blockSignals(False)

    def _apply(self) -> None:
        try:
            task = EvolveTask.model_validate({
                "population": self.population_spin.value(), "elite": self.elite_spin.value(),
                "selection": self.selection_box.currentText(),
                "tournament_size": self.tournament_spin.value(),
                "crossover": self.crossover_check.isChecked(),
                "children_per_pair": int(self.children_box.currentText()),
                "mutation_rate": self.mutation_spin.value(),
                "generations": self.generations_spin.value(),
                "scales": self.scale_spin.value(), "device": self.device_box.currentText(),
                "seed_from_network": self.seed_check.isChecked()})
        except ValidationError as error:
            self.refused.emit(f"invalid setting: {error.errors()[0]['msg']}")
            return
        if task.population < task.elite + 1:
            self.refused.emit(f"population must be at least elite + 1 = {task.elite + 1}")
            return
        if task.selection == "tournament" and task.tournament_size > task.population:
            self.refused.emit("the tournament cannot be larger than the population")
            return
        self.task_changed.emit(task)
