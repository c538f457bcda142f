"""Population evolution: Start/Continue/Pause/Step/Stop/Reset on top, the algorithm (the
GA over 4-bit codes, OpenES or PSO over float weights) and its settings below them, and
live views in three tabs: the Progress plots (:class:`gui.evolution_progress.
ProgressPlots`), the genome view (GA only), and the comparison of the GA (4-bit), OpenES
(float), OpenES snapped to 4 bits and SGD (:class:`gui.comparison_tab.ComparisonTab`).

Listens to the state's three evolution runs (``evolution``: the GA, ``islands``: the GA
with islands, ``strategy``: OpenES and PSO; the chosen algorithm's drives the buttons)
and the slot's ``changed``; redraws at most ~30 times a second.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data.tasks import EvolveTask
from engine.evolution.ga import GenerationStats
from engine.evolution.genome import code_table
from engine.evolution.islands import IslandGeneration
from engine.evolution.strategy_record import StrategyGeneration
from gui.comparison_tab import ComparisonTab
from gui.evolution_progress import ProgressPlots
from gui.evolution_settings import EvolutionSettings
from gui.generation_run import ALGORITHM_NAMES, GenerationRun
from gui.genome_view import GenomeView
from gui.plot_widgets import (
    PROGRESS_FRAME_MS,
    RedrawTimer,
)
from gui.state import AppState

BOUNDARY_PART = 2  # index of _redraw_boundary among the redraw timer's parts
class EvolutionPanel(QWidget):
    """Evolve the chain's weights with a genetic algorithm or a float strategy, live."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QHBoxLayout(self)
        layout.addWidget(self._controls())
        self.tabs = QTabWidget()
        self.plots_view = ProgressPlots()
        # by the names the tests, exports and screenshots use
        self.loss_plot = self.plots_view.loss_plot
        self.diversity_plot = self.plots_view.diversity_plot
        self.boundary = self.plots_view.boundary
        self.boundary_plot = self.plots_view.boundary_plot
        self.loss_plot.getPlotItem().export_table = \
            lambda: self.plots_view.loss_table(self.run.run_number)
        self.tabs.addTab(self.plots_view, "Progress")
        self.genome_view = GenomeView()
        self.genome_view.code_clicked.connect(self._on_code_clicked)
        self.genomes_tab = self.tabs.addTab(self.genome_view, "Genomes")
        self.comparison = ComparisonTab(state)
        self.tabs.addTab(self.comparison, "4-bit vs float")
        # by the names the tests and the lessons use
        self.quantise_button = self.comparison.quantise_button
        self.comparison_status = self.comparison.summary
        self.quantisation_status = self.comparison.quantisation
        layout.addWidget(self.tabs, 1)
        self._redraw_timer = RedrawTimer([self.plots_view.redraw_loss,
                                          self.plots_view.redraw_diversity,
                                          self._redraw_boundary,
                                          self._redraw_genomes], self, PROGRESS_FRAME_MS)
        self.tabs.currentChanged.connect(lambda _: self._redraw_timer.mark_dirty())
        for run in (state.evolution, state.strategy, state.islands):
            run.generations_arrived.connect(self._on_generations_arrived)
            run.run_started.connect(self._on_run_started)
            run.history_cleared.connect(self._on_history_cleared)
            run.paused_run_dropped.connect(self._sync_buttons)
            run.boundary_computed.connect(self._on_boundary_computed)
            run.message_posted.connect(self.status.setText)
        state.slot.changed.connect(self._on_slot_changed)
        state.data_changed.connect(self._on_data_changed)
        state.settings_changed.connect(self._sync_controls)
        self._sync_controls()
        self._on_data_changed()
        self._on_slot_changed(state.slot.running)

    @property
    def run(self) -> GenerationRun:
        """The chosen algorithm's run: the buttons act on it, the plots show it."""
        return self.state.evolution_run()

    def plots(self) -> list[pg.PlotWidget]:
        return [self.loss_plot, self.diversity_plot, self.boundary_plot,
                *self.comparison.plots()]

    # -- controls --------------------------------------------------------------------------

    def _controls(self) -> QWidget:
        box = QWidget()
        box.setFixedWidth(260)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        buttons = QGridLayout()
        self.start_button = self._button(buttons, "Start", self.state.start_evolution, 0, 0,
                                         "Start a new run (a paused one is dropped)")
        self.continue_button = self._button(buttons, "Continue", self.state.resume_evolution,
                                            0, 1, "Continue the paused run")
        self.pause_button = self._button(buttons, "Pause", self._on_pause, 0, 2,
                                         "Pause the run (Continue goes on)")
        self.step_button = self._button(buttons, "Step", self.state.step_evolution, 1, 0,
                                        "One generation")
        self.stop_button = self._button(buttons, "Stop", lambda: self.run.stop(), 1, 1,
                                        "End the run; its history stays on screen (“Use "
                                        "the best in the chain” loads its best)")
        self.reset_button = self._button(buttons, "Reset", self._on_reset, 1, 2,
                                         "End the run and clear its history")
        self.use_best_button = self._button(buttons, "Use the best in the chain",
                                            self._on_use_best, 2, 0,
                                            "Load the best individual's weights into the "
                                            "chain: every page then shows it", span=3)
        column.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setFormat("generation %v of %m")
        column.addWidget(self.progress)
        self.rate_label = QLabel(" ")
        column.addWidget(self.rate_label)
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        self.status.setFixedHeight(self.status.fontMetrics().lineSpacing() * 3 + 4)
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.status)
        self.settings = EvolutionSettings()
        self.settings.task_changed.connect(self._on_task_changed)
        self.settings.refused.connect(self.status.setText)
        scroll = QScrollArea()  # the settings scroll; the buttons above them never do
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.settings)
        column.addWidget(scroll, 1)
        # the settings' widgets, by the names the tests and the guide use
        for name in ("algorithm_box", "population_spin", "elite_spin", "selection_box",
                     "tournament_spin", "crossover_check", "children_box", "mutation_spin",
                     "generations_spin", "scale_spin", "device_box", "seed_check",
                     "sigma_spin", "es_lr_spin", "es_optimizer_box", "inertia_spin",
                     "cognitive_spin", "social_spin", "init_range_spin", "velocity_spin",
                     "islands_spin", "migration_every_spin", "migration_count_spin"):
            setattr(self, name, getattr(self.settings, name))
        return box

    @staticmethod
    def _button(grid: QGridLayout, text: str, slot: Callable[[], object], row: int, col: int,
                tip: str = "", span: int = 1) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        button.setToolTip(tip)
        grid.addWidget(button, row, col, 1, span)
        return button

    def _sync_controls(self) -> None:
        task = self.state.evolution.task
        self.settings.show_task(task)
        self.progress.setMaximum(task.generations)
        self._show_algorithm(task.algorithm)

    def _show_algorithm(self, algorithm: str) -> None:
        """GA-only views (diversity, genomes) hidden or greyed out for a float algorithm."""
        ga = algorithm == "ga"
        self.tabs.setTabEnabled(self.genomes_tab, ga)
        self.tabs.setTabToolTip(self.genomes_tab, "" if ga else
                                "4-bit genomes: the GA only (OpenES and PSO evolve floats)")
        self.plots_view.show_algorithm(ga)
        self.use_best_button.setToolTip(
            "Load the best individual's weights into the chain: every page then shows it"
            if ga else "Load the best float weights into the chain: every page then "
            "shows them")

    def _on_task_changed(self, task: EvolveTask) -> None:
        if task == self.state.evolution.task:  # the form re-emits while it follows a switch
            return
        # said first: a run that the change ends says so in its place
        self.status.setText("settings apply from the next Start (a new run)"
                            if self.run.history else " ")
        self.state.set_evolve_task(task)
        self.progress.setMaximum(task.generations)
        self._show_algorithm(task.algorithm)
        self._sync_buttons()

    # -- plots -----------------------------------------------------------------------------

    def _on_code_clicked(self, code: int, where: str) -> None:
        value = float(code_table()[code])  # α = 1: the weight is the layer's α times it
        self.state.inspect_number(value, "ga4", f"GA code {code} of {where} (value × α)")

    def _on_generations_arrived(self, stats: list[GenerationStats] | list[StrategyGeneration]
                                | list[IslandGeneration]) -> None:
        self.plots_view.add(stats)
        last = stats[-1]
        # the genome view's: the best island's population with islands
        self._latest = last.islands[last.best_island] \
            if isinstance(last, IslandGeneration) else last
        self.progress.setValue(min(last.generation, self.progress.maximum()))
        # the rate from each Start, Step or Continue's first generation on: a Step's
        # start-up and the idle time between runs never count as generation time
        self._rates = [*self._rates[-19:], (time.monotonic(), last.generation)]
        (ran0, first), (ran1, latest) = self._rates[0], self._rates[-1]
        if ran1 > ran0 and latest > first:
            rate = (latest - first) / (ran1 - ran0)
            self.rate_label.setText(f"{rate:.1f} generations/s   best {last.best:.4g}")
        else:
            self.rate_label.setText(f"best {last.best:.4g}")
        self._redraw_timer.mark_dirty()

    _rates: list[tuple[float, int]] = []  # noqa: RUF012 (replaced, never mutated)

    def _on_slot_changed(self, running: str) -> None:
        """Buttons follow the run slot: what this panel runs, or another run, or none.
        While the comparison runs the evolution waits: only Pause is enabled, and it ends
        the comparison (as the comparison tab's Stop does), which the status says."""
        evolving = running == "evolution"
        comparing = running == "comparison"
        busy_here = evolving or comparing
        for button in (self.start_button, self.step_button):
            button.setEnabled(not busy_here)
        self.use_best_button.setEnabled(not busy_here and bool(self.run.history))
        self.continue_button.setEnabled(self.run.can_continue() and not busy_here)
        self.pause_button.setEnabled(busy_here)
        self.pause_button.setToolTip("End the comparison (4-bit vs float)" if comparing
                                     else "Pause the run (Continue goes on)")
        self.stop_button.setEnabled((evolving or self.run.can_continue()) and not comparing)
        self.reset_button.setEnabled(not comparing)
        if comparing and not self._comparing:
            self.status.setText("the 4-bit vs float comparison is running: the run "
                                "buttons wait for it; Pause ends it")
        elif self._comparing and not comparing:
            self.status.setText(" ")
        self._comparing = comparing
        if evolving and not self._evolving:  # (re)started: the rate starts afresh
            self._rates = []
        self._evolving = evolving

    _comparing = False
    _evolving = False

    def _sync_buttons(self) -> None:
        self._on_slot_changed(self.state.slot.running)

    def _on_run_started(self, number: int) -> None:
        self._clear_plots()
        self.status.setText(f"{ALGORITHM_NAMES[self.state.evolution.task.algorithm]} run {number} "
                            "started")

    def _on_history_cleared(self) -> None:
        """Reset, another session, chain or data: nothing of the old run is said."""
        self._clear_plots()
        self.status.setText(" ")
        self._sync_buttons()

    def _clear_plots(self) -> None:
        self.plots_view.clear()
        self._latest = None
        self.genome_view.show_nothing()
        self._boundary_values = None
        self._redraw_timer.mark_dirty(BOUNDARY_PART)
        self.progress.setValue(0)
        self.rate_label.setText(" ")
        self._rates = []
        self._redraw_timer.mark_dirty()

    def _on_pause(self) -> None:
        if self.state.slot.running == "comparison":
            self.state.grid_comparison.stop()
        else:
            self.run.pause()

    def _on_reset(self) -> None:
        self.state.stop_everything()
        self.run.reset()

    def _on_use_best(self) -> None:
        chain = self.run.best_chain()
        if chain is None:
            self.status.setText("no run yet: Start or Step first")
            return
        self.state.adopt_parameters(chain, "the chain now has the best float weights"
                                    if self.run is self.state.strategy else
                                    "the chain now has the GA's best weights")

    _latest: GenerationStats | StrategyGeneration | None = None

    def _on_boundary_computed(self, values: np.ndarray) -> None:
        self._boundary_values = values
        self._redraw_timer.mark_dirty(BOUNDARY_PART)

    _boundary_values: np.ndarray | None = None

    def _redraw_boundary(self) -> None:
        self.boundary.show_values(self._boundary_values, self.state.boundary_extent(),
                                  probabilities=self.state.session.loss != "mse")

    def _on_data_changed(self) -> None:
        dataset = self.state.dataset
        self.plots_view.show_data(dataset.inputs, dataset.targets, dataset.classes)

    def redraw(self) -> None:
        """Everything at once (tests and exports); live updates go part by part."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _redraw_genomes(self) -> None:
        # the costliest view to draw: only while it shows, or once to fill it
        if self._latest is None:
            return
        if not isinstance(self._latest, GenerationStats):
            return  # a float run's record: no genomes
        if self.tabs.currentWidget() is self.genome_view or self.genome_view.last is None:
            self.genome_view.show_generation(self._latest)
