"""A long run in the window keeps every generation's numbers but only the latest
generation's arrays (genomes, samples, weights): memory stays flat however long it runs,
and what is shown and loaded is unchanged."""

from __future__ import annotations

import pytest

from tests.gui.conftest import choose
from tests.gui.test_evolution_panel import click, prepare

GENERATIONS = 12
ALGORITHMS = {"ga": "GA (4-bit codes)", "openes": "OpenES (float weights)"}


def run_to_the_end(qtbot, window, algorithm: str, islands: int = 1):
    prepare(qtbot, window)
    panel = window.evolution
    if algorithm != "ga":
        choose(qtbot, panel.algorithm_box, ALGORITHMS[algorithm])
    panel.population_spin.setValue(10)
    panel.generations_spin.setValue(GENERATIONS)
    if islands > 1:
        panel.islands_spin.setValue(islands)
    run = window.state.evolution_run()
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: run.finished() and window.state.slot.running == "",
                    timeout=30_000)
    return run


def arrays_of(record, algorithm: str, islands: int) -> list:
    if algorithm == "openes":
        return [record.best_weights]
    stats = record.islands if islands > 1 else [record]
    return [array for s in stats for array in (s.best_genome, s.sample)]


@pytest.mark.parametrize(("algorithm", "islands"), [("ga", 1), ("ga", 2), ("openes", 1)])
def test_only_the_latest_generation_keeps_its_arrays(qtbot, window, algorithm: str,
                                                     islands: int) -> None:
    run = run_to_the_end(qtbot, window, algorithm, islands)
    history = run.history
    assert [record.generation for record in history] == list(range(GENERATIONS + 1))
    for record in history[:-1]:
        assert all(array.size == 0 for array in arrays_of(record, algorithm, islands))
    assert all(array.size > 0 for array in arrays_of(history[-1], algorithm, islands))
    best = [record.best for record in history]
    assert best == sorted(best, reverse=True)  # the numbers stay: best so far never rises
    # the latest arrays are still what "Use the best in the chain" loads
    assert run.best_chain() is not None
