"""The labs' panels are built when their docks are first shown, not at start: each way
of opening a lab (its shortcut, the View menu's toggle, "Show bits", a lesson, a layout
restored from the settings) builds it once, and the built lab works."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.main_window import LABS, MainWindow
from gui.state import AppState
from tests.gui.test_lessons_panel import open_lessons, pick
from tests.gui.test_numbers_lab import exact_decimal, right_click, type_number

SHORTCUTS = {"numbers": Qt.Key.Key_5, "activations": Qt.Key.Key_6, "norms": Qt.Key.Key_7,
             "sweeps": Qt.Key.Key_8}


def built_labs(window: MainWindow) -> set[str]:
    return {name for name, dock in window.labs.items() if dock.panel is not None}


def press_shortcut(qtbot, window: MainWindow, name: str) -> None:
    qtbot.keyClick(window, SHORTCUTS[name], Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.docks[name].isVisible, timeout=5_000)


def test_no_lab_is_built_at_start(window) -> None:
    assert built_labs(window) == set()
    for name in LABS:
        dock = window.docks[name]
        assert dock.isHidden()
        assert dock.widget() is None
    assert window.numbers is None
    assert window.sweeps is None
    assert window.all_plots()  # the pages' plots are there to export, no lab's


def works(qtbot, window: MainWindow, name: str) -> None:
    """A person's first use of each lab, and what it shows."""
    if name == "numbers":
        bits = window.numbers.bits
        type_number(qtbot, bits, "0.1")
        assert bits.rows["float32"].bits == struct.unpack(">I", struct.pack(">f", 0.1))[0]
    elif name == "activations":  # it computes its curves when first shown
        qtbot.waitUntil(lambda: window.activation_lab.result is not None, timeout=60_000)
    elif name == "norms":
        qtbot.waitUntil(lambda: window.norms_lab.compare.result is not None, timeout=60_000)
    else:
        panel = window.sweeps
        panel.axis_boxes[0].setCurrentText("task.nonsense")
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        assert "task.nonsense" in panel.status.text()


@pytest.mark.parametrize("name", LABS)
def test_opening_a_lab_builds_it_once_and_it_works(qtbot, window, name: str) -> None:
    dock = window.labs[name]
    built: list[object] = []
    dock.panel_built.connect(built.append)
    press_shortcut(qtbot, window, name)
    assert built_labs(window) == {name}  # the others stay unbuilt
    panel = dock.panel
    assert built == [panel]
    assert dock.widget() is panel
    works(qtbot, window, name)
    dock.toggleViewAction().trigger()  # closed from the View menu …
    assert dock.isHidden()
    dock.toggleViewAction().trigger()  # … and opened again: the same panel
    qtbot.waitUntil(dock.isVisible, timeout=5_000)
    press_shortcut(qtbot, window, name)
    assert dock.panel is panel
    assert built == [panel]
    exported = list(window.all_plots().values())
    assert all(plot in exported for plot in panel.plots() if hasattr(plot, "export_name"))


def test_show_bits_builds_the_numbers_lab_on_the_value(qtbot, window) -> None:
    assert window.numbers is None
    window.full_pass_action.trigger()  # the seed example, float64
    chain = window.chain_view
    chain.redraw()
    rect = chain.item.node_rect(0)
    where = chain.view.mapFromScene(chain.item.mapToScene(rect.center()))
    right_click(chain.view.viewport(), where, "weight[0, 0]")
    qtbot.waitUntil(window.docks["numbers"].isVisible, timeout=5_000)
    lab = window.numbers
    assert lab is not None
    assert lab.tabs.currentWidget() is lab.bits
    assert lab.bits.selectors["float64"].isChecked()
    assert lab.bits.stored_labels["float64"].toolTip() == exact_decimal(0.3)
    assert "layer 0 weight[0, 0]" in lab.bits.source_label.text()
    # a second value lands in the lab already built
    window.state.inspect_number(0.1, "float32", "by hand")
    assert window.numbers is lab
    assert lab.bits.rows["float32"].bits == struct.unpack(">I", struct.pack(">f", 0.1))[0]
    assert "by hand" in lab.bits.source_label.text()


def test_a_lesson_opens_its_lab_page_built(qtbot, window) -> None:
    panel = open_lessons(qtbot, window)
    pick(qtbot, panel, "not a hash")  # a lesson whose page is the Numbers lab
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.docks["numbers"].isVisible, timeout=5_000)
    assert built_labs(window) == {"numbers"}
    works(qtbot, window, "numbers")


def test_a_lab_open_at_quit_is_built_again_at_the_next_start(qtbot, window,
                                                            settings_file: Path) -> None:
    press_shortcut(qtbot, window, "norms")
    window.close()  # saves the layout in the settings
    state = AppState()
    second = MainWindow(state)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    qtbot.waitUntil(second.docks["norms"].isVisible, timeout=5_000)
    assert built_labs(second) == {"norms"}
    works(qtbot, second, "norms")
    second.stop_background_work()
    state.dirty = False
    second.close()


def test_closing_stops_the_labs_that_were_built(qtbot, window, monkeypatch) -> None:
    press_shortcut(qtbot, window, "numbers")
    press_shortcut(qtbot, window, "sweeps")
    stopped: list[str] = []
    monkeypatch.setattr(window.numbers, "stop", lambda: stopped.append("numbers"))
    monkeypatch.setattr(window.sweeps, "shutdown", lambda: stopped.append("sweeps"))
    window.stop_background_work()  # the unbuilt labs have nothing to stop
    assert stopped == ["numbers", "sweeps"]
    assert built_labs(window) == {"numbers", "sweeps"}  # stopping built nothing


def test_a_lab_that_cannot_be_built_says_why_and_is_tried_again(
        qtbot, window, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    dock = window.docks["norms"]
    real = dock._factory

    def broken():
        raise ImportError("cannot import name 'block_tensors' from 'engine.data.norms_lab' "
                          "in <module>")

    monkeypatch.setattr(dock, "_factory", broken)
    press_shortcut(qtbot, window, "norms")
    assert window.norms_lab is None
    text = dock.widget().text()
    assert "The Norms lab could not be opened" in text
    assert "ImportError: cannot import name 'block_tensors'" in text
    assert "in &lt;module&gt;" in text  # escaped: shown, not read as a tag
    assert "block_tensors" in capsys.readouterr().err  # the traceback, for a bug report
    dock.hide()
    monkeypatch.setattr(dock, "_factory", real)
    press_shortcut(qtbot, window, "norms")  # shown again: built this time
    assert window.norms_lab is not None
    assert dock.widget() is window.norms_lab
