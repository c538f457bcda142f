"""The Evolution panel's "4-bit vs float" tab driven as a person would: Compare runs the
four methods off the GUI thread, the curves appear, the line of final losses is the
engine's, Stop ends it, the plots export."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.core.optim import SGDConfig
from engine.data.experiment import build_chain
from engine.evolution.comparison import CURVES, grid_comparison, summary_line
from gui.export import export_csv
from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare


def small_task(qtbot, window) -> None:
    prepare(qtbot, window, samples=32)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, "OpenES (float weights)")
    panel.population_spin.setValue(10)
    panel.elite_spin.setValue(1)
    panel.tabs.setCurrentWidget(panel.comparison)


def test_compare_plots_four_curves_and_states_the_engines_final_losses(
        qtbot, window, tmp_path: Path) -> None:
    small_task(qtbot, window)
    tab = window.evolution.comparison
    tab.budget_spin.setValue(120)
    click(qtbot, tab.compare_button)
    assert window.state.slot.running == "comparison"
    assert tab.stop_button.isEnabled()
    assert not window.evolution.start_button.isEnabled()  # one run at a time
    qtbot.waitUntil(lambda: window.state.slot.running == "", timeout=60_000)
    tab.redraw()
    for name in CURVES:  # xData, yData: as given, not the log10 values the plot draws
        x = tab.curves["passes"][name].xData
        assert len(x) > 0, name
        assert x[-1] >= 120, name
    # the engine's own run on the same chain, data and settings
    state = window.state
    session = state.session
    inputs, targets = state.data_tensors()
    chain = build_chain(session.network.without_parameters(), session.dtype, session.seed)
    settings = state.training.settings
    points = list(grid_comparison(chain, inputs, targets, session.loss, state.evolution.task,
                                  session.seed, SGDConfig(lr=settings.lr,
                                                          momentum=settings.momentum), 120))
    assert tab.summary.text() == summary_line(points)
    for name in CURVES:
        curve = tab.curves["passes"][name]
        expected = [p for p in points if p.curve == name]
        np.testing.assert_array_equal(curve.yData, [p.loss for p in expected])
        np.testing.assert_array_equal(curve.xData, [p.evaluations for p in expected])
        assert len(tab.curves["time"][name].xData) == len(expected)
    assert tab.progress.value() == tab.progress.maximum()
    path = tmp_path / "comparison.csv"
    export_csv(tab.passes_plot, path)
    with path.open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["curve", "forward_passes", "seconds", "loss"]
    assert len(rows) - 1 == len(points)
    assert {row[0] for row in rows[1:]} == {"GA 4-bit", "ES float", "ES→4-bit", "SGD"}
    assert tab.passes_plot in window.evolution.plots()


def test_a_diverging_sgd_ends_the_run_done_and_leaves_the_plot_through_the_top(
        qtbot, window) -> None:
    small_task(qtbot, window)
    window.state.set_loss("mse")
    window.state.set_train_settings(lr=1e6)  # SGD's loss goes to inf within a few passes
    tab = window.evolution.comparison
    tab.budget_spin.setValue(120)
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: window.state.slot.running == "", timeout=60_000)
    tab.redraw()
    run = window.state.grid_comparison
    sgd = [p for p in run.points if p.curve == "sgd"]
    assert sgd[-1].evaluations < 120  # it ended early, not stopped
    assert not np.isfinite(sgd[-1].loss) or sgd[-1].loss > 1e3
    assert "SGD" in tab.summary.text()
    assert not tab.summary.text().endswith("(stopped)")
    assert tab.progress.value() == tab.progress.maximum()
    assert tab.progress.text() == "done"
    starts = [next(p.loss for p in run.points if p.curve == name) for name in CURVES]
    for plot in tab.plots():
        top = plot.getPlotItem().getViewBox().viewRange()[1][1]  # log10 of the loss
        assert top <= np.log10(10 * max(starts)) + 1e-9
    # the data stay whole: the plot's own points are every finite loss (a log axis has
    # no place for inf)
    losses = np.array([p.loss for p in sgd])
    np.testing.assert_array_equal(tab.curves["passes"]["sgd"].yData,
                                  np.where(np.isfinite(losses), losses, np.nan))


def test_stop_ends_the_comparison_and_says_so(qtbot, window) -> None:
    small_task(qtbot, window)
    tab = window.evolution.comparison
    tab.budget_spin.setValue(5_000_000)
    click(qtbot, tab.compare_button)
    run = window.state.grid_comparison
    qtbot.waitUntil(lambda: len(run.points) >= 3, timeout=20_000)
    click(qtbot, tab.stop_button)
    assert window.state.slot.running == ""
    assert tab.summary.text().endswith("(stopped)")
    assert tab.summary.text().startswith("GA 4-bit ")
    # a budget of millions: the curves stopped short of it, and say where
    assert tab.summary.text().endswith(" passes (stopped)")
    assert tab.summary.text() == summary_line(run.points, 5_000_000) + " (stopped)"
    assert tab.progress.text().endswith("(stopped)")
    assert tab.progress.value() < tab.progress.maximum()
    assert tab.compare_button.isEnabled()
    assert not tab.stop_button.isEnabled()
    # the evolution's Pause ends a comparison too (the buttons beside it wait for it)
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: len(run.points) >= 3, timeout=20_000)
    assert window.evolution.pause_button.isEnabled()
    click(qtbot, window.evolution.pause_button)
    assert window.state.slot.running == ""
    assert tab.summary.text().endswith("(stopped)")


def test_a_new_chain_clears_the_comparison(qtbot, window) -> None:
    small_task(qtbot, window)
    tab = window.evolution.comparison
    tab.budget_spin.setValue(20)
    click(qtbot, tab.compare_button)
    qtbot.waitUntil(lambda: window.state.slot.running == "", timeout=60_000)
    assert window.state.grid_comparison.points
    tab.redraw()
    assert len(tab.curves["passes"]["ga"].xData) > 0
    window.state.set_seed(window.state.session.seed + 1)
    assert window.state.grid_comparison.points == []
    tab.redraw()
    shown = tab.curves["passes"]["ga"].xData
    assert shown is None or len(shown) == 0
