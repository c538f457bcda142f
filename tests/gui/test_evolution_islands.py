"""The GA with islands in the window: the settings form's islands and migration, a run of
two populations side by side with the engine's own history, the loss plot's global and
per-island bests, "Use the best in the chain" loading the global best genome."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from engine.evolution.genome import load_genome
from engine.evolution.islands import evolve_islands, island_plan
from engine.evolution.setup import prepare_evolution
from engine.evolution.strategies import chain_weights
from gui.evolution_progress import loss_keys
from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare


def test_islands_are_a_ga_setting_hidden_for_float_algorithms(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    assert panel.islands_spin.isVisible()
    assert not panel.migration_every_spin.isEnabled()  # one population: no migration
    panel.islands_spin.setValue(3)
    panel.migration_every_spin.setValue(4)
    panel.migration_count_spin.setValue(1)
    task = window.state.evolution.task
    assert (task.islands, task.migration.every, task.migration.count) == (3, 4, 1)
    assert window.state.evolution_run() is window.state.islands
    choose(qtbot, panel.algorithm_box, "OpenES (float weights)")
    assert not panel.islands_spin.isVisible()
    assert window.state.evolution.task.islands == 1  # OpenES runs one population
    panel.population_spin.setValue(10)
    panel.generations_spin.setValue(2)
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: bool(window.state.strategy.history), timeout=10_000)
    qtbot.waitUntil(lambda: window.state.slot.running == "", timeout=10_000)
    assert "islands are for the GA" not in panel.status.text()
    assert "failed" not in panel.status.text()
    choose(qtbot, panel.algorithm_box, "GA (4-bit codes)")  # the GA's islands come back
    task = window.state.evolution.task
    assert (panel.islands_spin.value(), task.islands, task.migration.every) == (3, 3, 4)
    assert panel.migration_every_spin.isEnabled()


def test_a_float_session_with_islands_runs_one_population_and_says_so(qtbot, window) -> None:
    prepare(qtbot, window)
    state = window.state
    state.set_evolve_task(state.evolution.task.model_copy(update={
        "algorithm": "openes", "islands": 2, "population": 10, "generations": 2}))
    window.evolution.settings.show_task(state.evolution.task)
    click(qtbot, window.evolution.step_button)
    qtbot.waitUntil(lambda: bool(state.strategy.history), timeout=10_000)
    assert "evolves one population" in window.evolution.status.text()


def test_a_ga_with_two_islands_runs_them_and_uses_the_global_best(qtbot, window) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(16)
    panel.generations_spin.setValue(6)
    panel.islands_spin.setValue(2)
    panel.migration_every_spin.setValue(2)
    panel.migration_count_spin.setValue(1)
    run = window.state.islands
    before = chain_weights(window.state.chain).clone()
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: window.state.slot.running == "" and len(run.history) == 7,
                    timeout=30_000)
    assert not window.state.evolution.history  # not the one-population run
    assert all(len(record.islands) == 2 for record in run.history)
    assert "2 islands" in panel.status.text()
    assert "finished" in panel.status.text()
    panel.redraw()  # the legend names what the loss plot draws: no mean or worst here
    title = panel.loss_plot.getPlotItem().titleLabel.text
    assert all(key in title for key in ("global best", "island 1", "&nbsp;2"))
    assert "worst" not in title
    assert "mean" not in title
    assert "mean over the 2 islands" in panel.diversity_plot.getPlotItem().titleLabel.text
    # the engine's own island run on the same chain, data and settings
    state = window.state
    inputs, targets = state.data_tensors()
    task = state.evolution.task
    setup = prepare_evolution(state.chain.copy(), inputs, targets, state.session.loss, task,
                              state.session.seed)
    engine = list(itertools.islice(evolve_islands(island_plan(setup), 2, 2, 1), 7))
    assert [r.best for r in engine] == [r.best for r in run.history]
    assert [[s.best for s in r.islands] for r in engine] == \
        [[s.best for s in r.islands] for r in run.history]
    panel.redraw()
    _x, y = panel.plots_view.best_curve.getData()
    np.testing.assert_array_equal(y, [r.best for r in run.history])
    assert len(panel.plots_view.island_curves) >= 2
    for k in range(2):
        _x, y = panel.plots_view.island_curves[k].getData()
        np.testing.assert_array_equal(y, [r.islands[k].best for r in run.history])
    assert torch.equal(chain_weights(state.chain), before)  # the run never writes it
    click(qtbot, panel.use_best_button)
    expected = state.chain.copy()
    load_genome(expected, torch.from_numpy(engine[-1].best_genome.copy()), setup.scales)
    assert torch.equal(chain_weights(state.chain), chain_weights(expected))
    # back to one population: the island history is gone from the plots
    panel.islands_spin.setValue(1)
    assert state.evolution_run() is state.evolution
    panel.redraw()
    assert all(len(curve.getData()[1] if curve.getData()[1] is not None else []) == 0
               for curve in panel.plots_view.island_curves)


def test_the_legend_of_many_islands_stays_short() -> None:
    keys = [label for label, _ in loss_keys(64)]
    assert keys == ["global best", "island 1", "2", "3–64"]  # one line of keys
    assert [label for label, _ in loss_keys(3)] == ["global best", "island 1", "2", "3"]
    assert [label for label, _ in loss_keys(1)] == ["best", "mean ± sd", "worst"]
