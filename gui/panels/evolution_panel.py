"""Population evolution: Start/Continue/Pause/Step/Stop/Reset on top, the algorithm (the
GA over 4-bit codes, OpenES or PSO over float weights) and its settings below them, and
live plots in three tabs.

Shows best, mean ± sd and worst loss per generation, population diversity (GA only), the
decision boundary of the current best (2-D data), the genome view (GA only), and the
comparison of the GA (4-bit), OpenES (float), OpenES snapped to 4 bits and SGD
(:class:`gui.comparison_tab.ComparisonTab`). Listens to the state's two evolution runs
(``evolution``: the GA, ``islands``: the GA with islands, ``strategy``: OpenES and PSO;
the chosen algorithm's drives the buttons) and the slot's ``changed``; redraws at most
~30 times a second. With islands the loss plot shows the global best and each island's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath
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
from gui.boundary_view import BoundaryView
from gui.comparison_tab import ComparisonTab
from gui.evolution_settings import EvolutionSettings
from gui.generation_run import ALGORITHM_NAMES, GenerationRun
from gui.genome_view import GenomeView
from gui.plot_widgets import (
    PROGRESS_FRAME_MS,
    GrowingTable,
    RedrawTimer,
    StickyRanges,
    reset_range,
    set_keys,
    titled_plot,
)
from gui.state import AppState

BOUNDARY_PART = 2  # index of _redraw_boundary among the redraw timer's parts
COLUMNS = ("run", "generation", "best", "mean", "std", "worst", "diversity", "seconds",
           "evaluations")
GA = "#2ca02c"
ISLAND_COLOURS = ("#17becf", "#bcbd22", "#8c564b", "#e377c2", "#7f7f7f", "#ff7f0e")
LOSS_TITLE, DIVERSITY_TITLE = "Loss per generation", "Population diversity"
ONE_POPULATION_KEYS = (("best", GA), ("mean ± sd", "#1f77b4"), ("worst", "#d62728"))
ISLAND_KEYS_SHOWN = 3  # beyond, one key stands for the rest: the legend keeps to one line


def loss_keys(islands: int) -> tuple[tuple[str, str], ...]:
    """The loss plot's legend: one population's best, mean ± sd and worst, or the global
    best and each island's best (dashed, in ISLAND_COLOURS' order)."""
    if islands <= 1:
        return ONE_POPULATION_KEYS
    shown = islands if islands <= ISLAND_KEYS_SHOWN else ISLAND_KEYS_SHOWN - 1
    # "island 1", then bare numbers: four keys fit a half-width plot's line at 1280×800
    keys = [("global best", GA)] + [(f"island {k + 1}" if k == 0 else str(k + 1),
                                     ISLAND_COLOURS[k % len(ISLAND_COLOURS)])
                                    for k in range(shown)]
    if shown < islands:
        keys.append((f"{shown + 1}–{islands}", "#7f7f7f"))
    return tuple(keys)


class EvolutionPanel(QWidget):
    """Evolve the chain's weights with a genetic algorithm or a float strategy, live."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        layout = QHBoxLayout(self)
        layout.addWidget(self._controls())
        self.tabs = QTabWidget()
        self.tabs.addTab(self._progress_tab(), "Progress")
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
        self.table = GrowingTable(len(COLUMNS) - 1)
        self.ranges = {"loss": StickyRanges(self.loss_plot),
                       "diversity": StickyRanges(self.diversity_plot)}
        self._redraw_timer = RedrawTimer([self._redraw_loss, self._redraw_diversity,
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
        self.continue_button = self._button(buttons, "Continue", lambda: self.run.resume(),
                                            0, 1, "Continue the paused run")
        self.pause_button = self._button(buttons, "Pause", self._on_pause, 0, 2,
                                         "Pause the run (Continue goes on)")
        self.step_button = self._button(buttons, "Step", lambda: self.run.step(), 1, 0,
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
        self.diversity_plot.setVisible(ga)
        # without the diversity plot the loss plot takes the whole row
        self._progress_grid.removeWidget(self.loss_plot)
        self._progress_grid.addWidget(self.loss_plot, 0, 0, 1, 1 if ga else 2)
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

    def _progress_tab(self) -> QWidget:
        tab = QWidget()
        grid = self._progress_grid = QGridLayout(tab)
        self.loss_plot = titled_plot(LOSS_TITLE, "generation", "loss",
                                     name="evolution_loss", integer_x=True,
                                     keys=ONE_POPULATION_KEYS)
        # invisible edges (not pen=None: pyqtgraph draws no path, and no band, without one)
        self.band_low = self.loss_plot.plot([], [], pen=pg.mkPen(None))
        self.band_high = self.loss_plot.plot([], [], pen=pg.mkPen(None))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=(31, 119, 180, 50))
        self.loss_plot.addItem(self.band)
        self.best_curve = self.loss_plot.plot([], [], pen=pg.mkPen(GA, width=2))
        self.mean_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.worst_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#d62728", width=1))
        self.island_curves: list[pg.PlotDataItem] = []  # each island's best (islands > 1)
        self.loss_plot.getPlotItem().export_table = self._loss_table
        self.diversity_plot = titled_plot(DIVERSITY_TITLE, "generation",
                                          "mean pairwise Hamming distance (bits)",
                                          name="diversity", integer_x=True)
        self.diversity_curve = self.diversity_plot.plot([], [], pen=pg.mkPen("#9467bd",
                                                                             width=2))
        self.boundary = BoundaryView("Decision boundary of the best", "evolution_boundary",
                                     point_size=5)
        self.boundary_plot = self.boundary.widget
        for plot in (self.loss_plot, self.diversity_plot):
            plot.setDownsampling(auto=True, mode="peak")
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.diversity_plot, 0, 1)
        grid.addWidget(self.boundary_plot, 1, 0, 1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        # equal halves: by size hints alone the loss plot's legend took most of the width
        # and clipped the diversity plot's title and labels at 1280×800
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        return tab

    def _on_code_clicked(self, code: int, where: str) -> None:
        value = float(code_table()[code])  # α = 1: the weight is the layer's α times it
        self.state.inspect_number(value, "ga4", f"GA code {code} of {where} (value × α)")

    def _on_generations_arrived(self, stats: list[GenerationStats] | list[StrategyGeneration]
                                | list[IslandGeneration]) -> None:
        if isinstance(stats[0], IslandGeneration):
            self._island_arrived(stats)
        else:
            self.table.extend([[s.generation, s.best, s.mean, s.std, s.worst,
                                getattr(s, "diversity", np.nan), s.seconds, s.evaluations]
                               for s in stats])
            self._latest = stats[-1]
        last = stats[-1]
        self.progress.setValue(min(last.generation, self.progress.maximum()))
        # the rate over the time the run ran: Steps and pauses add no idle time
        self._rates = [*self._rates[-19:], (self._ran(), last.generation)]
        (ran0, first), (ran1, latest) = self._rates[0], self._rates[-1]
        if ran1 > ran0 and latest > first:
            rate = (latest - first) / (ran1 - ran0)
            self.rate_label.setText(f"{rate:.1f} generations/s   best {last.best:.4g}")
        else:
            self.rate_label.setText(f"best {last.best:.4g}")
        self._redraw_timer.mark_dirty()

    _rates: list[tuple[float, int]] = []  # noqa: RUF012 (replaced, never mutated)

    def _island_arrived(self, records: list[IslandGeneration]) -> None:
        """The global best in the table (mean, sd, worst: per island, not overall), the
        mean of the islands' diversities, and each island's best beside it."""
        self.table.extend([[r.generation, r.best, np.nan, np.nan, np.nan,
                            float(np.mean([s.diversity for s in r.islands])), r.seconds,
                            r.evaluations] for r in records])
        count = len(records[0].islands)
        if len(self._island_bests) != count:
            self._island_bests = [[] for _ in range(count)]
        for record in records:
            for best, stats in zip(self._island_bests, record.islands, strict=True):
                best.append(stats.best)
        while len(self.island_curves) < count:
            colour = ISLAND_COLOURS[len(self.island_curves) % len(ISLAND_COLOURS)]
            self.island_curves.append(self.loss_plot.plot(
                [], [], pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine)))
        last = records[-1]
        self._latest = last.islands[last.best_island]

    _island_bests: list[list[float]] = []  # noqa: RUF012 (replaced, never mutated)

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
        now = time.monotonic()  # the rate counts the time the run ran, not idle time
        if self._running_since is not None:
            self._ran_seconds += now - self._running_since
        self._running_since = now if evolving else None

    _comparing = False
    _running_since: float | None = None
    _ran_seconds = 0.0

    def _ran(self) -> float:
        """Seconds this panel's run has been running (not paused, not between Steps)."""
        running = 0.0 if self._running_since is None else \
            time.monotonic() - self._running_since
        return self._ran_seconds + running

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
        self.table = GrowingTable(len(COLUMNS) - 1)
        self._island_bests = []
        self._latest = None
        self.genome_view.show_nothing()
        self._boundary_values = None
        self._redraw_timer.mark_dirty(BOUNDARY_PART)
        self.progress.setValue(0)
        self.rate_label.setText(" ")
        self._ran_seconds, self._rates = 0.0, []
        if self._running_since is not None:
            self._running_since = time.monotonic()
        for plot in (self.loss_plot, self.diversity_plot, self.boundary_plot):
            reset_range(plot, self.ranges.get({self.loss_plot: "loss",
                                               self.diversity_plot: "diversity"}.get(plot, "")))
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
        self.boundary.show_data(dataset.inputs, dataset.targets, dataset.classes)

    def _loss_table(self) -> tuple[list[str], list[list[object]]]:
        """The current run's history; its number in the first column (runs stay apart)."""
        run = self.run.run_number
        return list(COLUMNS), [[run, int(row[0]), *row[1:7], int(row[7])]
                               for row in self.table.view().tolist()]

    def redraw(self) -> None:
        """Everything at once (tests and exports); live updates go part by part."""
        self._redraw_timer.mark_dirty()
        self._redraw_timer.flush()

    def _redraw_loss(self) -> None:
        data = self.table.view()
        generation = data[:, 0]
        self.best_curve.setData(generation, data[:, 1])
        self.mean_curve.setData(generation, data[:, 2])
        worst = data[:, 4]
        self.worst_curve.setData(generation, np.where(np.isfinite(worst), worst, np.nan),
                                 connect="finite")
        self.band_low.setData(generation, data[:, 2] - data[:, 3])
        self.band_high.setData(generation, data[:, 2] + data[:, 3])
        if len(generation) == 0:  # the band keeps its old path when its edges empty
            self.band.setPath(QPainterPath())
        islands = [np.asarray(best) for best in self._island_bests]
        set_keys(self.loss_plot, LOSS_TITLE, loss_keys(len(islands)))
        set_keys(self.diversity_plot, DIVERSITY_TITLE if len(islands) <= 1
                 else f"Diversity, mean over the {len(islands)} islands", ())
        for k, curve in enumerate(self.island_curves):
            if k < len(islands):
                curve.setData(generation, islands[k])
            else:
                curve.setData([], [])
        self.ranges["loss"].fit_curves(generation, [data[:, 1], data[:, 2] + data[:, 3],
                                                    np.where(np.isfinite(worst), worst, np.nan),
                                                    *islands])

    def _redraw_diversity(self) -> None:
        data = self.table.view()
        self.diversity_curve.setData(data[:, 0], data[:, 5])
        self.ranges["diversity"].fit_curves(data[:, 0], [data[:, 5], np.zeros(1)])

    def _redraw_genomes(self) -> None:
        # the costliest view to draw: only while it shows, or once to fill it
        if self._latest is None:
            return
        if not isinstance(self._latest, GenerationStats):
            return  # a float run's record: no genomes
        if self.tabs.currentWidget() is self.genome_view or self.genome_view.last is None:
            self.genome_view.show_generation(self._latest)
