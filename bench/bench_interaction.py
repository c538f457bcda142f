"""Live interaction, measured in the real window (offscreen): how long from an input
change until every visible panel has repainted, how long a chain takes to rebuild, and
how fast training runs with every panel live against headless training.

    .venv/bin/python bench/bench_interaction.py [--json] [--changes 30]

Slider: the Gradient flow page is shown (the heaviest page) with the inputs dock; each
change moves the first input slider, and the time runs from the change until the
slider, the chain's pass and every plot of the page have been painted (paint events,
waited for in the event loop). Depth d means d × (linear 32 → tanh) + linear;
batch 1 is the slider sample, batch 200 the dataset's first 200 samples. Rebuild: from
"Build chain" to every visible panel painted with the new chain. Training: steps per
second of the small spiral classifier with the Training page live, against the same
session's headless steps per second, in this run.

Targets (issue 10): slider p50 ≤ 16 ms at depth 50, ≤ 33 ms at depth 200; rebuild of
depth 200 ≤ 200 ms; training live ≥ 0.8× headless. With --json the last line is
{"slider_ms": {...}, "slider_batch200_ms": {...}, "rebuild_ms": {...},
"train_live_ratio": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CHAINLAB_SETTINGS", str(Path(tempfile.mkdtemp()) / "bench.ini"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from engine.core.specs import InitSpec, repeated_block
from engine.data.experiment import build_experiment, make_trainer
from engine.data.session import GeneratedData
from engine.data.tasks import TrainTask
from gui.main_window import MainWindow
from gui.presets import PRESETS
from gui.state import AppState

DEPTHS = (10, 50, 200)
TARGETS = {"50": 16.0, "200": 33.0}


class PaintWatch(QObject):
    """Records the last paint time of each watched widget."""

    def __init__(self, widgets: list[QWidget]) -> None:
        super().__init__()
        self.painted: dict[int, float] = {}
        self.widgets = widgets
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted[id(watched)] = time.perf_counter()
        return False

    def all_after(self, start: float) -> float | None:
        """When every widget had painted since ``start``; or, if one whose picture did
        not change never repaints, the last paint once 300 ms have passed without one."""
        times = [self.painted.get(id(w), -1.0) for w in self.widgets]
        if min(times) >= start:
            return max(times)
        last = max(times)
        if last >= start and time.perf_counter() - last > 0.3:
            return last
        return None

    def remove(self) -> None:
        for widget in self.widgets:
            widget.removeEventFilter(self)


def pump_until(app: QApplication, done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the window never finished repainting")


def run_event_loop(seconds: float) -> None:
    """Run Qt's event loop for ``seconds``, waiting in C++ like the app (a Python loop of
    processEvents would hold the interpreter lock the worker needs)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def settle(app: QApplication, seconds: float = 0.06) -> None:
    """Let earlier work finish (and the slider's throttle pass) before the next change."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def visible_viewports(window: MainWindow) -> list[QWidget]:
    """What a person sees change: the inputs, and every plot of the gradient page."""
    return [plot.viewport() for plot in window.gradients.plots()]


def slider_latency(app: QApplication, window: MainWindow, changes: int,
                   batch: int) -> dict[str, float]:
    """Batch 1: the first input slider moves. Batch 200: the stepping batch alternates
    between the data's first 200 and 199 samples (the sliders set one sample)."""
    slider = window.inputs.sliders[0].slider
    watch = PaintWatch(visible_viewports(window))
    samples = []
    for change in range(changes + 3):  # the first three warm up
        settle(app)
        start = time.perf_counter()
        if batch == 1:
            slider.setValue(400 + (change % 2) * 200 + change)
        else:
            window.inputs.batch_spin.setValue(batch - change % 2)
        pump_until(app, lambda start=start: watch.all_after(start) is not None)
        end = watch.all_after(start)
        assert end is not None
        if change >= 3:
            samples.append((end - start) * 1e3)
    watch.remove()
    return {"p50": round(statistics.median(samples), 2),
            "p95": round(float(np.percentile(samples, 95)), 2)}


def build(window: MainWindow, depth: int) -> None:
    window.state.set_network(repeated_block(2, 32, depth, "tanh", init=InitSpec()))


def rebuild_latency(app: QApplication, window: MainWindow, depth: int) -> float:
    build(window, 3)
    settle(app)
    watch = PaintWatch([window.builder.layer_list.viewport(), *visible_viewports(window)])
    builder = window.builder
    builder.repeat_depth.setValue(depth)
    start = time.perf_counter()
    builder.repeat_button.click()
    pump_until(app, lambda: watch.all_after(start) is not None and len(
        window.state.chain.layers) == 2 * depth + 1)
    end = watch.all_after(start)
    watch.remove()
    assert end is not None
    return round((end - start) * 1e3, 1)


def train_ratio(app: QApplication, window: MainWindow, seconds: float) -> dict[str, float]:
    state = window.state
    state.set_data(GeneratedData(dataset="spiral", samples=256))
    state.set_network(PRESETS["Small classifier (16-16, tanh)"](2))
    state.set_loss("bce_with_logits")
    state.set_train_settings(lr=0.05, momentum=0.9, batch_size=32, steps=10_000_000)
    window.show_page("training")
    session = state.current_session().model_copy(update={"task": state.training.settings})
    experiment = build_experiment(session)
    assert isinstance(session.task, TrainTask)
    trainer = make_trainer(experiment.chain, experiment.inputs, experiment.targets,
                           session.loss, session.task, session.seed)
    start, steps = time.perf_counter(), 0
    for _ in trainer.steps():
        steps += 1
        if time.perf_counter() - start > seconds:
            break
    headless = steps / (time.perf_counter() - start)
    state.start_training()
    pump_until(app, lambda: len(state.history) > 20)
    first, t0 = len(state.history), time.perf_counter()
    run_event_loop(seconds)  # as app.exec() does: idle waits hold no interpreter lock
    live = (len(state.history) - first) / (time.perf_counter() - t0)
    state.stop_everything()
    return {"headless_steps_per_s": round(headless, 1), "live_steps_per_s": round(live, 1),
            "ratio": round(live / headless, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    state = AppState()
    window = MainWindow(state)
    window.resize(1600, 1000)
    window.show()
    window.show_page("gradients")
    state.set_data(GeneratedData(dataset="spiral", samples=256))
    results: dict[str, object] = {"slider_ms": {}, "slider_batch200_ms": {},
                                  "rebuild_ms": {}}
    for depth in DEPTHS:
        build(window, depth)
        for key, batch in (("slider_ms", 1), ("slider_batch200_ms", 200)):
            if batch > 1:
                window.inputs.dataset_radio.setChecked(True)
            figures = slider_latency(app, window, args.changes, batch)
            results[key][str(depth)] = figures  # type: ignore[index]
            target = TARGETS.get(str(depth))
            verdict = "" if target is None or batch > 1 else (
                f"  target p50 ≤ {target:.0f} ms: "
                f"{'meets' if figures['p50'] <= target else 'MISSES'}")
            print(f"slider, depth {depth:>3}, batch {batch:>3}: p50 {figures['p50']:7.2f} ms, "
                  f"p95 {figures['p95']:7.2f} ms{verdict}", flush=True)
    window.inputs.sample_radio.setChecked(True)
    for depth in (50, 200):
        figure = rebuild_latency(app, window, depth)
        results["rebuild_ms"][str(depth)] = figure  # type: ignore[index]
        verdict = f"  target ≤ 200 ms: {'meets' if figure <= 200 else 'MISSES'}" \
            if depth == 200 else ""
        print(f"rebuild depth {depth:>3}: {figure:7.1f} ms{verdict}", flush=True)
    training = train_ratio(app, window, 3.0)
    results["train_live_ratio"] = training["ratio"]
    results["training"] = training
    print(f"training: headless {training['headless_steps_per_s']} steps/s, live "
          f"{training['live_steps_per_s']} steps/s, ratio {training['ratio']}  target ≥ 0.8: "
          f"{'meets' if training['ratio'] >= 0.8 else 'MISSES'}", flush=True)
    state.dirty = False
    window.close()
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
