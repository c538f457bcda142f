"""OpenES and PSO in the Evolution panel: the algorithm chooser and its settings, a live
run whose best float weights end up in the chain, and the session file keeping them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

from engine.core.stepper import Pass
from engine.data.session import load_session
from engine.evolution.strategies import chain_weights, prepare_strategy
from gui.main_window import MainWindow
from gui.state import AppState
from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare


def test_choosing_an_algorithm_shows_only_its_settings(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    ga_only = (panel.elite_spin, panel.selection_box, panel.mutation_spin)
    assert all(widget.isVisible() for widget in ga_only)
    assert not panel.sigma_spin.isVisible()
    choose(qtbot, panel.algorithm_box, "OpenES (float weights)")
    assert window.state.evolution.task.algorithm == "openes"
    assert not any(widget.isVisible() for widget in ga_only)
    assert panel.sigma_spin.isVisible()
    assert panel.es_optimizer_box.isVisible()
    assert not panel.inertia_spin.isVisible()
    assert not panel.tabs.isTabEnabled(panel.genomes_tab)
    assert not panel.diversity_plot.isVisible()
    panel.sigma_spin.setValue(0.07)
    assert window.state.evolution.task.openes.sigma == 0.07
    choose(qtbot, panel.algorithm_box, "PSO (float weights)")
    assert panel.inertia_spin.isVisible()
    assert not panel.sigma_spin.isVisible()
    panel.inertia_spin.setValue(0.6)
    task = window.state.evolution.task
    assert (task.algorithm, task.pso.inertia, task.openes.sigma) == ("pso", 0.6, 0.07)
    choose(qtbot, panel.algorithm_box, "GA (4-bit codes)")
    assert panel.elite_spin.isVisible()
    assert panel.tabs.isTabEnabled(panel.genomes_tab)


def test_an_odd_openes_population_is_refused_by_name(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, "OpenES (float weights)")
    panel.population_spin.setValue(31)
    assert "antithetic pairs" in panel.status.text()
    assert window.state.evolution.task.population != 31


def test_openes_runs_live_and_its_best_weights_go_into_the_chain(qtbot, window) -> None:
    """As with the GA, by "Use the best in the chain" only: Stop leaves the chain as it
    was and says that it stopped."""
    prepare(qtbot, window)
    panel = window.evolution
    before = chain_weights(window.state.chain).clone()
    choose(qtbot, panel.algorithm_box, "OpenES (float weights)")
    panel.population_spin.setValue(20)
    panel.generations_spin.setValue(100_000)
    run = window.state.strategy
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: len(run.history) >= 5, timeout=20_000)
    assert window.state.slot.running == "evolution"
    assert not window.state.evolution.history  # the GA's run did not move
    click(qtbot, panel.stop_button)
    assert not run.is_running()
    assert not panel.continue_button.isEnabled()  # Stop ended the run
    best = run.history[-1]
    assert [r.generation for r in run.history] == list(range(len(run.history)))
    assert f"stopped at generation {best.generation}" in panel.status.text()
    assert "Use the best in the chain" in panel.status.text()
    assert torch.equal(chain_weights(window.state.chain), before)
    click(qtbot, panel.use_best_button)
    panel.redraw()
    _x, y = panel.plots_view.best_curve.getData()
    np.testing.assert_array_equal(y, [r.best for r in run.history])
    # the chain holds the best float weights: the ordinary pass over the data gives
    # the run's best loss
    weights = chain_weights(window.state.chain)
    np.testing.assert_array_equal(weights.numpy(), best.best_weights)
    inputs, targets = window.state.data_tensors()
    loss = Pass(window.state.chain.copy(), inputs, targets, "bce_with_logits").run().loss
    assert abs(float(loss) - best.best) <= 1e-5 * max(1.0, best.best)
    # the same history as the engine's own generator on the same chain and settings
    setup = prepare_strategy(window.state.chain, inputs, targets, "bce_with_logits",
                             window.state.evolution.task, window.state.session.seed)
    engine = list(itertools.islice(setup.generations(limit=0), len(run.history)))
    assert [r.best for r in engine] == [r.best for r in run.history]


def test_pso_step_then_continue_and_the_session_keeps_the_algorithm(
        qtbot, window, tmp_path: Path) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, "PSO (float weights)")
    panel.population_spin.setValue(16)
    panel.generations_spin.setValue(6)
    panel.social_spin.setValue(1.2)
    run = window.state.strategy
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 1, timeout=10_000)
    assert panel.continue_button.isEnabled()
    click(qtbot, panel.continue_button)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 7, timeout=20_000)
    assert "finished" in panel.status.text()
    click(qtbot, panel.use_best_button)  # the session then keeps the best weights
    path = tmp_path / "pso.json"
    assert window.files.save_to(path)
    saved = load_session(path)
    assert saved.panels is not None
    assert saved.panels.evolve is not None
    assert (saved.panels.evolve.algorithm, saved.panels.evolve.pso.social) == ("pso", 1.2)
    fresh = MainWindow(AppState())
    qtbot.addWidget(fresh)
    assert fresh.open_path(path, ask=False)
    assert fresh.evolution.algorithm_box.currentData() == "pso"
    assert fresh.evolution.social_spin.value() == 1.2
    assert fresh.evolution.inertia_spin.isVisibleTo(fresh.evolution)
    assert not fresh.evolution.elite_spin.isVisibleTo(fresh.evolution)
    assert torch.equal(chain_weights(fresh.state.chain), chain_weights(window.state.chain))
