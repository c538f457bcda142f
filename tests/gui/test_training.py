"""Training from the panel: runs off the GUI thread, stays responsive, survives NaN."""

from __future__ import annotations

import gc
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer

from tests.gui.conftest import choose


def use_spiral(qtbot, window, samples: int = 200) -> None:  # type: ignore[no-untyped-def]
    panel = window.training
    panel.samples_spin.setValue(samples)
    choose(qtbot, panel.dataset_box, "spiral")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, panel.loss_box, "bce_with_logits")


class StallMeter:
    """Records the longest gap between ticks of a 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()


def test_training_runs_off_the_gui_thread_and_stays_responsive(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    use_spiral(qtbot, window)
    panel = window.training
    qtbot.wait(300)  # let the set-up's own repaints finish before measuring
    gc.collect()  # earlier tests' windows are garbage the real app would not have
    meter = StallMeter()
    meter.start()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert window.state.is_training()
    assert panel.run_button.text() == "Pause"
    qtbot.waitUntil(lambda: len(window.state.history) >= 300, timeout=20_000)
    qtbot.wait(1500)  # keep training while the meter watches the event loop
    meter.timer.stop()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert not window.state.is_training()
    gaps = np.array(meter.gaps[1:])
    assert gaps.size > 50
    assert gaps.max() < 0.050, f"event loop stalled for {gaps.max() * 1e3:.0f} ms"
    losses = [s.loss for s in window.state.history]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    panel.redraw()
    x, _y = panel.loss_curve.getData()
    assert len(x) == len(window.state.history)
    assert panel.boundary.image.image is not None
    _header, rows = panel.boundary.table()
    assert sum(row[0] == "grid" for row in rows) == 48 * 48


def test_learning_rate_changes_without_reset(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    use_spiral(qtbot, window, samples=64)
    panel = window.training
    panel.lr_spin.setValue(0.05)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    panel.lr_spin.setValue(0.2)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert [s.lr for s in window.state.history] == [0.05, 0.2]
    assert [s.step for s in window.state.history] == [1, 2]


def test_exploding_run_says_where_and_reset_recovers(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    use_spiral(qtbot, window, samples=64)
    panel = window.training
    choose(qtbot, panel.loss_box, "mse")
    panel.lr_spin.setValue(100.0)
    builder = window.builder
    builder.repeat_depth.setValue(6)
    choose(qtbot, builder.repeat_activation, "identity")
    qtbot.mouseClick(builder.repeat_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.state.is_training(), timeout=20_000)
    last = window.state.history[-1]
    assert last.nonfinite is not None
    assert "NaN/Inf" in panel.status.text()
    assert f"layer {last.nonfinite.layer}" in panel.status.text()
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)  # refused, no crash
    assert window.state.history[-1] is last
    from tests.gui.conftest import click_action

    click_action(qtbot, window, "Reset")
    assert window.state.history == []
    assert window.state.pass_ is None
    click_action(qtbot, window, "Full pass")
    assert np.isfinite(float(window.state.pass_.loss))


def test_own_csv_data(qtbot, window, dialogs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "points.csv"
    rows = ["a,b,label"] + [f"{x},{y},{int(x * y > 0)}" for x in (-2, -1, 1, 2)
                            for y in (-2, -1, 1, 2)]
    good.write_text("\n".join(rows) + "\n")
    panel = window.training
    assert panel.load_csv_path(str(good), "classification")
    assert window.state.dataset.feature_names == ("a", "b")
    assert window.state.network.input_size == 2
    assert len(window.inputs.sliders) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    assert not panel.load_csv_path(str(bad))
    assert "line 3, column 2: 'oops' is not a number" in dialogs[-1][1]
    assert window.state.dataset.feature_names == ("a", "b")
