"""The main window: docks for each panel, menus, the stepping toolbar and the status bar.

It owns no numerics: actions call the state; the status bar listens to ``pass_changed``,
``training_progressed``, ``message_posted`` and ``dirty_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from engine.core.torch_export import python_source
from engine.data.session import SessionError, write_atomic
from gui.export import export_plot, export_through_dialog, export_widget_png
from gui.panels.builder_panel import ChainBuilderPanel
from gui.panels.chain_view_panel import ChainViewPanel
from gui.panels.evolution_panel import EvolutionPanel
from gui.panels.gradient_panel import GradientFlowPanel
from gui.panels.inputs_panel import InputsPanel
from gui.panels.training_panel import TrainingPanel
from gui.settings import add_recent_file, open_settings, recent_files
from gui.state import AppState

GUIDE = """<h3>A short guide</h3>
<ol>
<li><b>Build a chain</b> in the Chain builder: load a preset or use “Repeat block” for a
deep chain, then flip every activation at once with “All activations”.</li>
<li><b>Step</b> with the toolbar: <i>Step forward</i> (Ctrl+→) applies one layer,
<i>Step backward</i> (Ctrl+←) back-propagates through one layer. Click a layer in the chain
view to see its numbers and the chain rule as a product of actual values.</li>
<li><b>Drag the input sliders</b>: the whole pass is recomputed live.</li>
<li><b>Gradient flow</b> shows ‖dL/dW‖ and ‖dL/da‖ per layer on a log scale: a 30-layer
sigmoid chain vanishes, a ReLU chain with Kaiming init does not.</li>
<li><b>Train</b>: choose a dataset and press Run (Ctrl+R); change the learning rate while it
runs. If the run explodes, the status says where the first NaN/Inf appeared; Reset
(Ctrl+Shift+R) recovers.</li>
<li><b>Export</b>: right-click any plot, or File ▸ Export plot. File ▸ Export as PyTorch
code writes a script that rebuilds the chain as torch.nn.Sequential.</li>
</ol>"""


class MainWindow(QMainWindow):
    """Chain Lab's window."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.settings = open_settings()
        self.setWindowTitle("Chain Lab")
        self.chain_view = ChainViewPanel(state)
        self.setCentralWidget(self.chain_view)
        self.builder = ChainBuilderPanel(state)
        self.inputs = InputsPanel(state)
        self.gradients = GradientFlowPanel(state)
        self.training = TrainingPanel(state)
        self.evolution = EvolutionPanel(state)
        self.docks = {
            "builder": self._dock("Chain builder", self.builder,
                                  Qt.DockWidgetArea.LeftDockWidgetArea),
            "inputs": self._dock("Inputs", self.inputs, Qt.DockWidgetArea.RightDockWidgetArea),
            "gradients": self._dock("Gradient flow", self.gradients,
                                    Qt.DockWidgetArea.BottomDockWidgetArea),
            "training": self._dock("Training", self.training,
                                   Qt.DockWidgetArea.BottomDockWidgetArea),
            "evolution": self._dock("Evolution", self.evolution,
                                    Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["gradients"], self.docks["training"])
        self.tabifyDockWidget(self.docks["training"], self.docks["evolution"])
        self.docks["gradients"].raise_()
        self.resizeDocks([self.docks["builder"], self.docks["inputs"]], [330, 300],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["gradients"]], [430], Qt.Orientation.Vertical)
        self._default_state = self.saveState()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        state.session_changed.connect(self._on_session_changed)
        state.dirty_changed.connect(self.setWindowModified)
        state.message_posted.connect(lambda text: self.statusBar().showMessage(text, 8000))
        for run in (state.training, state.evolution, state.evolution.comparison):
            run.message_posted.connect(lambda text: self.statusBar().showMessage(text, 8000))
        state.pass_changed.connect(self._update_status)
        state.training.progressed.connect(self._update_status)
        state.slot.changed.connect(self._on_slot_changed)
        self._restore_layout()
        self._on_session_changed()
        self._update_status()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        scroll = QScrollArea()  # a tall panel scrolls instead of forcing the window taller
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(widget.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width())
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

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
        self.new_action = self._action("&New", self.new_session, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open session…", self.open_dialog,
                                        QKeySequence.StandardKey.Open)
        self.save_action = self._action("&Save", self.save, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action("Save &As…", self.save_as,
                                           QKeySequence.StandardKey.SaveAs)
        self.export_plot_action = self._action("Export &plot…", self.export_plot_dialog,
                                               "Ctrl+E")
        self.export_window_action = self._action("Export &window as PNG…",
                                                 self.export_window_dialog)
        self.export_torch_action = self._action("Export as Py&Torch code…",
                                                self.export_torch_dialog)
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
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
        self._refresh_recent_menu()
        view_menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(self._action("Restore default layout",
                                         lambda: self.restoreState(self._default_state)))
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addActions([self.step_forward_action, self.step_backward_action,
                             self.full_pass_action, self.run_action, self.reset_action])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Guide", lambda: QMessageBox.information(
            self, "Chain Lab guide", GUIDE), "F1"))
        help_menu.addAction(self._action("&About", lambda: QMessageBox.about(
            self, "About Chain Lab", "<b>Chain Lab</b><br>Neural-network mechanics, made "
            "visible. Every number is computed by an engine checked against PyTorch.")))

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
        pass_ = self.state.pass_
        history = self.state.history
        if history:
            self.loss_label.setText(f"train loss {history[-1].loss:.4g}")
        elif pass_ is not None and pass_.loss is not None:
            self.loss_label.setText(f"loss {float(pass_.loss):.4g}")
        else:
            self.loss_label.setText("loss —")
        self.step_label.setText(f"step {history[-1].step if history else 0}")
        if self.state.is_training():
            phase = "training"
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

    def toggle_training(self) -> None:
        if self.state.is_training():
            self.state.training.pause()
        else:
            self.state.start_training()

    # -- files -----------------------------------------------------------------------------

    def _on_session_changed(self) -> None:
        name = self.state.session.name or (self.state.path.stem if self.state.path
                                           else "untitled")
        where = f" — {self.state.path}" if self.state.path else ""
        self.setWindowTitle(f"Chain Lab — {name}[*]{where}")
        self.setWindowModified(self.state.dirty)

    def confirm_discard(self) -> bool:
        """Ask before unsaved changes are lost; True means go ahead."""
        if not self.state.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The session has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_session(self) -> None:
        if self.confirm_discard():
            self.state.new_session()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", "",
                                              "Chain Lab sessions (*.json)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open a session; a bad file shows a message and keeps the current session."""
        if ask and not self.confirm_discard():
            return False
        try:
            self.state.open_session(path)
        except SessionError as error:
            QMessageBox.warning(self, "Cannot open session", f"{path}\n\n{error}")
            return False
        add_recent_file(self.settings, str(Path(path).resolve()))
        self._refresh_recent_menu()
        return True

    def save(self) -> bool:
        if self.state.path is None:
            return self.save_as()
        return self._save_to(self.state.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", "session.json",
                                              "Chain Lab sessions (*.json)")
        return bool(path) and self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.state.save(path)
        except OSError as error:
            QMessageBox.warning(self, "Cannot save", f"{path}\n\n{error}")
            return False
        add_recent_file(self.settings, str(path.resolve()))
        self._refresh_recent_menu()
        return True

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = recent_files(self.settings)
        for path in files:
            self.recent_menu.addAction(path, partial(self.open_path, path))
        self.recent_menu.setEnabled(bool(files))

    def all_plots(self) -> dict[str, pg.PlotWidget]:
        return {plot.export_name: plot
                for plot in [*self.gradients.plots(), *self.training.plots(),
                             *self.evolution.plots()]}

    def export_plot_dialog(self) -> None:
        plots = self.all_plots()
        name, ok = QInputDialog.getItem(self, "Export plot", "Plot:", list(plots), 0, False)
        if not ok:
            return
        export_through_dialog(self, "Export plot", f"{name}.png",
                              "PNG (*.png);;SVG (*.svg);;CSV (*.csv)",
                              lambda path: export_plot(plots[name], path))

    def export_window_dialog(self) -> None:
        export_through_dialog(self, "Export window", "chainlab.png", "PNG (*.png)",
                              lambda path: export_widget_png(self, path))

    def export_torch_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export as PyTorch code", "chain.py",
                                              "Python (*.py)")
        if path:
            self.export_torch(Path(path))

    def export_torch(self, path: Path) -> bool:
        try:
            write_atomic(path, python_source(self.state.chain).encode("utf-8"))
        except OSError as error:
            QMessageBox.warning(self, "Export failed", f"{path}\n\n{error}")
            return False
        self.statusBar().showMessage(f"wrote {path}", 5000)
        return True

    # -- layout persistence ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            available = self.screen().availableGeometry()
            self.resize(min(1400, available.width()), min(900, available.height()))
        layout = self.settings.value("window_state")
        if layout is not None:
            self.restoreState(layout)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.state.stop_everything()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()
        event.accept()
