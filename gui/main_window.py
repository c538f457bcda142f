"""The main window: the workspace pages, the builder and inputs docks, menus, the
stepping toolbar and the status bar.

Laid out for a 1280×800 laptop first: the chain builder and the inputs share the left
column; the wide right part shows one page at a time (Chain, Gradient flow, Training,
Evolution), so every page gets the whole height and its controls never scroll away
from its Run/Pause/Reset. The Guide is a dock that can stay open beside the pages.
It owns no numerics: actions call the state; the status bar listens to ``pass_changed``,
the runs' progress, ``message_posted`` and ``dirty_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from engine.data.session import Session, SessionError
from engine.lessons.lesson import Lesson
from gui.guide import ABOUT, GuidePanel
from gui.lazy_dock import LazyDock
from gui.panels.builder_panel import ChainBuilderPanel
from gui.panels.chain_view_panel import ChainViewPanel
from gui.panels.evolution_panel import EvolutionPanel
from gui.panels.gradient_panel import GradientFlowPanel
from gui.panels.inputs_panel import InputsPanel
from gui.panels.lessons_panel import LessonsPanel
from gui.panels.training_panel import TrainingPanel
from gui.session_files import SessionFiles
from gui.settings import open_settings
from gui.state import AppState
from gui.wheel_guard import WheelGuard

if TYPE_CHECKING:  # the labs' modules are imported when a lab is first opened
    from gui.panels.activation_lab_panel import ActivationLabPanel
    from gui.panels.norms_lab_panel import NormsLabPanel
    from gui.panels.numbers_panel import NumbersPanel
    from gui.panels.sweep_panel import SweepPanel

PAGES = ("chain", "gradients", "training", "evolution")
LABS = ("numbers", "activations", "norms", "sweeps")  # docks that open as windows of their own
LAB_TITLES = {"numbers": "Numbers lab", "activations": "Activation lab", "norms": "Norms lab",
              "sweeps": "Sweeps"}


class MainWindow(QMainWindow):
    """Chain Lab's window."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.settings = open_settings()
        self.setWindowTitle("Chain Lab")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.chain_view = ChainViewPanel(state)
        self.gradients = GradientFlowPanel(state)
        self.training = TrainingPanel(state)
        self.evolution = EvolutionPanel(state)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        for widget, title in ((self.chain_view, "Chain"), (self.gradients, "Gradient flow"),
                              (self.training, "Training"), (self.evolution, "Evolution")):
            self.pages.addTab(widget, title)
        self.setCentralWidget(self.pages)
        self.builder = ChainBuilderPanel(state)
        self.inputs = InputsPanel(state)
        self.guide = GuidePanel()
        self.lessons = LessonsPanel()
        self.lessons.open_requested.connect(self.open_lesson)
        self.docks: dict[str, QDockWidget] = {
            "builder": self._dock("Chain builder", self.builder,
                                  Qt.DockWidgetArea.LeftDockWidgetArea),
            "inputs": self._dock("Inputs", self.inputs, Qt.DockWidgetArea.LeftDockWidgetArea),
            "guide": self._dock("Guide", self.guide, Qt.DockWidgetArea.LeftDockWidgetArea),
            "lessons": self._dock("Lessons", self.lessons,
                                  Qt.DockWidgetArea.LeftDockWidgetArea),
        }
        # each lab's panel is built when its dock is first shown (see gui/lazy_dock.py)
        self.labs: dict[str, LazyDock[Any]] = {
            "numbers": self._lab_dock("numbers", self._build_numbers_lab),
            "activations": self._lab_dock("activations", self._build_activation_lab),
            "norms": self._lab_dock("norms", self._build_norms_lab),
            "sweeps": self._lab_dock("sweeps", self._build_sweeps),
        }
        self.docks.update(self.labs)
        self.splitDockWidget(self.docks["builder"], self.docks["inputs"],
                             Qt.Orientation.Vertical)
        # a tab beside the inputs: opening it never squeezes the pages on a laptop screen
        self.tabifyDockWidget(self.docks["inputs"], self.docks["guide"])
        self.tabifyDockWidget(self.docks["inputs"], self.docks["lessons"])
        self.docks["guide"].hide()
        self.docks["lessons"].hide()
        # its own window by default: beside the pages it would leave them too little room
        # on a laptop screen (drag it onto the window to dock it)
        for lab in LABS:
            self.docks[lab].hide()  # first: floating a shown dock would show (and run) it
            self.docks[lab].setFloating(True)
        state.number_inspected.connect(lambda *_: self.show_numbers_lab())
        self._default_state = self.saveState()
        self.pages.currentChanged.connect(self._on_page_changed)
        self._build_actions()
        self._build_menus()
        self.files = SessionFiles(self, state, self.recent_menu)
        self._build_toolbar()
        self._build_status_bar()
        self.wheel_guard = WheelGuard(self)
        state.session_changed.connect(self._on_session_changed)
        state.dirty_changed.connect(self.setWindowModified)
        for source in (state, state.training, state.evolution, state.evolution.comparison):
            source.message_posted.connect(lambda text: self.statusBar().showMessage(text, 8000))
        state.refusal_withdrawn.connect(self._on_refusal_withdrawn)
        state.pass_changed.connect(self._update_status)
        state.training.progressed.connect(self._update_status)
        for run in (state.evolution, state.islands, state.strategy):
            run.generations_arrived.connect(self._update_status)
            run.history_cleared.connect(self._update_status)
        state.slot.changed.connect(self._on_slot_changed)
        state.slot.displaced.connect(self._on_run_displaced)
        self._restore_layout()
        self._on_session_changed()
        self._update_status()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea,
              scroll: bool = True) -> QDockWidget:
        """``scroll``: on a small screen the dock scrolls rather than clips (a dock whose
        pages share out their own space says False)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(_dock_name(title))
        if scroll:
            widget = DockScroll(widget)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _lab_dock(self, name: str, factory: Callable[[], QWidget]) -> LazyDock[Any]:
        """A lab's dock, its panel built by ``factory`` when the dock is first shown. The
        labs share out their own space, so they never scroll."""
        dock: LazyDock[Any] = LazyDock(LAB_TITLES[name], factory, self)
        dock.setObjectName(_dock_name(LAB_TITLES[name]))  # the name saved layouts know
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    # the labs' panels: the modules are imported here, when a lab is first opened
    def _build_numbers_lab(self) -> NumbersPanel:
        from gui.panels.numbers_panel import NumbersPanel

        return NumbersPanel(self.state)

    def _build_activation_lab(self) -> ActivationLabPanel:
        from gui.panels.activation_lab_panel import ActivationLabPanel

        return ActivationLabPanel()

    def _build_norms_lab(self) -> NormsLabPanel:
        from gui.panels.norms_lab_panel import NormsLabPanel

        panel = NormsLabPanel(self.state)
        panel.norm_chosen_for_chain.connect(
            lambda kind: self.state.set_chain_norm(None if kind == "none" else kind))
        return panel

    def _build_sweeps(self) -> SweepPanel:
        from gui.panels.sweep_panel import SweepPanel

        panel = SweepPanel(self.state)
        panel.outcome_requested.connect(self.open_outcome)
        return panel

    def open_outcome(self, session: Session, message: str) -> None:
        """A sweep cell's outcome as a new, unsaved session (its folder stays the sweep's
        record: Save asks for a path). Its data paths are absolute (see
        :mod:`engine.sweeps.spec`)."""
        if not self.files.confirm_discard():
            return
        try:
            self.state.new_session(session)
        except SessionError as error:
            QMessageBox.warning(self, "Cannot open the cell", str(error))
            return
        self.statusBar().showMessage(message, 15000)

    # a lab's panel, None until its dock has been shown
    @property
    def numbers(self) -> NumbersPanel | None:
        return self.labs["numbers"].panel

    @property
    def activation_lab(self) -> ActivationLabPanel | None:
        return self.labs["activations"].panel

    @property
    def norms_lab(self) -> NormsLabPanel | None:
        return self.labs["norms"].panel

    @property
    def sweeps(self) -> SweepPanel | None:
        return self.labs["sweeps"].panel

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # dock sizes only apply to a window that is shown
            self._sized = True
            if self.settings.value("window_state") is None:
                self._default_sizes()

    _sized = False
    fills_screen = False  # first start on a small screen: show maximised (see app.launch)

    def _default_sizes(self) -> None:
        self.resizeDocks([self.docks["builder"]], [330], Qt.Orientation.Horizontal)
        height = self.height()
        self.resizeDocks([self.docks["builder"], self.docks["inputs"]],
                         [int(height * 0.52), int(height * 0.48)], Qt.Orientation.Vertical)

    def _on_refusal_withdrawn(self, refusal: str) -> None:
        if self.statusBar().currentMessage() == refusal:  # not a newer message
            self.statusBar().clearMessage()

    def show_page(self, name: str) -> None:
        self.pages.setCurrentIndex(PAGES.index(name))

    def _on_page_changed(self, index: int) -> None:
        self.guide.show_topic(PAGES[index])

    # -- actions and menus -----------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object],
                shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        shortcut_text = action.shortcut().toString()
        action.setToolTip(f"{tip or text} ({shortcut_text})" if shortcut_text else tip or text)
        action.setStatusTip(tip or text)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        s = self.state
        keys = QKeySequence.StandardKey
        self.new_action = self._action("&New", lambda: self.files.new_session(), keys.New)
        self.open_action = self._action("&Open session…", lambda: self.files.open_dialog(),
                                        keys.Open)
        self.save_action = self._action("&Save", lambda: self.files.save(), keys.Save)
        self.save_as_action = self._action("Save &As…", lambda: self.files.save_as(),
                                           keys.SaveAs)
        self.export_plot_action = self._action(
            "Export &plot…", lambda: self.files.export_plot_dialog(self.plot_choices()),
            "Ctrl+E")
        self.export_window_action = self._action(
            "Export &window as PNG…", lambda: self.files.export_window_dialog())
        self.export_torch_action = self._action(
            "Export as Py&Torch code…", lambda: self.files.export_torch_dialog())
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.step_forward_action = self._action(
            "Step forward", s.step_forward, "Ctrl+Right", "Apply the next layer")
        self.step_backward_action = self._action(
            "Step backward", s.step_backward, "Ctrl+Left", "Back-propagate through one layer")
        self.full_pass_action = self._action(
            "Full pass", s.recompute, "F5", "Forward and backward through every layer")
        self.run_action = self._action("Run training", self.toggle_training, "Ctrl+R",
                                       "Run or pause SGD training")
        self.reset_action = self._action("Reset", s.reset, "Ctrl+Shift+R",
                                         "Re-initialise the parameters and clear training")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_plot_action, self.export_window_action,
                              self.export_torch_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for number, title in enumerate(("Chain", "Gradient flow", "Training", "Evolution")):
            view_menu.addAction(self._action(
                title, partial(self.pages.setCurrentIndex, number), f"Ctrl+{number + 1}"))
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        for name, key, tip in (
                ("numbers", "Ctrl+5", "How ints and floats are stored"),
                ("activations", "Ctrl+6", "f, f′ and why derivatives multiply along the chain"),
                ("norms", "Ctrl+7", "Why normalisation helps and what it costs"),
                ("sweeps", "Ctrl+8", "The session over one or two axes and seeds")):
            view_menu.addAction(self._action(f"Open the {LAB_TITLES[name]}",
                                             partial(self.show_lab, name), key, tip))
        view_menu.addSeparator()
        view_menu.addAction(self._action("Restore default layout", self.restore_default_layout))
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.step_forward_action, self.step_backward_action,
                             self.full_pass_action, self.run_action, self.reset_action])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Guide", self.toggle_guide, "F1",
                                         "Show the guide to the page you are on"))
        help_menu.addAction(self._action("&Lessons", self.show_lessons, "F2",
                                         "Guided lessons, each with a session to open"))
        help_menu.addAction(self._action("&About Chain Lab", lambda: QMessageBox.about(
            self, "About Chain Lab", ABOUT)))

    def restore_default_layout(self) -> None:
        self.restoreState(self._default_state)
        self._default_sizes()

    def show_numbers_lab(self) -> None:
        self.show_lab("numbers")

    def show_lab(self, name: str) -> None:
        """A lab's own window over the middle of this one, at a size a laptop fits."""
        dock = self.docks[name]
        place = dock.isFloating() and not dock.isVisible()
        dock.show()  # before sizing: showing applies the size hint
        if place:  # over the middle of the window, a size that fits a laptop screen
            frame = self.frameGeometry()
            width, height = min(1240, frame.width() - 40), min(740, frame.height() - 60)
            dock.resize(width, height)
            dock.move(frame.x() + (frame.width() - width) // 2,
                      frame.y() + (frame.height() - height) // 2)
        dock.raise_()

    def show_lessons(self) -> None:
        dock = self.docks["lessons"]
        dock.show()
        dock.raise_()

    def open_lesson(self, lesson: Lesson) -> None:
        """Load the lesson's session and show the page it is about; its text stays in
        the Lessons dock."""
        if not self.files.confirm_discard():
            return
        try:
            self.state.new_session(lesson.session)
        except SessionError as error:
            QMessageBox.warning(self, "Cannot open the lesson", str(error))
            return
        if lesson.page in PAGES:
            self.show_page(lesson.page)
        elif lesson.page in LABS:
            self.show_lab(lesson.page)
        self.show_lessons()
        self.statusBar().showMessage(f"lesson: {lesson.title}", 8000)

    def toggle_guide(self) -> None:
        dock = self.docks["guide"]
        dock.setVisible(not dock.isVisible())
        if dock.isVisible():
            self.guide.show_topic(PAGES[self.pages.currentIndex()])
            dock.raise_()

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Stepping")
        toolbar.setObjectName("toolbar_stepping")
        toolbar.addActions([self.step_forward_action, self.step_backward_action,
                            self.full_pass_action])
        toolbar.addSeparator()
        toolbar.addActions([self.run_action, self.reset_action])

    def _build_status_bar(self) -> None:
        self.loss_label, self.step_label, self.phase_label = QLabel(), QLabel(), QLabel()
        for label in (self.phase_label, self.step_label, self.loss_label):
            self.statusBar().addPermanentWidget(label)

    # -- status ----------------------------------------------------------------------------

    def _update_status(self, *_: object) -> None:
        """The progress of what ran last: training's step and loss, the chosen algorithm's
        generation and best loss, or, after a step of the pass, that pass's loss; and the
        phase."""
        pass_ = self.state.pass_
        history = self.state.history
        shown = self.state.progress_shown
        evolved = self.state.evolution_run().history if shown == "evolve" else []
        if evolved:
            self.loss_label.setText(f"best loss {evolved[-1].best:.4g}")
            self.step_label.setText(f"generation {evolved[-1].generation}")
        else:
            if history and shown != "step":
                self.loss_label.setText(f"train loss {history[-1].loss:.4g}")
            elif pass_ is not None and pass_.loss is not None:
                self.loss_label.setText(f"loss {float(pass_.loss):.4g}")
            else:
                self.loss_label.setText("loss —")
            self.step_label.setText(f"step {history[-1].step if history else 0}")
        if self.state.slot.running:
            phase = self.state.slot.running
        elif pass_ is None:
            phase = "ready"
        else:
            phase = (f"{pass_.phase} · forward {pass_.forward_done}/{pass_.size}, "
                     f"backward {pass_.backward_done}/{pass_.size}")
        self.phase_label.setText(f"phase: {phase}")

    def _on_slot_changed(self, running: str) -> None:
        self.run_action.setText("Pause training" if running == "training" else "Run training")
        # a running training replaces the pass at every snapshot: stepping would be lost
        for action in (self.step_forward_action, self.step_backward_action):
            action.setEnabled(running != "training")
        self._update_status()

    def _on_run_displaced(self, stopped: str, started: str) -> None:
        names = {"training": "training", "evolution": "the evolution",
                 "comparison": "the comparison"}
        what = names.get(stopped, stopped)
        self.statusBar().showMessage(
            f"{what[0].upper()}{what[1:]} paused to run {names.get(started, started)}: "
            "one run at a time", 8000)

    def toggle_training(self) -> None:
        if self.state.is_training():
            self.state.training.pause()
        else:
            self.state.start_training()

    def _on_session_changed(self) -> None:
        name = self.state.session.name or (self.state.path.stem if self.state.path
                                           else "untitled")
        where = f" — {self.state.path}" if self.state.path else ""
        if self.state.path is None and self.state.session.name:
            name += " (unsaved)"  # a lesson's or a sweep cell's: Save asks for a path
        self.setWindowTitle(f"Chain Lab — {name}[*]{where}")
        self.setWindowModified(self.state.dirty)

    # the File menu's operations, kept on the window for tests and the app's launcher
    def open_path(self, path: object, ask: bool = True) -> bool:
        return self.files.open_path(str(path), ask)

    def confirm_discard(self) -> bool:
        return self.files.confirm_discard()

    def new_session(self) -> None:
        self.files.new_session()

    def all_plots(self) -> dict[str, pg.PlotWidget]:
        """Every plot there is to export (a lab never opened has none), by export name."""
        return {plot.export_name: plot for _, plot in self.plot_choices()}

    def plot_choices(self) -> list[tuple[str, pg.PlotWidget]]:
        """Every plot as File > Export plot lists it, "Training ▸ Training loss": the
        page on screen first, then the other pages and the opened labs."""
        sources: list[tuple[str, object]] = [
            (self.pages.tabText(index), self.pages.widget(index))
            for index in range(self.pages.count())]
        current = self.pages.currentIndex()
        sources = [sources[current], *sources[:current], *sources[current + 1:]]
        sources += [(LAB_TITLES[name], dock.panel) for name, dock in self.labs.items()
                    if dock.panel is not None]
        return [(f"{where} \u25b8 {_plot_title(plot)}", plot)
                for where, panel in sources if isinstance(panel, HasPlots)
                for plot in panel.plots() if hasattr(plot, "export_name")]

    # -- layout persistence ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:  # the whole screen of a laptop, a comfortable window on a larger one
            available = self.screen().availableGeometry()
            self.resize(min(1600, available.width()), min(1000, available.height()))
            # a window as large as the screen would put its title bar above the top and its
            # status bar below the bottom: maximised, the window manager fits the frame in
            self.fills_screen = available.width() <= 1600 or available.height() <= 1000
        layout = self.settings.value("window_state")
        if layout is not None:
            self.restoreState(layout)
        page = self.settings.value("page")
        if isinstance(page, str) and page in PAGES:
            self.show_page(page)

    def stop_background_work(self) -> None:
        """Stop and join every thread the window started (runs, the labs' computations)."""
        self.state.stop_everything()
        for lab in (self.numbers, self.activation_lab, self.norms_lab):
            if lab is not None:  # a lab never opened started nothing
                lab.stop()
        self.lessons.task.stop()
        self.gradients.residual_view.task.stop()
        if self.sweeps is not None:
            self.sweeps.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.stop_background_work()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("page", PAGES[self.pages.currentIndex()])
        self.settings.sync()
        event.accept()


class DockScroll(QScrollArea):
    """A dock's panel that scrolls up and down only, the dock as wide as the panel needs
    now: its rows change with the session (a slider per input feature, their ranges), and
    a width fixed when the window was built left a horizontal scroll bar under them."""

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(panel)
        panel.installEventFilter(self)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        panel = self.widget()
        if panel is None:
            return hint
        width = panel.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width, hint.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the panel's needs changed: the dock follows
        return False


def _dock_name(title: str) -> str:
    """A dock's object name, by which saved window states find it."""
    return f"dock_{title.lower().replace(' ', '_')}"


@runtime_checkable
class HasPlots(Protocol):
    """A page or lab with plots to export (the Chain page has none)."""

    def plots(self) -> list[pg.PlotWidget]: ...


def _plot_title(plot: pg.PlotWidget) -> str:
    title = getattr(plot, "export_title", "") or plot.export_name.replace("_", " ")
    return f"{title} ({plot.export_name})"
