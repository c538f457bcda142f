"""The evolution panel driven as a person would: settings, Start/Pause/Step/Reset, plots."""

from __future__ import annotations

import gc
import itertools

import numpy as np
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from gui.state import AppState
from tests.gui.conftest import choose
from tests.gui.test_training import StallMeter


def prepare(qtbot, window, samples: int = 64) -> None:  # type: ignore[no-untyped-def]
    window.training.samples_spin.setValue(samples)
    choose(qtbot, window.training.dataset_box, "xor")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, window.training.loss_box, "bce_with_logits")
    window.docks["evolution"].raise_()


def click(qtbot, button) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_start_pause_step_reset(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(60)
    panel.generations_spin.setValue(1000)
    panel.mutation_spin.setValue(0.02)
    run = window.state.evolution
    assert run.task.population == 60
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: len(run.history) >= 20, timeout=20_000)
    click(qtbot, panel.pause_button)
    assert not run.is_running()
    paused_at = len(run.history)
    qtbot.wait(100)
    assert len(run.history) == paused_at
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: len(run.history) == paused_at + 1, timeout=10_000)
    best = [s.best for s in run.history]
    assert all(b <= a for a, b in itertools.pairwise(best))
    assert [s.generation for s in run.history] == list(range(len(run.history)))
    panel.redraw()
    _x, y = panel.best_curve.getData()
    np.testing.assert_array_equal(y, best)
    assert "generations/s" in panel.rate_label.text()
    panel.tabs.setCurrentWidget(panel.genome_view)
    panel.redraw()
    assert panel.genome_view.population_image.image.shape[:2] == (run.history[-1].sample.shape[1],
                                                                   48)
    click(qtbot, panel.reset_button)
    assert run.history == []
    assert panel.table.size == 0


def test_invalid_settings_are_refused_with_a_message(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    panel = window.evolution
    panel.population_spin.setValue(10)
    panel.elite_spin.setValue(10)
    assert "at least elite + 1" in panel.status.text()
    assert window.state.evolution.task.elite != 10


def test_use_best_loads_the_quantised_weights_into_the_chain(qtbot, window) -> None:  # type: ignore[no-untyped-def]
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
    assert "4-bit grid" in panel.status.text()


def test_compare_with_sgd_plots_both(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    prepare(qtbot, window)
    panel = window.evolution
    panel.population_spin.setValue(40)
    panel.generations_spin.setValue(10)
    click(qtbot, panel.start_button)
    run = window.state.evolution
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) == 11, timeout=20_000)
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: panel.sgd.size > 5 and run._comparison is None, timeout=30_000)
    panel.redraw()
    ga_x, _ = panel.comparison_curves["passes"][0].getData()
    sgd_x, _ = panel.comparison_curves["passes"][1].getData()
    assert len(ga_x) == 11
    assert len(sgd_x) == panel.sgd.size


def test_large_population_keeps_the_window_responsive(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    prepare(qtbot, window, samples=256)
    panel = window.evolution
    panel.population_spin.setValue(10_000)
    panel.generations_spin.setValue(1000)
    qtbot.wait(300)
    gc.collect()  # earlier tests' windows are garbage the real app would not have
    meter = StallMeter()
    meter.start()
    click(qtbot, panel.start_button)
    run = window.state.evolution
    qtbot.waitUntil(lambda: len(run.history) >= 4, timeout=60_000)
    qtbot.wait(1000)
    meter.timer.stop()
    click(qtbot, panel.pause_button)
    gaps = np.array(meter.gaps[1:])
    assert gaps.max() < 0.050, f"event loop stalled for {gaps.max() * 1e3:.0f} ms"


def test_closing_the_window_mid_run_stops_and_joins_the_worker(qtbot, settings_file,  # type: ignore[no-untyped-def]
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
    worker = run._worker
    state.dirty = False
    window.close()
    assert not run.is_running()
    assert worker is not None
    assert not worker.thread.isRunning()
