"""The Evolution page behaves the same whatever runs: a float run never writes the chain
by itself, the run buttons during a comparison, what is said (and cleared) when the
session or settings change, the empty loss plot, the layout at 1280×800, settings kept
exactly as the session has them, and the rate over running time only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from engine.data.tasks import EvolveTask, OpenESSpec, PSOSpec
from engine.evolution.strategies import chain_weights
from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare
from tests.gui.test_grid_comparison_tab import small_task


def idle(state) -> bool:
    return state.slot.running == ""


def test_stepping_a_float_run_leaves_the_chain_to_use_the_best(qtbot, window) -> None:
    prepare(qtbot, window)
    panel, state = window.evolution, window.state
    choose(qtbot, panel.algorithm_box, "PSO (float weights)")
    panel.population_spin.setValue(12)
    before = chain_weights(state.chain).clone()
    for count in (1, 2, 3):
        click(qtbot, panel.step_button)
        qtbot.waitUntil(lambda n=count: idle(state) and len(state.strategy.history) == n,
                        timeout=10_000)
        assert torch.equal(chain_weights(state.chain), before)
    assert "Use the best in the chain" in panel.status.text()
    click(qtbot, panel.use_best_button)
    assert not torch.equal(chain_weights(state.chain), before)


def test_during_a_comparison_only_pause_is_enabled_and_it_ends_it(qtbot, window) -> None:
    small_task(qtbot, window)
    panel, state = window.evolution, window.state
    tab = panel.comparison
    tab.budget_spin.setValue(5_000_000)
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: len(state.grid_comparison.points) >= 2, timeout=20_000)
    for button in (panel.start_button, panel.continue_button, panel.step_button,
                   panel.stop_button, panel.reset_button, panel.use_best_button):
        assert not button.isEnabled(), button.text()
    assert panel.pause_button.isEnabled()
    assert "comparison is running" in panel.status.text()
    click(qtbot, panel.pause_button)
    assert idle(state)
    assert tab.summary.text().endswith("(stopped)")
    assert state.grid_comparison.points  # ended, not cleared
    assert panel.reset_button.isEnabled()
    assert panel.start_button.isEnabled()


def test_runs_are_numbered_per_session_and_a_new_session_clears_what_was_said(
        qtbot, window) -> None:
    prepare(qtbot, window)
    panel, state = window.evolution, window.state
    panel.population_spin.setValue(12)
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: idle(state) and len(state.evolution.history) == 1,
                    timeout=10_000)
    assert state.evolution.run_number == 1
    choose(qtbot, panel.algorithm_box, "PSO (float weights)")
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: idle(state) and len(state.strategy.history) == 1,
                    timeout=10_000)
    assert state.strategy.run_number == 2
    assert "PSO run 2" in panel.status.text()
    click(qtbot, panel.continue_button)
    qtbot.waitUntil(lambda: idle(state) and state.strategy.finished(), timeout=60_000)
    assert "finished" in panel.status.text()
    assert panel.progress.value() > 0
    state.new_session()
    assert panel.status.text().strip() == ""
    assert panel.rate_label.text().strip() == ""
    assert panel.progress.value() == 0
    prepare(qtbot, window)
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: idle(state) and len(state.evolution.history) == 1,
                    timeout=10_000)
    assert state.evolution.run_number == 1  # the new session's first run


def test_the_comparison_says_what_changed_and_keeps_its_own_line(qtbot, window) -> None:
    assert "changed" not in window.evolution.comparison.summary.text()
    window.state.new_session()  # no comparison yet: nothing to say about one
    assert "changed" not in window.evolution.comparison.summary.text()
    small_task(qtbot, window)
    tab, state = window.evolution.comparison, window.state
    assert "changed" not in tab.summary.text()
    tab.budget_spin.setValue(60)
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: idle(state), timeout=60_000)
    result = tab.summary.text()
    assert result.startswith("GA 4-bit ")
    assert tab.progress.format()
    click(qtbot, tab.quantise_button)  # its own line: the result stays
    assert tab.summary.text() == result
    assert "4-bit grid" in window.evolution.quantisation_status.text()
    window.evolution.es_lr_spin.setValue(0.05)  # OpenES's lr only
    assert state.grid_comparison.points  # kept
    assert tab.summary.text().startswith(result)
    assert "settings changed" in tab.summary.text()
    assert "chain" not in tab.summary.text()
    choose(qtbot, window.evolution.algorithm_box, "GA (4-bit codes)")
    assert state.grid_comparison.points  # the algorithm chosen is not the comparison's
    state.set_seed(5)
    assert "chain, its data or the loss changed" in tab.summary.text()
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: idle(state), timeout=60_000)
    state.new_session()
    assert tab.progress.format() == ""  # no "SGD 60/60" left from the other session
    assert "changed" not in tab.summary.text()


def test_the_empty_loss_plot_has_no_band(qtbot, window) -> None:
    prepare(qtbot, window)
    panel, state = window.evolution, window.state
    panel.population_spin.setValue(12)
    panel.generations_spin.setValue(3)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: idle(state) and state.evolution.finished(), timeout=20_000)
    panel.redraw()
    assert not panel.plots_view.band.path().isEmpty()
    click(qtbot, panel.reset_button)
    panel.redraw()
    assert panel.plots_view.band.path().isEmpty()


def test_the_progress_plots_share_the_width_at_1280x800(qtbot, window) -> None:
    prepare(qtbot, window)
    window.resize(1280, 800)
    panel = window.evolution
    grid = panel.loss_plot.parentWidget().layout()
    assert grid.columnStretch(0) == grid.columnStretch(1) > 0
    qtbot.waitUntil(lambda: panel.diversity_plot.width() > 0)
    assert panel.diversity_plot.width() >= 0.8 * panel.loss_plot.width()
    title = panel.diversity_plot.getPlotItem().titleLabel.item
    assert title.boundingRect().width() <= panel.diversity_plot.width()


def test_displaying_the_algorithms_changes_no_value_of_the_task(qtbot, window,
                                                                tmp_path: Path) -> None:
    task = EvolveTask(algorithm="pso", population=20, mutation_rate=0.0123456,
                      openes=OpenESSpec(sigma=0.123456789, lr=0.0123456789),
                      pso=PSOSpec(inertia=0.7291234, cognitive=1.49445, social=1.49445,
                                  init_range=2.12345, max_velocity=1.00001))
    state = window.state
    state.set_evolve_task(task)
    state.last_task_kind = "evolve"
    path = tmp_path / "pso.json"
    assert window.files.save_to(path)
    assert window.open_path(path, ask=False)
    assert state.evolution.task == task
    panel = window.evolution
    window.show_page("evolution")
    for name in ("GA (4-bit codes)", "OpenES (float weights)", "PSO (float weights)"):
        choose(qtbot, panel.algorithm_box, name)
    panel.population_spin.setValue(22)
    panel.population_spin.setValue(20)
    assert panel.cognitive_spin.text().startswith("1.49445")
    again = tmp_path / "again.json"
    assert window.files.save_to(again)
    assert window.open_path(again, ask=False)
    assert state.evolution.task == task


def test_the_rate_counts_running_time_not_the_time_between_steps(
        qtbot, window, monkeypatch: pytest.MonkeyPatch) -> None:
    idle_time = [0.0]  # a person waiting between clicks, as seen by every clock
    monotonic, perf_counter = time.monotonic, time.perf_counter
    monkeypatch.setattr(time, "monotonic", lambda: monotonic() + idle_time[0])
    monkeypatch.setattr(time, "perf_counter", lambda: perf_counter() + idle_time[0])
    prepare(qtbot, window)
    panel, state = window.evolution, window.state
    panel.population_spin.setValue(12)
    for count in (1, 2, 3, 4):
        click(qtbot, panel.step_button)
        qtbot.waitUntil(lambda n=count: idle(state) and len(state.evolution.history) == n,
                        timeout=10_000)
        idle_time[0] += 1000.0
    # a Step is mostly start-up: it shows the best, no rate
    assert panel.rate_label.text() == f"best {state.evolution.history[-1].best:.4g}"
    panel.generations_spin.setValue(1_000_000)
    click(qtbot, panel.continue_button)  # the rate starts here: not a Step's, no idle time
    qtbot.waitUntil(lambda: "generations/s" in panel.rate_label.text(), timeout=20_000)
    text = panel.rate_label.text()
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: idle(state), timeout=10_000)
    assert float(text.split()[0]) > 1.0, text


def test_the_status_bar_and_the_saved_task_follow_the_last_run(qtbot, window) -> None:
    prepare(qtbot, window)
    panel, state = window.evolution, window.state
    panel.population_spin.setValue(12)
    for count in (1, 2):
        click(qtbot, panel.step_button)
        qtbot.waitUntil(lambda n=count: idle(state) and len(state.evolution.history) == n,
                        timeout=10_000)
    last = state.evolution.history[-1]
    assert state.current_session().task.kind == "evolve"  # what a save would keep
    assert window.step_label.text() == f"generation {last.generation}"
    assert window.loss_label.text() == f"best loss {last.best:.4g}"
    click(qtbot, window.training.step_button)  # then a training step: its numbers
    qtbot.waitUntil(lambda: idle(state) and len(state.history) == 1, timeout=10_000)
    assert window.step_label.text() == f"step {state.history[-1].step}"
    assert window.loss_label.text() == f"train loss {state.history[-1].loss:.4g}"
    assert state.current_session().task.kind == "train"
    click(qtbot, panel.step_button)  # the evolution again, then the pass stepped through
    qtbot.waitUntil(lambda: idle(state) and len(state.evolution.history) == 3,
                    timeout=10_000)
    assert window.step_label.text().startswith("generation")
    window.step_forward_action.trigger()  # Step forward (Ctrl+Right): a new pass begins
    assert state.pass_ is not None
    for _ in range(len(state.chain.layers) + 1):  # ... and on to the loss
        if state.pass_.loss is None:
            window.step_forward_action.trigger()
    assert state.pass_.loss is not None
    assert window.loss_label.text() == f"loss {float(state.pass_.loss):.4g}"
    assert state.current_session().task.kind == "evolve"  # stepping is no task
