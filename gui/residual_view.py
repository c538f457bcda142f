"""Plain versus residual, the same depth side by side: ‖dL/dW‖ per block of the chain on
screen and of its twin (:func:`engine.data.residual_comparison.compare_gradients`, run
off the GUI thread). A tab of the Gradient flow page."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.core.specs import NetworkSpec
from engine.data.residual_comparison import GradientProfile, compare_gradients
from gui.background import BackgroundTask
from gui.plot_widgets import LogAxis, titled_plot

PLAIN, RESIDUAL = "#d62728", "#6a3d9a"
TITLE = "Plain vs residual, same depth: ‖dL/dW‖ per block"


class ResidualView(QWidget):
    """``refresh(...)`` recomputes both twins for the current chain and batch."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = titled_plot(TITLE, "block (input end first)", "L2 norm", log_y=True,
                                integer_x=True, name="plain_vs_residual",
                                keys=(("plain", PLAIN), ("residual", RESIDUAL)))
        assert isinstance(self.plot.getPlotItem().getAxis("left"), LogAxis)
        self.curves = {label: self.plot.plot([], [], pen=pg.mkPen(colour, width=2),
                                             symbol="o", symbolSize=5, symbolBrush=colour,
                                             symbolPen=None)
                       for label, colour in (("plain", PLAIN), ("residual", RESIDUAL))}
        layout.addWidget(self.plot, 1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.task = BackgroundTask(self)
        self.task.done.connect(self.show_profiles)
        self.task.failed.connect(lambda message: self.summary.setText(f"failed: {message}"))
        self.profiles: tuple[GradientProfile, GradientProfile] | None = None

    def refresh(self, network: NetworkSpec, dtype: str, seed: int, inputs: torch.Tensor,
                targets: torch.Tensor, loss: str) -> None:
        """Both twins' pass over ``inputs`` (copies: the worker owns what it reads)."""
        self.summary.setText("computing both twins …")
        inputs, targets = inputs.clone(), targets.clone()
        self.task.start(lambda: compare_gradients(network, dtype, seed, inputs, targets,
                                                  loss))

    def show_profiles(self, profiles: tuple[GradientProfile, GradientProfile]) -> None:
        self.profiles = profiles
        for profile in profiles:
            blocks = np.arange(len(profile.weight_grads), dtype=float)
            self.curves[profile.label].setData(blocks, profile.weight_grads)
        self.plot.enableAutoRange()
        plain, residual = profiles
        self.summary.setText(
            f"first/last ‖dL/dW‖: plain {plain.first_last_ratio:.3g}, residual "
            f"{residual.first_last_ratio:.3g}. The identity path x carries dL/dy past every "
            "block unchanged, so the first blocks keep a gradient however deep the chain. "
            "Both twins start from the same seed.")
