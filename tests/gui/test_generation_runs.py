"""What every evolution algorithm in the window shares (gui/generation_run.py): Step runs
one generation and pauses, Continue goes on from there, Stop ends the run, and each
state is said with the run's best loss."""

from __future__ import annotations

import pytest

from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare

ALGORITHMS = {"ga": "GA (4-bit codes)", "openes": "OpenES (float weights)",
              "pso": "PSO (float weights)"}


@pytest.mark.parametrize(("algorithm", "islands", "title"), [
    ("ga", 1, "GA run 1"), ("ga", 2, "GA run 1 (2 islands)"), ("openes", 1, "OpenES run 1"),
    ("pso", 1, "PSO run 1")])
def test_step_continue_and_stop_say_where_the_run_is(
        qtbot, window, algorithm: str, islands: int, title: str) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, ALGORITHMS[algorithm])
    panel.population_spin.setValue(20)
    panel.generations_spin.setValue(1000)
    if islands > 1:
        panel.islands_spin.setValue(islands)
    run = window.state.evolution_run()
    click(qtbot, panel.step_button)  # generation 0 of a new run
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 1, timeout=20_000)
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 2, timeout=20_000)
    best = run.history[-1].best
    assert panel.status.text().startswith(
        f"{title} paused at generation 1, best loss {best:.4g}; \u201cUse the best")
    # a Step is mostly start-up: no generations/s from it
    assert panel.rate_label.text() == f"best {best:.4g}"
    assert run.can_continue()
    click(qtbot, panel.continue_button)
    assert panel.status.text() == f"{title} continued from generation 1"
    qtbot.waitUntil(lambda: len(run.history) >= 4, timeout=20_000)
    qtbot.waitUntil(lambda: "generations/s" in panel.rate_label.text(), timeout=20_000)
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=20_000)
    last = run.history[-1]
    assert [record.generation for record in run.history] == list(range(len(run.history)))
    assert panel.status.text().startswith(
        f"{title} stopped at generation {last.generation}, best loss {last.best:.4g}")
    assert not run.can_continue()
    assert window.state.evolution_run() is run


def step_twice(qtbot, panel, run) -> None:
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 1, timeout=20_000)
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 2, timeout=20_000)


@pytest.mark.parametrize("algorithm", ["ga", "pso"])
def test_stop_on_a_paused_run_says_it_stopped(qtbot, window, algorithm: str) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, ALGORITHMS[algorithm])
    panel.population_spin.setValue(20)
    run = window.state.evolution_run()
    step_twice(qtbot, panel, run)
    click(qtbot, panel.stop_button)
    assert panel.status.text().startswith(
        f"{run.title()} stopped at generation 1, best loss {run.history[-1].best:.4g}")
    assert not panel.continue_button.isEnabled()


def test_another_algorithm_ends_a_paused_run_and_says_so(qtbot, window) -> None:
    """OpenES and PSO share a run object: switching between them ended nothing, and
    Continue went on with the algorithm no longer shown."""
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, ALGORITHMS["openes"])
    panel.population_spin.setValue(20)
    run = window.state.evolution_run()
    step_twice(qtbot, panel, run)
    box = panel.algorithm_box  # straight to PSO (choose() passes through the GA)
    box.setCurrentIndex(box.findText(ALGORITHMS["pso"]))
    assert panel.status.text() == "OpenES run 1 ended: PSO chosen"
    assert not run.history
    assert not panel.continue_button.isEnabled()
    assert not panel.use_best_button.isEnabled()  # nothing to load
    panel.islands_spin.setValue(1)
    choose(qtbot, panel.algorithm_box, ALGORITHMS["ga"])  # no run to end: nothing said
    assert panel.status.text().strip() == ""
    panel.islands_spin.setValue(3)
    step_twice(qtbot, panel, window.state.evolution_run())
    assert panel.use_best_button.isEnabled()
    click(qtbot, panel.use_best_button)
    assert "the GA's best weights" in window.statusBar().currentMessage()
    panel.islands_spin.setValue(1)
    assert panel.status.text() == "GA run 2 (3 islands) ended: GA chosen"


@pytest.mark.parametrize(("algorithm", "islands", "name"), [
    ("ga", 1, "GA"), ("ga", 2, "GA (islands)"), ("openes", 1, "OpenES"), ("pso", 1, "PSO")])
def test_a_run_that_fails_says_which_algorithm_and_why(
        qtbot, window, monkeypatch, algorithm: str, islands: int, name: str) -> None:
    prepare(qtbot, window)
    panel = window.evolution
    choose(qtbot, panel.algorithm_box, ALGORITHMS[algorithm])
    panel.population_spin.setValue(20)
    if islands > 1:
        panel.islands_spin.setValue(islands)
    run = window.state.evolution_run()

    def failing(_setup):  # the worker meets an error in the first generation
        raise RuntimeError("out of memory")
        yield

    monkeypatch.setattr(run, "_generations_of", failing)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: not run.is_running(), timeout=20_000)
    assert panel.status.text() == f"{name} failed: RuntimeError: out of memory"
    assert not run.can_continue()
