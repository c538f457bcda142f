"""Covariate shift: one block's input distribution over training, without and with norms.

Both chains train on a worker thread (:func:`engine.data.covariate_shift.covariate_shift`,
a generator of frames) from the same weights on the same minibatches. Shown: each
chain's histogram over the recorded steps as an image (step across, value up), the mean
± std band of both, the two probe-loss curves, and the histogram at the step the
timeline slider points at.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data.covariate_shift import ShiftConfig, ShiftFrame, ShiftRecord, covariate_shift
from gui.norms.compare_page import WITH, WITHOUT
from gui.norms.subject import Subject
from gui.plot_widgets import PROGRESS_FRAME_MS, RedrawTimer, set_keys, titled_plot
from gui.worker import WorkerThread

KINDS = (("batch", "batch"), ("layer", "layer"), ("RMS", "rms"), ("L1", "l1"), ("L2", "l2"))
INTRO = ("While the earlier layers learn, the input of a later block moves: its mean and "
         "spread change from step to step (covariate shift). A norm in front of the "
         "nonlinearity re-centres and re-scales it at every step. Both chains start from "
         "the same weights and see the same minibatches; the statistics are taken on one "
         "fixed probe batch.")


class ShiftPage(QWidget):
    """Controls, a run on a worker, five plots and a timeline slider."""

    def __init__(self, subject: Callable[[], Subject]) -> None:
        super().__init__()
        self.subject = subject
        self.frames: list[ShiftFrame] = []
        self.record: ShiftRecord | None = None
        self.running = False
        self._thread: WorkerThread | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(self._controls())
        self.status = QLabel("Press Train both to record.")
        layout.addWidget(self.status)
        grid = QGridLayout()
        self.images: dict[str, pg.ImageItem] = {}
        self.image_plots = {}
        for column, (key, title) in enumerate((("without", "Without norms"),
                                               ("with", "With norms"))):
            plot = titled_plot(f"{title}: block input histogram", "step", "value",
                               name=f"shift_image_{key}")
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(pg.colormap.get("viridis"))
            plot.addItem(image)
            self.images[key], self.image_plots[key] = image, plot
            grid.addWidget(plot, 0, column)
        self.hist_plot = titled_plot("Histogram at the slider's step", "value",
                                     "share of entries", name="shift_histogram",
                                     keys=(("without", WITHOUT), ("with", WITH)))
        self.hist_curves = [self.hist_plot.plot([], [], stepMode="center",
                                                pen=pg.mkPen(c, width=2))
                            for c in (WITHOUT, WITH)]
        grid.addWidget(self.hist_plot, 0, 2)
        self.band_plot = titled_plot("Block input: mean ± std over the probe", "step", "value",
                                     name="shift_band",
                                     keys=(("without", WITHOUT), ("with", WITH)))
        self.loss_plot = titled_plot("Probe loss", "step", "loss", name="shift_loss",
                                     keys=(("without", WITHOUT), ("with", WITH)))
        self.bands = [self._band(colour) for colour in (WITHOUT, WITH)]
        self.loss_curves = [self.loss_plot.plot([], [], pen=pg.mkPen(c, width=2))
                            for c in (WITHOUT, WITH)]
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
                        for _ in range(4)]
        for cursor, plot in zip(self.cursors, (self.image_plots["without"],
                                               self.image_plots["with"], self.band_plot,
                                               self.loss_plot), strict=True):
            plot.addItem(cursor)
        grid.addWidget(self.band_plot, 1, 0)
        grid.addWidget(self.loss_plot, 1, 1)
        self.step_text = QLabel()
        self.step_text.setWordWrap(True)
        self.step_text.setAlignment(Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.step_text, 1, 2)
        layout.addLayout(grid, 1)
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.slider_label = QLabel("step —")
        row.addWidget(QLabel("timeline"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.slider_label)
        layout.addLayout(row)
        self.redraw: RedrawTimer = RedrawTimer([self._draw_run, self._draw_step], self,
                                               PROGRESS_FRAME_MS)

    def _on_slider_moved(self, _value: int) -> None:
        self.redraw.mark_dirty(1)

    def _band(self, colour: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem, pg.PlotDataItem]:
        fill = pg.mkColor(colour)
        fill.setAlpha(60)
        edge = pg.mkPen(fill, width=1)  # a pen, so that auto-range counts the band
        low = self.band_plot.plot([], [], pen=edge)
        high = self.band_plot.plot([], [], pen=edge)
        self.band_plot.addItem(pg.FillBetweenItem(low, high, brush=fill))
        mean = self.band_plot.plot([], [], pen=pg.mkPen(colour, width=2))
        return low, high, mean

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.kind_box = QComboBox()
        for label, _kind in KINDS:
            self.kind_box.addItem(label)
        self.kind_box.setCurrentText("layer")
        self.block_spin = QSpinBox()
        self.block_spin.setPrefix("block ")
        self.block_spin.setToolTip("Which block's nonlinearity input to record (0 = first; "
                                   "a residual block: what its branch receives)")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(300)
        self.steps_spin.setPrefix("steps ")
        self.every_spin = QSpinBox()
        self.every_spin.setRange(1, 10_000)
        self.every_spin.setValue(5)
        self.every_spin.setPrefix("every ")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(1e-4, 10.0)
        self.lr_spin.setPrefix("lr ")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 100_000)
        self.batch_spin.setPrefix("batch ")
        self.batch_spin.setSpecialValueText("full batch")
        self.run_button = QPushButton("Train both")
        self.run_button.clicked.connect(self._on_run_clicked)
        for widget in (QLabel("norm"), self.kind_box, self.block_spin, self.steps_spin,
                       self.every_spin, self.lr_spin, self.batch_spin, self.run_button):
            row.addWidget(widget)
        row.addStretch(1)
        return row

    def plots(self) -> list[pg.PlotWidget]:
        return [self.image_plots["without"], self.image_plots["with"], self.hist_plot,
                self.band_plot, self.loss_plot]

    def subject_changed(self, subject: Subject) -> None:
        """Fit the block range and the SGD settings to a new subject."""
        blocks = subject.hidden_blocks()
        self.block_spin.setRange(0, max(blocks - 1, 0))
        self.block_spin.setValue(max(blocks - 1, 0) // 2)
        self.lr_spin.setValue(subject.task.lr)
        self.batch_spin.setValue(subject.task.batch_size)

    def config(self) -> ShiftConfig:
        subject = self.subject()
        task = subject.task.model_copy(update={"lr": self.lr_spin.value(),
                                               "batch_size": self.batch_spin.value()})
        return ShiftConfig(network=subject.network,
                           kind=KINDS[self.kind_box.currentIndex()][1],
                           block=self.block_spin.value(), loss=subject.loss, task=task,
                           dtype=subject.dtype, seed=subject.seed,
                           steps=self.steps_spin.value(), every=self.every_spin.value())

    def _on_run_clicked(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        self.stop()
        config = self.config()
        subject = self.subject()
        self.frames, self.record = [], None
        self.running = True
        self.run_button.setText("Stop")
        self.status.setText(f"training both chains of {subject.name} for "
                            f"{config.steps} steps …")
        self._thread = WorkerThread.run(covariate_shift(config, subject.dataset),
                                        self._on_progressed, self._on_finished,
                                        self._on_failed)

    def stop(self) -> None:
        """Stop a run and wait for its thread (what it recorded stays shown)."""
        if self._thread is not None:
            self._thread.stop(self)
            self._thread = None
        if self.running:
            self._on_finished()

    def _on_progressed(self, frames: list[ShiftFrame]) -> None:
        self.frames.extend(frames)
        self.record = ShiftRecord.collect(self.frames)
        at_end = self.slider.value() == self.slider.maximum()
        self.slider.setMaximum(len(self.frames) - 1)
        if at_end:
            self.slider.setValue(self.slider.maximum())
        self.redraw.mark_dirty()

    def _on_finished(self) -> None:
        self.running = False
        self.run_button.setText("Train both")
        if self.record is not None:
            self.status.setText(f"recorded {len(self.record.steps)} steps up to step "
                                f"{int(self.record.steps[-1])}; drag the timeline.")

    def _on_failed(self, message: str) -> None:
        self.running = False
        self.run_button.setText("Train both")
        self.status.setText(f"failed: {message}")

    def _draw_run(self) -> None:
        record = self.record
        if record is None:
            return
        steps, edges = record.steps.astype(float), record.edges
        span = max(float(steps[-1] - steps[0]), 1.0)
        width = span / max(len(steps) - 1, 1)
        for key, trace in (("without", record.without), ("with", record.with_norm)):
            # rows: value bins (bottom up); columns: recorded steps
            self.images[key].setImage(trace.counts.T, autoLevels=True)
            self.images[key].setRect(float(steps[0]) - width / 2, float(edges[0]),
                                     span + width, float(edges[-1] - edges[0]))
        for (low, high, mean), trace in zip(self.bands, (record.without, record.with_norm),
                                            strict=True):
            low.setData(steps, trace.mean - trace.std)
            high.setData(steps, trace.mean + trace.std)
            mean.setData(steps, trace.mean)
        for curve, trace in zip(self.loss_curves, (record.without, record.with_norm),
                                strict=True):
            curve.setData(steps, trace.loss)
        for plot in (self.band_plot, self.loss_plot, *self.image_plots.values()):
            plot.enableAutoRange()
        self._draw_step()

    def _draw_step(self) -> None:
        record = self.record
        if record is None:
            return
        index = min(self.slider.value(), len(record.steps) - 1)
        step = int(record.steps[index])
        self.slider_label.setText(f"step {step}")
        for cursor in self.cursors:
            cursor.setValue(step)
        traces = (record.without, record.with_norm)
        for curve, trace in zip(self.hist_curves, traces, strict=True):
            curve.setData(record.edges, trace.counts[index])
        set_keys(self.hist_plot, f"Histogram at step {step}",
                 (("without", WITHOUT), ("with", WITH)))
        lines = [f"<b>step {step}</b>"]
        for name, trace in (("without norms", record.without), ("with norms", record.with_norm)):
            p15, p50, p85 = trace.percentiles[index]
            lines.append(f"{name}: mean {trace.mean[index]:.3g}, std {trace.std[index]:.3g}, "
                         f"15/50/85% {p15:.3g} / {p50:.3g} / {p85:.3g}, outside the bins "
                         f"{trace.outside[index]:.1%}, probe loss {trace.loss[index]:.4g}")
        self.step_text.setText("<br><br>".join(lines))
