"""The Activation lab driven as a person would: choosing an activation, typing a range,
changing the depth and the initialiser. What the plots show is checked against torch
autograd and a torch.nn twin of the chain, not against the panel's own engine calls."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox

from engine.core.activations import ACTIVATIONS
from engine.core.specs import InitSpec
from gui.panels.activation_lab_panel import SAMPLES, ActivationLabPanel
from tests.engine.test_activation_lab import autograd_f_df, twin_pass
from tests.gui.conftest import choose


@pytest.fixture
def panel(qtbot) -> Iterator[ActivationLabPanel]:
    lab = ActivationLabPanel()
    qtbot.addWidget(lab)
    lab.resize(1000, 700)
    with qtbot.waitSignal(lab.task.done, timeout=60_000):
        lab.show()
    qtbot.waitUntil(lambda: lab.result is not None, timeout=5_000)
    yield lab
    lab.stop()


def type_value(qtbot, spin: QAbstractSpinBox, text: str) -> None:
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def shown(item: pg.PlotDataItem) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getOriginalDataset()  # the data as given, before the log axis maps it
    assert x is not None
    assert y is not None
    return np.asarray(x), np.asarray(y)


def wait_for_result(qtbot, lab: ActivationLabPanel, **settings: object) -> None:
    """Wait until the shown result has ``settings`` (later runs may be queued)."""
    def ready() -> bool:
        result = lab.result
        return result is not None and not lab.task.is_running() and all(
            getattr(result, name) == value for name, value in settings.items())
    qtbot.waitUntil(ready, timeout=60_000)


def test_choosing_an_activation_redraws_f_and_df_from_the_engine(qtbot, panel) -> None:
    for kind in ["tanh", "relu", *ACTIVATIONS]:
        choose(qtbot, panel.kind_box, kind)
        x, f = shown(panel.f_curve)
        x_df, df = shown(panel.df_curve)
        assert x.tolist() == x_df.tolist()
        assert (x[0], x[-1]) == (-6.0, 6.0)
        f_ref, df_ref = autograd_f_df(kind, x)
        np.testing.assert_allclose(f, f_ref, rtol=1e-12, atol=1e-15, err_msg=kind)
        np.testing.assert_allclose(df, df_ref, rtol=1e-12, atol=1e-15, err_msg=kind)
        assert panel.sup_label.text().startswith(f"Over [-20, 20] (steps of 1/1024) the "
                                                 f"largest {kind}'(x) is")


def test_the_max_marker_sits_at_a_quarter_at_zero_for_sigmoid(qtbot, panel) -> None:
    choose(qtbot, panel.kind_box, "relu")
    choose(qtbot, panel.kind_box, "sigmoid")
    marker_x, marker_y = panel.max_marker.getData()
    assert (float(marker_x[0]), float(marker_y[0])) == (0.0, 0.25)
    assert panel.max_label.toPlainText() == "max f' = 0.25 at x = 0"
    assert (panel.max_label.pos().x(), panel.max_label.pos().y()) == (0.0, 0.25)
    assert "is 0.25, at x = 0" in panel.sup_label.text()

    # a range to the right of 0: the largest f' shown is at its left end
    type_value(qtbot, panel.high_spin, "8")
    type_value(qtbot, panel.low_spin, "1")
    marker_x, marker_y = panel.max_marker.getData()
    expected = float(torch.sigmoid(torch.tensor(1.0, dtype=torch.float64)) *
                     (1 - torch.sigmoid(torch.tensor(1.0, dtype=torch.float64))))
    assert float(marker_x[0]) == 1.0
    assert float(marker_y[0]) == pytest.approx(expected, rel=1e-12)
    assert panel.max_label.toPlainText() == f"max f' = {expected:.4g} at x = 1"


def test_a_plateau_of_the_largest_slope_is_said_as_one(qtbot, panel) -> None:
    """ReLU's f' = 1 everywhere right of 0: it read "at x = 0.015", the first grid
    point."""
    choose(qtbot, panel.kind_box, "relu")
    assert panel.max_label.toPlainText() == "max f' = 1 for every x > 0"
    type_value(qtbot, panel.low_spin, "-4.3")  # 0 is no longer a grid point
    assert panel.max_label.toPlainText() == "max f' = 1 for every x > 0"
    type_value(qtbot, panel.high_spin, "-1")  # left of 0 f' is 0 throughout
    assert panel.max_label.toPlainText() == "max f' = 0 for every x"


def test_an_empty_range_is_refused_not_drawn(qtbot, panel) -> None:
    before = shown(panel.f_curve)[0].tolist()
    type_value(qtbot, panel.low_spin, "7")
    assert "⚠" in panel.sup_label.text()
    assert shown(panel.f_curve)[0].tolist() == before


def test_the_measured_curve_is_a_torch_twin_s_gradient(qtbot, panel) -> None:
    result = panel.result
    assert result is not None
    assert (result.kind, result.depth, result.width, result.seed) == ("sigmoid", 20, 32, 0)
    activated, _, _ = twin_pass("sigmoid", 20, 32, InitSpec(), "normal", 1.0, SAMPLES, 0)
    norms = np.array([float(a.grad.norm()) for a in activated][::-1])
    n, measured = shown(panel.measured_curve)
    assert n.tolist() == list(range(20))
    np.testing.assert_allclose(measured, norms / norms[0], rtol=1e-9)
    _, reference = shown(panel.reference_curve)
    assert reference[5] == pytest.approx(0.8 ** 5, rel=1e-12)
    _, bound = shown(panel.bound_curve)
    assert bound[5] == 0.25 ** 5
    assert "0.25ⁿ" in panel.compound_plot.getPlotItem().titleLabel.text
    assert f"measured {measured[-1]:.3g}" in panel.summary.text()


def test_changing_the_depth_recomputes(qtbot, panel) -> None:
    with qtbot.waitSignal(panel.task.done, timeout=60_000,
                          check_params_cb=lambda result: result.depth == 7):
        type_value(qtbot, panel.depth_spin, "7")
    wait_for_result(qtbot, panel, depth=7)
    n, measured = shown(panel.measured_curve)
    assert n.tolist() == list(range(7))
    activated, _, _ = twin_pass("sigmoid", 7, 32, InitSpec(), "normal", 1.0, SAMPLES, 0)
    norms = np.array([float(a.grad.norm()) for a in activated][::-1])
    np.testing.assert_allclose(measured, norms / norms[0], rtol=1e-9)
    assert "first of 7 blocks" in panel.summary.text()


def test_a_burst_of_changes_ends_on_the_last_settings(qtbot, panel) -> None:
    panel.depth_spin.setFocus()
    for _ in range(4):
        qtbot.keyClick(panel.depth_spin, Qt.Key.Key_Up)
    type_value(qtbot, panel.width_spin, "5")
    wait_for_result(qtbot, panel, depth=24, width=5)
    assert shown(panel.measured_curve)[0].tolist() == list(range(24))


def test_the_initialiser_and_inputs_reach_the_chain(qtbot, panel) -> None:
    assert not panel.init_scale_spin.isEnabled()
    choose(qtbot, panel.init_box, "uniform")
    assert panel.init_scale_spin.isEnabled()
    type_value(qtbot, panel.init_scale_spin, "0.5")
    choose(qtbot, panel.input_box, "inputs uniform(-s, s)")
    type_value(qtbot, panel.input_scale_spin, "2")
    choose(qtbot, panel.kind_box, "tanh")
    wait_for_result(qtbot, panel, kind="tanh", init=InitSpec(kind="uniform", a=0.5),
                    input_distribution="uniform", input_scale=2.0)
    activated, _, _ = twin_pass("tanh", 20, 32, InitSpec(kind="uniform", a=0.5), "uniform",
                                2.0, SAMPLES, 0)
    norms = np.array([float(a.grad.norm()) for a in activated][::-1])
    np.testing.assert_allclose(shown(panel.measured_curve)[1], norms / norms[0], rtol=1e-9)


def test_explanation_quotes_the_engine_s_numbers(panel) -> None:
    text = panel.explanation.text()
    for fact in ("0.25⁵ = 0.000977", "0.8⁵ = 0.328", "tanh(3.3) = 0.99728",
                 "exactly 1 for every x > 0", "dead unit"):
        assert fact in text


def test_plots_are_the_two_plot_widgets(panel) -> None:
    plots = panel.plots()
    assert plots == [panel.curve_plot, panel.compound_plot]
    assert all(isinstance(p, pg.PlotWidget) for p in plots)
