"""The evolution settings as a form: the algorithm (the GA over 4-bit codes, OpenES or
PSO over float weights) and every field of the session's ``evolve`` task that it uses.

Rows of the other algorithms are hidden; the task keeps their values, so switching back
restores them. Islands are the GA's alone: a float algorithm's task has one (OpenES and
PSO evolve one population), and the hidden islands field keeps the GA's number for when
the GA is chosen again. A value the user did not edit is kept as
the task has it, whatever the spin box's decimals show. Emits ``task_changed(EvolveTask)``
with a validated task, or ``refused(str)`` naming what is wrong (population below elite +
1, a tournament larger than the population, an odd OpenES population, too many migrants).
"""

from __future__ import annotations

from typing import Any

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

# the chooser's entries: (what it shows, task.algorithm)
ALGORITHMS = (("GA (4-bit codes)", "ga"), ("OpenES (float weights)", "openes"),
              ("PSO (float weights)", "pso"))


class EvolutionSettings(QGroupBox):
    task_changed = Signal(object)
    refused = Signal(str)

    def __init__(self) -> None:
        super().__init__("Algorithm")
        self.task = EvolveTask()
        self.form = form = QFormLayout(self)
        self.algorithm_box = QComboBox()
        for text, name in ALGORITHMS:
            self.algorithm_box.addItem(text, name)
        self.algorithm_box.setToolTip("The GA evolves 4-bit codes on the grid {0, ±α·2^-e}; "
                                      "OpenES and PSO evolve the same weights as floats")
        form.addRow(self.algorithm_box)
        self.population_spin = self._spin(form, "population", 2, 1_000_000)
        self.generations_spin = self._spin(form, "generations", 1, 10_000_000)
        self.scale_spin = self._double(form, "scale α", 1e-4, 1e4, 4, 0.1)
        self.scale_spin.setToolTip("α: the largest weight magnitude of the 4-bit grid; "
                                   "for OpenES and PSO the range of the random start")
        self.device_box = self._combo(form, "device", ["cpu", "cuda", "auto"])
        self.seed_check = QCheckBox("seed from the current chain")
        self.seed_check.setToolTip("Start from the chain's weights (the GA: snapped to "
                                   "the 4-bit grid)")
        form.addRow(self.seed_check)
        # the GA's own
        self.elite_spin = self._spin(form, "elite", 0, 999_999)
        self.selection_box = self._combo(form, "selection", ["tournament", "uniform", "rank"])
        self.tournament_spin = self._spin(form, "tournament size", 1, 1000)
        self.crossover_check = QCheckBox("uniform crossover")
        form.addRow(self.crossover_check)
        self.children_box = self._combo(form, "children per pair", ["2", "1"])
        self.mutation_spin = self._double(form, "bit-flip rate", 0.0, 1.0, 5, 0.005)
        self.islands_spin = self._spin(form, "islands", 1, 64)
        self.islands_spin.setToolTip("Populations evolved side by side, each of the "
                                     "population's size, with ring migration (1: one)")
        self.migration_every_spin = self._spin(form, "migration every", 1, 10_000_000)
        self.migration_every_spin.setToolTip("Generations between two migrations")
        self.migration_count_spin = self._spin(form, "migrants", 0, 999_999)
        self.migration_count_spin.setToolTip("Each island sends copies of its best to the "
                                             "next, replacing its worst")
        # OpenES
        self.sigma_spin = self._double(form, "noise σ", 1e-4, 100.0, 5, 0.01)
        self.es_lr_spin = self._double(form, "learning rate", 1e-5, 100.0, 6, 0.01)
        self.es_optimizer_box = self._combo(form, "optimiser", ["adam", "sgd"])
        # PSO
        self.inertia_spin = self._double(form, "inertia w", 0.0, 10.0, 5, 0.05)
        self.cognitive_spin = self._double(form, "cognitive c1", 0.0, 10.0, 5, 0.1)
        self.social_spin = self._double(form, "social c2", 0.0, 10.0, 5, 0.1)
        self.init_range_spin = self._double(form, "start range (×α)", 1e-4, 100.0, 4, 0.1)
        self.velocity_spin = self._double(form, "max velocity (×α)", 1e-4, 100.0, 4, 0.1)
        self.rows = {
            "ga": (self.elite_spin, self.selection_box, self.tournament_spin,
                   self.crossover_check, self.children_box, self.mutation_spin,
                   self.islands_spin, self.migration_every_spin, self.migration_count_spin),
            "openes": (self.sigma_spin, self.es_lr_spin, self.es_optimizer_box),
            "pso": (self.inertia_spin, self.cognitive_spin, self.social_spin,
                    self.init_range_spin, self.velocity_spin)}
        for widget in self._widgets():
            signal = {QSpinBox: "valueChanged", QDoubleSpinBox: "valueChanged",
                      QComboBox: "currentIndexChanged", QCheckBox: "toggled"}[type(widget)]
            getattr(widget, signal).connect(self._apply)
        self._show_rows("ga")

    def _widgets(self) -> tuple[QWidget, ...]:
        return (self.algorithm_box, self.population_spin, self.generations_spin,
                self.scale_spin, self.device_box, self.seed_check,
                *(widget for rows in self.rows.values() for widget in rows))

    @staticmethod
    def _spin(form: QFormLayout, label: str, low: int, high: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        form.addRow(label, spin)
        return spin

    @staticmethod
    def _double(form: QFormLayout, label: str, low: float, high: float, decimals: int,
                step: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        form.addRow(label, spin)
        return spin

    @staticmethod
    def _combo(form: QFormLayout, label: str, items: list[str]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        form.addRow(label, combo)
        return combo

    def algorithm(self) -> str:
        return str(self.algorithm_box.currentData())

    def _show_rows(self, algorithm: str) -> None:
        for name, widgets in self.rows.items():
            for widget in widgets:
                self.form.setRowVisible(widget, name == algorithm)
        islands = self.islands_spin.value() > 1  # migration means nothing with one
        self.migration_every_spin.setEnabled(islands)
        self.migration_count_spin.setEnabled(islands)

    def show_task(self, task: EvolveTask) -> None:
        """Show ``task`` without emitting anything."""
        self.task = task
        for widget in self._widgets():
            widget.blockSignals(True)
        self.algorithm_box.setCurrentIndex(self.algorithm_box.findData(task.algorithm))
        self.population_spin.setValue(task.population)
        self.elite_spin.setValue(task.elite)
        self.tournament_spin.setValue(task.tournament_size)
        self.generations_spin.setValue(task.generations)
        self.selection_box.setCurrentText(task.selection)
        self.children_box.setCurrentText(str(task.children_per_pair))
        self.device_box.setCurrentText(task.device)
        self.mutation_spin.setValue(task.mutation_rate)
        if task.algorithm == "ga":  # a float task's 1 is not the GA's number
            self.islands_spin.setValue(task.islands)
        self.migration_every_spin.setValue(task.migration.every)
        self.migration_count_spin.setValue(task.migration.count)
        scale = task.scales if isinstance(task.scales, float | int) else task.scales[0]
        self.scale_spin.setValue(float(scale))
        self.crossover_check.setChecked(task.crossover)
        self.seed_check.setChecked(task.seed_from_network)
        self.sigma_spin.setValue(task.openes.sigma)
        self.es_lr_spin.setValue(task.openes.lr)
        self.es_optimizer_box.setCurrentText(task.openes.optimizer)
        self.inertia_spin.setValue(task.pso.inertia)
        self.cognitive_spin.setValue(task.pso.cognitive)
        self.social_spin.setValue(task.pso.social)
        self.init_range_spin.setValue(task.pso.init_range)
        self.velocity_spin.setValue(task.pso.max_velocity)
        for widget in self._widgets():
            widget.blockSignals(False)
        self._show_rows(task.algorithm)

    def _values(self) -> dict[str, Any]:
        task = self.task
        scale = self.scale_spin.value()
        old = task.scales  # a list per layer stays a list while α is not touched
        first = float(old[0] if isinstance(old, list) else old)
        keep = _unedited(self.scale_spin, first)
        ga = self.algorithm() == "ga"
        return {
            "algorithm": self.algorithm(),
            "population": self.population_spin.value(), "elite": self.elite_spin.value(),
            "selection": self.selection_box.currentText(),
            "tournament_size": self.tournament_spin.value(),
            "crossover": self.crossover_check.isChecked(),
            "children_per_pair": int(self.children_box.currentText()),
            "mutation_rate": _kept(self.mutation_spin, task.mutation_rate),
            "generations": self.generations_spin.value(),
            "scales": old if keep else scale, "device": self.device_box.currentText(),
            "seed_from_network": self.seed_check.isChecked(),
            "islands": self.islands_spin.value() if ga else 1,
            "migration": {"every": self.migration_every_spin.value(),
                          "count": self.migration_count_spin.value()},
            "openes": {"sigma": _kept(self.sigma_spin, task.openes.sigma),
                       "lr": _kept(self.es_lr_spin, task.openes.lr),
                       "optimizer": self.es_optimizer_box.currentText()},
            "pso": {"inertia": _kept(self.inertia_spin, task.pso.inertia),
                    "cognitive": _kept(self.cognitive_spin, task.pso.cognitive),
                    "social": _kept(self.social_spin, task.pso.social),
                    "init_range": _kept(self.init_range_spin, task.pso.init_range),
                    "max_velocity": _kept(self.velocity_spin, task.pso.max_velocity)}}

    def _apply(self) -> None:
        self._show_rows(self.algorithm())
        try:  # over the current task: the fields the form does not show are kept
            task = EvolveTask.model_validate({**self.task.model_dump(), **self._values()})
        except ValidationError as error:
            self.refused.emit(f"invalid setting: {error.errors()[0]['msg']}")
            return
        problem = refusal(task)
        if problem:
            self.refused.emit(problem)
            return
        self.task = task
        self.task_changed.emit(task)


def refusal(task: EvolveTask) -> str:
    """Why ``task`` cannot run as the form shows it, or ""."""
    if task.algorithm == "ga":
        if task.population < task.elite + 1:
            return f"population must be at least elite + 1 = {task.elite + 1}"
        if task.selection == "tournament" and task.tournament_size > task.population:
            return "the tournament cannot be larger than the population"
        room = task.population - task.elite
        if task.islands > 1 and task.migration.count >= room:
            return (f"migrants must be fewer than population - elite = {room} (they "
                    "replace the worst, never the elites)")
    if task.algorithm == "openes" and task.population % 2:
        return ("OpenES evaluates perturbations in antithetic pairs: the population must "
                "be even")
    return ""


def _unedited(spin: QDoubleSpinBox, value: float) -> bool:
    """``spin`` shows ``value`` as it was set (rounded to its decimals): not edited."""
    return abs(spin.value() - round(value, spin.decimals())) < 0.5 * 10 ** -spin.decimals()


def _kept(spin: QDoubleSpinBox, value: float) -> float:
    """The task's own ``value`` unless the user edited ``spin`` (its decimals round)."""
    return value if _unedited(spin, value) else spin.value()
