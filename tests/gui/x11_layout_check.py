"""Run by test_app_x11 in a real X server: open the real window on the screen it is given
(1280×800 in the test), show each page, and report every key control that is not fully
on screen, as one JSON object on stdout. With a folder argument it also saves a PNG of
each page there (the README's screenshots).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python tests/gui/x11_layout_check.py [SESSION] [DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MIN_PLOT = (180, 120)  # a plot smaller than this cannot show its axes and data


def fully_visible(widget: QWidget) -> bool:
    """Shown, and not clipped by any enclosing widget (a scroll area, a splitter, the
    window): its whole rectangle survives intersecting every ancestor's."""
    if not widget.isVisible():
        return False
    rect = QRect(QPoint(0, 0), widget.size())
    current: QWidget | None = widget
    while current is not None and current.parentWidget() is not None:
        parent = current.parentWidget()
        assert parent is not None
        rect = QRect(current.mapToParent(rect.topLeft()), rect.size()).intersected(
            QRect(QPoint(0, 0), parent.size())) if not rect.isEmpty() else rect
        current = parent
    return rect.size() == widget.size()


def in_scroll_area(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def main() -> int:
    app = QApplication([sys.argv[0]])
    from gui.app import build_window

    session = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else None
    shots = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    window = build_window(session, interactive=False)
    screen = app.primaryScreen().availableGeometry()
    window.setGeometry(screen)
    window.show()
    for _ in range(20):
        app.processEvents()
    problems: list[str] = []
    report = {"screen": [screen.width(), screen.height()],
              "window": [window.width(), window.height()], "problems": problems}
    buttons = {
        "training": ["run_button", "step_button", "reset_button", "status"],
        "evolution": ["start_button", "continue_button", "pause_button", "step_button",
                      "stop_button", "reset_button", "use_best_button", "progress"],
        "gradients": ["summary", "layer_spin"],
        "chain": ["phase_label", "view", "details"],
    }
    settings = {"training": ["dataset_box", "samples_spin", "loss_box", "lr_spin",
                             "momentum_spin", "decay_spin", "nesterov_check", "batch_spin"],
                "evolution": ["population_spin", "mutation_spin", "generations_spin",
                              "seed_check"]}
    for page in ("chain", "gradients", "training", "evolution"):
        window.show_page(page)
        for _ in range(20):
            app.processEvents()
        panel = {"chain": window.chain_view, "gradients": window.gradients,
                 "training": window.training, "evolution": window.evolution}[page]
        for name in buttons[page]:
            if not fully_visible(getattr(panel, name)):
                problems.append(f"{page}: {name} is not fully on screen")
        for name in settings.get(page, []):
            widget = getattr(panel, name)
            if not (fully_visible(widget) or in_scroll_area(widget)):
                problems.append(f"{page}: {name} cannot be reached")
        plots = panel.plots() if hasattr(panel, "plots") else []
        if page == "evolution":
            plots = plots[:3]  # the Progress tab's; the others are on their own tabs
        for plot in plots:
            if not plot.isVisible():
                continue  # a decision boundary hides itself for data that is not 2-D
            size = plot.size()
            if not fully_visible(plot) or size.width() < MIN_PLOT[0] \
                    or size.height() < MIN_PLOT[1]:
                problems.append(f"{page}: plot {plot.export_name} is "
                                f"{size.width()}×{size.height()} or clipped")
        if shots is not None:
            window.grab().save(str(shots / f"window-{page}.png"))
    for dock, names in (("builder", ["preset_box", "layer_list"]),
                        ("inputs", ["slider_box"])):
        widget = getattr(window, dock)
        for name in names:
            if not fully_visible(getattr(widget, name)):
                problems.append(f"{dock}: {name} is not fully on screen")
    print(json.dumps(report), flush=True)
    window.state.dirty = False
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
