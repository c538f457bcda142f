"""The README's screenshots: the real window at 1280×800 (a laptop), one per page, with
something on each (a deep tanh chain; a spiral trained a little; a GA run).

    .venv/bin/python scripts/readme_screenshots.py docs/

Runs offscreen; the pictures are the window as drawn, without a desktop around it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["CHAINLAB_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "shots.ini")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from gui.norms.subject import SUBJECTS  # noqa: E402
from gui.state import AppState  # noqa: E402


def wait(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def until(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        wait(0.05)


def numbers_lab(window: MainWindow, state: AppState, out: Path) -> None:
    """The seed example trained with bfloat16 weights, and the Numbers lab's pages (the
    lab is its own window: it is grabbed alone, at the size it opens with on a laptop)."""
    window.files.open_path(ROOT / "examples" / "seed_bfloat16.json", ask=False)
    window.show_page("training")
    state.start_training()
    until(lambda: not state.is_training())
    wait(0.5)
    window.grab().save(str(out / "window-training-bfloat16.png"))
    window.show_numbers_lab()
    lab, dock = window.numbers, window.docks["numbers"]
    lab.bits.set_text("0.1")
    lab.accumulation.compute()
    lab.storage.compare_seed_example()
    until(lambda: not lab.accumulation.task.is_running() and not lab.storage.task.is_running())
    for page, name in ((lab.bits, "bits"), (lab.limits, "limits"),
                       (lab.accumulation, "accumulation"), (lab.storage, "low-precision")):
        lab.tabs.setCurrentWidget(page)
        wait(0.5)
        dock.grab().save(str(out / f"numbers-{name}.png"))


def why_it_works(window: MainWindow, state: AppState, out: Path) -> None:
    """Lessons beside a residual chain, the plain/residual twins, and the two labs."""
    lessons = window.lessons
    state.dirty = False  # nothing to ask about: a question would wait for a click
    lessons.select("10_residual_connections")
    lessons.open_current()
    window.full_pass_action.trigger()
    window.show_page("chain")
    window.chain_view.select_layer(2)
    wait(0.5)
    window.grab().save(str(out / "window-residual-lesson.png"))
    window.show_page("gradients")
    panel = window.gradients
    panel.right_tabs.setCurrentWidget(panel.residual_view)
    until(lambda: panel.residual_view.profiles is not None)
    wait(0.5)
    window.grab().save(str(out / "window-plain-vs-residual.png"))
    window.docks["lessons"].hide()
    window.show_lab("activations")
    lab = window.activation_lab
    lab.kind_box.setCurrentText("sigmoid")
    until(lambda: lab.result is not None and lab.result.kind == "sigmoid"
          and not lab.task.is_running())
    wait(0.5)
    window.docks["activations"].grab().save(str(out / "activation-lab.png"))
    window.docks["activations"].hide()
    window.show_lab("norms")
    norms = window.norms_lab
    norms.choose_subject(next(name for name in SUBJECTS if "Xavier" in name))
    wait(1.0)
    until(lambda: not norms.compare.task.is_running())
    pages = (("compare", norms.compare), ("axis", norms.axis))
    for name, page in pages:
        norms.tabs.setCurrentWidget(page)
        wait(0.5)
        window.docks["norms"].grab().save(str(out / f"norms-lab-{name}.png"))
    norms.tabs.setCurrentWidget(norms.shift)
    norms.shift.start()
    until(lambda: not norms.shift.running, timeout=300)
    wait(0.5)
    window.docks["norms"].grab().save(str(out / "norms-lab-shift.png"))
    window.docks["norms"].hide()


def sweep_panel(window: MainWindow, state: AppState, out: Path) -> None:
    """A 3 × 4 sweep of a deep chain's gradient ratio (activation × depth, two seeds)."""
    window.files.open_path(ROOT / "examples" / "deep_tanh.json", ask=False)
    window.show_lab("sweeps")
    panel = window.sweeps
    panel.axis_boxes[0].setCurrentText("activation")
    panel.axis_boxes[1].setCurrentText("depth")
    panel.value_edits[1].setText("5, 10, 20, 30")
    panel.out_edit.setText(tempfile.mkdtemp(prefix="chainlab-sweep-shot-"))
    panel.start()
    until(lambda: panel.job is not None and not panel.job.is_running()
          and panel.run_button.isEnabled(), timeout=300)
    wait(0.5)
    window.docks["sweeps"].grab().save(str(out / "sweeps-panel.png"))
    window.docks["sweeps"].hide()


def grid_comparison(window: MainWindow, state: AppState, out: Path) -> None:
    """Lesson 13: OpenES run live, then the 4-bit vs float tab after Compare for 20000
    forward passes each (the figures in the README's evolution section)."""
    from engine.lessons.lesson import load_lesson

    window.open_lesson(load_lesson(ROOT / "resources" / "lessons" / "13_grid_not_search.json"))
    window.docks["lessons"].hide()
    state.start_evolution()
    until(lambda: not state.strategy.is_running(), timeout=120)
    panel = window.evolution
    panel.tabs.setCurrentWidget(panel.comparison)
    panel.comparison.budget_spin.setValue(20_000)
    panel.comparison.compare_button.click()
    until(lambda: state.slot.running == "", timeout=600)
    wait(0.8)
    window.grab().save(str(out / "evolution-comparison.png"))
    print(panel.comparison.summary.text())


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("Chain Lab")
    state = AppState()
    window = MainWindow(state)
    window.resize(1280, 800)
    window.show()
    window.files.open_path(ROOT / "examples" / "seed.json", ask=False)
    for _ in range(4):
        state.step_forward()
    for _ in range(3):
        state.step_backward()
    window.chain_view.select_layer(0)
    window.show_page("chain")
    wait(0.5)
    window.grab().save(str(out / "window-chain.png"))
    window.files.open_path(ROOT / "examples" / "deep_tanh.json", ask=False)
    window.show_page("gradients")
    window.gradients.pick(29)
    wait(0.5)
    window.grab().save(str(out / "window-gradients.png"))
    window.files.open_path(ROOT / "examples" / "spiral_train.json", ask=False)
    window.show_page("training")
    state.start_training()
    until(lambda: len(state.history) >= 1500)
    state.training.pause()
    wait(0.5)
    window.grab().save(str(out / "window-training.png"))
    window.files.open_path(ROOT / "examples" / "spiral_evolve.json", ask=False)
    window.show_page("evolution")
    state.start_evolution()
    until(lambda: len(state.evolution.history) >= 60)
    state.evolution.pause()
    wait(0.5)
    window.grab().save(str(out / "window-evolution.png"))
    grid_comparison(window, state, out)
    numbers_lab(window, state, out)
    why_it_works(window, state, out)
    sweep_panel(window, state, out)
    state.dirty = False
    window.close()
    print(f"wrote the screenshots to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
