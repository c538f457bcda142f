"""The evolution panel driven as a person would: settings, Start/Pause/Step/Reset, plots."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.state import AppState
from tests.gui.conftest import choose


def prepare(qtbot, window, samples: int = 64) -> None:
    window.training.samples_spin.setValue(samples)
    choose(qtbot, window.training.dataset_box, "xor")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, window.training.loss_box, "bce_with_logits")
    window.show_page("evolution")


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_start_pause_step_reset(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(60)
    panel.generations_spin.setValue(1000)
    panel.mutation_spin.setValue(0.02)
    run = window.state.evolution
    assert run.task.population == 60
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: len(run.history) >= 20, timeout=20_000)
    qtbot.waitUntil(lambda: "generations/s" in panel.rate_label.text(), timeout=20_000)
    click(qtbot, panel.pause_button)
    assert not run.is_running()  # Pause joins the worker: nothing arrives after it
    paused_at = len(run.history)
    assert panel.continue_button.isEnabled()
    assert panel.step_button.isEnabled()
    click(qtbot, panel.step_button)
    # the step's worker ends by itself: wait for the state to say so, not for a time
    qtbot.waitUntil(lambda: not run.is_running(), timeout=10_000)
    assert len(run.history) == paused_at + 1
    best = [s.best for s in run.history]
    assert all(b <= a for a, b in itertools.pairwise(best))
    assert [s.generation for s in run.history] == list(range(len(run.history)))
    panel.redraw()
    _x, y = panel.plots_view.best_curve.getData()
    np.testing.assert_array_equal(y, best)
    assert panel.rate_label.text() == f"best {best[-1]:.4g}"  # a Step shows no rate
    panel.tabs.setCurrentWidget(panel.genome_view)
    panel.redraw()
    assert panel.genome_view.population_image.image.shape[:2] == (run.history[-1].sample.shape[1],
                                                                   48)
    assert panel.reset_button.isEnabled()
    click(qtbot, panel.reset_button)
    assert run.history == []
    assert panel.plots_view.table.size == 0


def test_stop_on_a_paused_run_leaves_nothing_to_continue(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    panel.generations_spin.setValue(1000)
    run = window.state.evolution
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=10_000)
    assert panel.continue_button.isEnabled()
    assert panel.stop_button.isEnabled()
    click(qtbot, panel.stop_button)
    assert not run.can_continue()
    assert not panel.continue_button.isEnabled()
    assert not panel.stop_button.isEnabled()
    assert len(run.history) == 1  # the history stays on screen
    assert panel.start_button.isEnabled()


def test_starting_evolution_says_that_training_was_paused(qtbot, window) -> None:
    prepare(qtbot, window)
    window.training.steps_spin.setValue(1_000_000)
    window.state.start_training()
    assert window.state.slot.running == "training"
    click(qtbot, window.evolution.step_button)
    assert window.state.slot.running == "evolution"
    assert "Training paused to run the evolution" in window.statusBar().currentMessage()


def test_reset_is_never_ignored_while_a_step_runs(qtbot, window) -> None:
    """The CI flake of issue 8: Reset clicked before the Step's worker had reported that
    it stopped. Reset is always enabled and stops whatever runs first."""
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(500)
    run = window.state.evolution
    click(qtbot, panel.step_button)
    assert panel.reset_button.isEnabled()
    click(qtbot, panel.reset_button)  # at once, whether or not the step has finished
    assert not run.is_running()
    assert run.history == []
    assert panel.plots_view.table.size == 0


def test_start_after_a_finished_run_starts_a_new_one(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(20)
    panel.generations_spin.setValue(3)
    run = window.state.evolution
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=20_000)
    assert [s.generation for s in run.history] == [0, 1, 2, 3]
    assert "finished" in panel.status.text()
    assert not panel.continue_button.isEnabled()
    first = [s.best for s in run.history]
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=20_000)
    assert run.run_number == 2
    # the new run's own history, not appended to the old one: same seed, same numbers
    assert [s.generation for s in run.history] == [0, 1, 2, 3]
    assert [s.best for s in run.history] == first
    panel.redraw()
    x, _ = panel.plots_view.best_curve.getData()
    assert list(x) == [0, 1, 2, 3]


def test_invalid_settings_are_refused_with_a_message(qtbot, window) -> None:
    panel = window.evolution
    panel.population_spin.setValue(10)
    panel.elite_spin.setValue(10)
    assert "at least elite + 1" in panel.status.text()
    assert window.state.evolution.task.elite != 10


def test_use_best_loads_the_quantised_weights_into_the_chain(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(30)
    panel.generations_spin.setValue(5)
    click(qtbot, panel.start_button)
    run = window.state.evolution
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 6, timeout=20_000)
    click(qtbot, panel.use_best_button)
    best = run.history[-1].best
    assert float(window.state.pass_.loss) == np.float32(best) or abs(
        float(window.state.pass_.loss) - best) < 1e-5
    click(qtbot, panel.quantise_button)
    assert "4-bit grid" in panel.quantisation_status.text()


def test_closing_the_window_mid_run_stops_and_joins_the_worker(qtbot, settings_file,
                                                               dialogs) -> None:
    state = AppState()
    window = MainWindow(state)
    qtbot.addWidget(window)
    window.show()
    prepare(qtbot, window)
    window.evolution.population_spin.setValue(2000)
    window.evolution.generations_spin.setValue(100_000)
    click(qtbot, window.evolution.start_button)
    run = state.evolution
    qtbot.waitUntil(lambda: len(run.history) >= 2, timeout=20_000)
    worker = state.slot._worker
    state.dirty = False
    window.close()
    assert not run.is_running()
    assert worker is not None
    assert not worker.thread.isRunning()


def test_the_plots_take_the_boundarys_height_when_the_data_is_not_2d(qtbot, window) -> None:
    window.show_page("evolution")
    plots = window.evolution.plots_view
    assert window.state.dataset.inputs.shape[1] == 1  # the default session's data
    qtbot.waitUntil(lambda: plots.loss_plot.height() > 0.8 * plots.height(), timeout=5_000)
    assert not plots.boundary_plot.isVisible()
    prepare(qtbot, window)  # xor: 2-D, the boundary below the loss and diversity
    qtbot.waitUntil(lambda: plots.boundary_plot.isVisible(), timeout=5_000)
    qtbot.waitUntil(lambda: plots.loss_plot.height() < 0.6 * plots.height(), timeout=5_000)
