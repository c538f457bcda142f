"""Training from the panel: runs off the GUI thread, stays responsive, survives NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from tests.engine.helpers import torch_twin
from tests.gui.conftest import choose, click_action


def use_spiral(qtbot, window, samples: int = 200) -> None:
    panel = window.training
    panel.samples_spin.setValue(samples)
    choose(qtbot, panel.dataset_box, "spiral")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    choose(qtbot, panel.loss_box, "bce_with_logits")
    panel.steps_spin.setValue(1_000_000)  # runs until paused


def test_run_stops_at_the_steps_setting(qtbot, window) -> None:
    use_spiral(qtbot, window, samples=32)
    panel, state = window.training, window.state
    panel.steps_spin.setValue(25)
    assert state.training.settings.steps == 25
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not state.is_training(), timeout=30_000)
    assert [s.step for s in state.history] == list(range(1, 26))
    assert "stopped at step 25" in window.statusBar().currentMessage()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)  # at the limit: refused
    assert not state.is_training()
    assert "raise it" in window.statusBar().currentMessage()
    panel.steps_spin.setValue(30)  # raised: Run goes on from step 26
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not state.is_training(), timeout=30_000)
    assert [s.step for s in state.history] == list(range(1, 31))


def test_training_runs_off_the_gui_thread_and_views_stay_live(qtbot, window) -> None:
    use_spiral(qtbot, window)
    panel = window.training
    state = window.state
    before = state.chain.layers[0].params["weight"].clone()
    passes: list[object] = []
    state.pass_changed.connect(lambda: passes.append(state.pass_))
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert state.is_training()
    assert panel.run_button.text() == "Pause"
    assert state.training.trainer is not None
    assert state.training.trainer.chain is not state.chain  # the worker trains its own copy
    qtbot.waitUntil(lambda: len(state.history) >= 300, timeout=30_000)
    # the window's chain and its pass follow the worker's snapshots while it runs
    qtbot.waitUntil(lambda: not torch.equal(state.chain.layers[0].params["weight"], before),
                    timeout=10_000)
    assert len(passes) > 1
    assert state.is_training()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert not state.is_training()
    assert panel.run_button.text() == "Run"
    # paused: the window shows exactly the trainer's parameters
    for (_, shown), (_, trained) in zip(state.chain.parameters(),
                                        state.training.trainer.chain.parameters(), strict=True):
        assert torch.equal(shown, trained)
    losses = [s.loss for s in state.history]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    panel.redraw()
    x, _y = panel.loss_curve.getData()
    assert len(x) == len(state.history)
    assert panel.boundary.image.image is not None
    _header, rows = panel.boundary.table()
    assert sum(row[0] == "grid" for row in rows) == 48 * 48


def test_learning_rate_changes_without_reset(qtbot, window) -> None:
    """The rate typed in the panel is the one SGD applies: each step's update of a weight
    is checked against the gradient the pass before it computed (the weight as the GUI
    shows it, before and after)."""
    use_spiral(qtbot, window, samples=64)
    panel = window.training
    state = window.state
    for lr in (0.05, 0.2, 0.01):
        panel.lr_spin.setValue(lr)
        state.set_stepping_batch(use_probe=False)  # the pass over the full training batch
        weight = state.chain.layers[0].params["weight"].clone()
        gradient = state.pass_.grads(0)["weight"].clone()
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
        applied = weight - state.chain.layers[0].params["weight"]
        torch.testing.assert_close(applied, lr * gradient, rtol=1e-5, atol=1e-7)
    assert [s.lr for s in state.history] == [0.05, 0.2, 0.01]
    assert [s.step for s in state.history] == [1, 2, 3]


def test_changing_the_loss_while_training_restarts_on_the_new_loss(qtbot, window) -> None:
    """Issue 8: the worker went on with the old loss and the history restarted at step 44."""
    use_spiral(qtbot, window, samples=64)
    panel = window.training
    state = window.state
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(state.history) >= 30, timeout=20_000)
    choose(qtbot, panel.loss_box, "mse")
    assert not state.is_training()  # the edit stopped the run before changing anything
    assert state.history == []
    assert state.training.trainer is None
    inputs, targets = state.data_tensors()
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(torch_twin(state.chain)(inputs), targets)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert [s.step for s in state.history] == [1]
    assert state.training.trainer.loss == "mse"
    assert state.history[0].loss == pytest.approx(float(expected), rel=1e-5)


def test_exploding_run_says_where_and_reset_recovers(qtbot, window) -> None:
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
    click_action(qtbot, window, "Reset")
    assert window.state.history == []
    # every view shows the re-initialised chain at once: a fresh, finite pass
    assert window.state.pass_.first_nonfinite() is None
    assert np.isfinite(float(window.state.pass_.loss))
    click_action(qtbot, window, "Full pass")
    assert np.isfinite(float(window.state.pass_.loss))


def test_own_csv_data(qtbot, window, dialogs, tmp_path) -> None:
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


def test_k_class_data_sets_the_output_width_and_draws_each_class(qtbot, window,
                                                                 tmp_path) -> None:
    panel = window.training
    state = window.state
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    panel.samples_spin.setValue(90)
    panel.classes_spin.setValue(3)
    choose(qtbot, panel.dataset_box, "blobs")
    assert panel.classes_spin.isEnabled()
    assert state.dataset.classes == 3
    assert state.chain.output_size == 3
    assert state.session.loss == "cross_entropy"
    assert panel.loss_box.currentText() == "cross_entropy"
    for _ in range(3):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert len(state.history) == 3
    panel.redraw()
    image = panel.boundary.image.image
    assert image is not None
    assert image.ndim == 3  # RGB by argmax, not one class's probability
    assert len(panel.boundary.points) == 3
    # a 3-class CSV does the same
    csv = tmp_path / "three.csv"
    csv.write_text("a,b,y\n" + "\n".join(f"{i % 7},{i % 5},{i % 3}" for i in range(30)) + "\n")
    assert panel.load_csv_path(str(csv), "classification")
    assert state.dataset.classes == 3
    assert state.chain.output_size == 3
    assert set(np.unique(state.dataset.targets_for("cross_entropy"))) == {0.0, 1.0, 2.0}


def test_reset_returns_to_the_parameters_the_session_opened_with(qtbot, window) -> None:
    """A session file's own weights are where Reset goes back to, not a seed init."""
    path = Path(__file__).parents[2] / "examples" / "seed.json"
    assert window.open_path(path)
    state = window.state
    def current() -> list[torch.Tensor]:
        return [p for _, p in state.chain.parameters()]

    opened = [p.clone() for p in current()]
    for _ in range(3):
        qtbot.mouseClick(window.training.step_button, Qt.MouseButton.LeftButton)
    assert not all(torch.equal(a, b) for a, b in zip(opened, current(), strict=True))
    click_action(qtbot, window, "Reset")
    assert all(torch.equal(a, b) for a, b in zip(opened, current(), strict=True))
    assert "session's own parameters" in window.statusBar().currentMessage()


def test_the_loss_plot_takes_the_boundarys_place_when_the_data_is_not_2d(qtbot,
                                                                        window) -> None:
    window.show_page("training")
    panel = window.training
    assert window.state.dataset.inputs.shape[1] == 1  # the default session's data

    def wide() -> bool:  # the loss plot spans both columns
        return panel.loss_plot.width() > 1.8 * panel.ratio_plot.width()

    qtbot.waitUntil(wide, timeout=5_000)
    assert not panel.boundary_plot.isVisible()
    use_spiral(qtbot, window)
    qtbot.waitUntil(lambda: panel.boundary_plot.isVisible() and not wide(), timeout=5_000)
    # and back: the row keeps its share of the height (it shrank to the plot's minimum,
    # 120 px, after a 2-D session and File > New)
    window.state.new_session()
    qtbot.waitUntil(wide, timeout=5_000)

    def rows_alike() -> bool:
        return abs(panel.loss_plot.height() - panel.ratio_plot.height()) <= 4

    qtbot.waitUntil(rows_alike, timeout=5_000)
    use_spiral(qtbot, window)
    qtbot.waitUntil(lambda: panel.boundary_plot.isVisible() and rows_alike(), timeout=5_000)


def test_choosing_a_dataset_after_the_seed_example_gives_a_cloud_not_one_point(
        qtbot, window) -> None:
    panel, state = window.training, window.state
    assert state.dataset.size == 1  # the seed example
    choose(qtbot, panel.dataset_box, "spiral")
    assert state.dataset.size == 200
    assert panel.samples_spin.value() == 200
    panel.samples_spin.setValue(40)  # a count the person chose is kept
    choose(qtbot, panel.dataset_box, "circle")
    assert state.dataset.size == 40
    choose(qtbot, panel.dataset_box, "seed_example")
    panel.samples_spin.setValue(5)  # ... also when leaving the seed example
    choose(qtbot, panel.dataset_box, "xor")
    assert state.dataset.size == 5
