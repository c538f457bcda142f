"""The Numbers lab driven as a person would: typing a number, clicking bits, reading the
limits and the overflow example, computing accumulation curves, and "Show bits" from the
chain view, the weights table and the GA's genome view. Expected values come from
struct, numpy and hand arithmetic, not from the engine."""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu

from tests.gui.conftest import choose


def open_lab(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    dock = window.docks["numbers"]
    qtbot.waitUntil(dock.isVisible, timeout=5_000)
    return window.numbers


def type_number(qtbot, page, text: str) -> None:
    page.value_edit.clear()
    qtbot.keyClicks(page.value_edit, text)
    qtbot.keyClick(page.value_edit, Qt.Key.Key_Return)


def exact_decimal(value: float | Fraction) -> str:
    """Every digit of a binary fraction, by plain long division."""
    fraction = Fraction(value)
    whole, rest = divmod(abs(fraction.numerator), fraction.denominator)
    digits = ""
    while rest:
        rest *= 10
        digits += str(rest // fraction.denominator)
        rest %= fraction.denominator
    return ("-" if value < 0 else "") + str(whole) + (f".{digits}" if digits else "")


def test_typing_a_number_shows_every_format(qtbot, window) -> None:
    lab = open_lab(qtbot, window)
    bits = lab.bits
    type_number(qtbot, bits, "0.1")
    float32 = struct.unpack(">I", struct.pack(">f", 0.1))[0]
    assert bits.rows["float32"].bits == float32  # 0x3dcccccd
    assert bits.rows["float64"].bits == struct.unpack(">Q", struct.pack(">d", 0.1))[0]
    assert bits.rows["float16"].bits == struct.unpack(">H", struct.pack(">e", 0.1))[0]
    stored = exact_decimal(struct.unpack(">f", struct.pack(">f", 0.1))[0])
    assert stored == "0.100000001490116119384765625"
    assert bits.stored_labels["float32"].toolTip() == stored
    error = Fraction(stored) - Fraction("0.1")
    assert bits.error_labels["float32"].toolTip() == exact_decimal(error)
    assert "integers only" in bits.stored_labels["int32"].text()
    as_int32 = struct.unpack(">i", struct.pack(">f", 0.1))[0]
    assert f"as int32 {as_int32}" in bits.same_bits.text()
    assert "bias 127" in bits.details.toPlainText()


def test_clicking_a_bit_flips_it_and_every_row_follows(qtbot, window) -> None:
    bits = open_lab(qtbot, window).bits
    type_number(qtbot, bits, "0.1")
    row = bits.rows["float32"]
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=QPoint(row.cell // 2, 8))  # sign
    value = -struct.unpack(">f", struct.pack(">f", 0.1))[0]
    assert row.bits == struct.unpack(">I", struct.pack(">f", value))[0]
    assert bits.value_edit.text() == exact_decimal(value)
    assert bits.error_labels["float32"].text() == "0"
    # float64 holds every float32 exactly: its row stores the same value
    assert bits.rows["float64"].bits == struct.unpack(">Q", struct.pack(">d", value))[0]
    assert bits.selectors["float32"].isChecked()
    assert "pattern 0xbdcccccd" in bits.source_label.text()


def test_a_64_bit_pattern_wraps_into_two_lines_whose_bits_click_true(qtbot, window) -> None:
    bits = open_lab(qtbot, window).bits
    type_number(qtbot, bits, "0.1")
    row, float32_row = bits.rows["float64"], bits.rows["float32"]
    # as wide as the float32 row, with cells as large, on two lines
    assert row.sizeHint().width() == float32_row.sizeHint().width()
    assert row.sizeHint().height() > float32_row.sizeHint().height()
    assert row.cell == float32_row.cell
    last = row.cell_rect(63).center().toPoint()  # the last cell of the second line
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=last)
    pattern = struct.unpack(">Q", struct.pack(">d", 0.1))[0]
    assert row.bits == pattern ^ 1  # the least significant bit flipped
    first_of_second = row.cell_rect(32).center().toPoint()
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=first_of_second)
    assert row.bits == pattern ^ 1 ^ (1 << 31)


def test_limits_and_claims_are_exact(qtbot, window) -> None:
    limits = open_lab(qtbot, window).limits
    largest = (2 - Fraction(1, 2**23)) * 2**127
    assert limits.cell("max", "float32").toolTip() == str(largest)
    assert limits.cell("max_exact_integer", "float32").text() == "16 777 216"
    assert limits.cell("max", "float8_e4m3fn").text() == "448"
    assert str(largest) in limits.claims.text()
    assert "hash" in limits.claims.text()
    # every format's row on screen: the horizontal scroll bar took the last one's place
    window.numbers.tabs.setCurrentWidget(limits)
    qtbot.waitUntil(limits.table.isVisible, timeout=5_000)
    assert not limits.table.verticalScrollBar().isVisible()


def test_integer_overflow_wraps_as_torch_does(qtbot, window) -> None:
    integers = open_lab(qtbot, window).integers
    text = integers.sum_text.text()  # the default example: int32 2147483647 + 1
    assert "overflow" in text
    assert "-2 147 483 648" in text
    choose(qtbot, integers.sum_format, "int8")
    for edit, value in ((integers.a_edit, "100"), (integers.b_edit, "100")):
        edit.clear()
        qtbot.keyClicks(edit, value)
        qtbot.keyClick(edit, Qt.Key.Key_Return)
    text = integers.sum_text.text()
    assert "<b>-56</b>" in text  # 200 - 256
    assert "127" in text  # saturating
    integers.explore_value.setText("-5")
    integers.show_twos_complement()
    assert integers.explore_rows["int8"].bits == 0b11111011


def test_accumulation_curves_show_float16_stalling(qtbot, window) -> None:
    page = open_lab(qtbot, window).accumulation
    with qtbot.waitSignal(page.task.done, timeout=60_000):
        qtbot.mouseClick(page.compute_button, Qt.MouseButton.LeftButton)
    stall = np.float16(0)
    while np.float16(stall + np.float16(0.1)) != stall:  # numpy rounds every addition
        stall = np.float16(stall + np.float16(0.1))
    plain16 = page.table.item(0, 0).text()
    assert plain16 == repr(float(stall))  # 256.0: it stopped growing there
    curve = page.curves[("float64", "plain")]
    assert len(curve.xData) > 10
    y = curve.yData
    assert np.all((y > 0) | np.isnan(y))  # an exact sum is a gap, never 0 on a log axis
    assert np.nanmax(y) < 1e-9


def right_click(widget, position: QPoint, choose_action: str) -> None:
    """A right click as the platform delivers it (a context-menu event), then a click on
    the menu entry containing ``choose_action`` once the menu is open."""
    chosen: list[str] = []

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, pick)  # not open yet
            return
        action = next(a for a in menu.actions() if choose_action in a.text())
        chosen.append(action.text())
        menu.close()
        action.trigger()

    QTimer.singleShot(0, pick)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, position,
                              widget.mapToGlobal(position))
    QApplication.sendEvent(widget, event)
    assert chosen, "no context menu opened"


def test_show_bits_from_the_chain_view(qtbot, window) -> None:
    window.full_pass_action.trigger()  # the seed example, float64
    chain = window.chain_view
    chain.redraw()
    labels = [label for label, _ in chain.inspectable_values(0)]
    assert labels[:2] == ["output[0, 0]", "dL/d output[0, 0]"]
    assert "weight[0, 0]" in labels
    rect = chain.item.node_rect(0)
    where = chain.view.mapFromScene(chain.item.mapToScene(rect.center()))
    right_click(chain.view.viewport(), where, "weight[0, 0]")
    qtbot.waitUntil(window.docks["numbers"].isVisible, timeout=5_000)
    bits = window.numbers.bits
    assert bits.selectors["float64"].isChecked()
    assert bits.stored_labels["float64"].toolTip() == exact_decimal(0.3)
    assert "layer 0 weight[0, 0]" in bits.source_label.text()


def test_show_bits_from_the_weights_table(qtbot, window) -> None:
    chain = window.chain_view
    chain.select_layer(2)
    table = chain.weights
    assert table.cell_parameter(0, 1) == ("bias", (0,), 0.3)  # the bias column
    cell = table.table.visualItemRect(table.table.item(0, 1)).center()
    with qtbot.waitSignal(window.state.number_inspected):
        right_click(table.table.viewport(), cell, "Show bits of bias[0]")
    assert "layer 2 bias[0]" in window.numbers.bits.source_label.text()
    assert window.numbers.bits.stored_labels["float64"].toolTip() == exact_decimal(0.3)


def test_clicking_a_ga_code_shows_its_bits(qtbot, window) -> None:
    window.training.samples_spin.setValue(32)
    choose(qtbot, window.training.dataset_box, "xor")
    choose(qtbot, window.builder.preset_box, "Small classifier (16-16, tanh)")
    qtbot.mouseClick(window.builder.preset_button, Qt.MouseButton.LeftButton)
    window.show_page("evolution")
    panel, run = window.evolution, window.state.evolution
    panel.population_spin.setValue(20)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not run.is_running() and len(run.history) >= 1, timeout=20_000)
    panel.tabs.setCurrentWidget(panel.genome_view)
    panel.redraw()
    view = panel.genome_view
    code = int(run.history[-1].sample[0, 3])
    scene_point = view.population_plot.vb.mapViewToScene(QPointF(3.5, 0.5))
    with qtbot.waitSignal(window.state.number_inspected):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.mapFromScene(scene_point))
    bits = window.numbers.bits
    assert bits.selectors["ga4"].isChecked()
    assert bits.rows["ga4"].bits == code
    assert f"GA code {code}" in bits.source_label.text()


def test_low_precision_comparison_on_the_seed_example(qtbot, window) -> None:
    page = open_lab(qtbot, window).storage
    page.steps_spin.setValue(20)
    page.repeats_spin.setValue(4)
    with qtbot.waitSignal(page.task.done, timeout=60_000):
        qtbot.mouseClick(page.seed_button, Qt.MouseButton.LeftButton)
    labels = [run.label for run in page.runs]
    assert labels == ["float32 (compute dtype)", "bfloat16, nearest", "bfloat16, stochastic"]
    _x, nearest = page.curves["first"][1].getData()
    assert np.all(nearest == nearest[0])  # the swamped weight never moves
    _x, float32 = page.curves["first"][0].getData()
    assert float32[-1] < float32[0]
    assert "moved by" in page.status.text()


def test_speed_is_measured_and_shown_with_its_device(qtbot, window) -> None:
    page = open_lab(qtbot, window).speed
    with qtbot.waitSignal(page.task.done, timeout=120_000):
        qtbot.mouseClick(page.measure_button, Qt.MouseButton.LeftButton)
    report = page.report
    assert report is not None
    assert report.budget_s == 2.5  # the default budget, not the button's checked=False
    assert page.table.rowCount() == len(report.entries) == 12  # 2 operations × 6 dtypes
    assert {page.table.item(row, 1).text() for row in range(12)} == {
        "int8", "int32", "float16", "bfloat16", "float32", "float64"}
    float32_rows = [row for row in range(12) if page.table.item(row, 1).text() == "float32"]
    assert all(page.table.item(row, 5).text() == "1.00×" for row in float32_rows)
    assert "Measured on cpu" in page.environment.text()
    assert report.torch_version in page.environment.text()


def test_show_bits_of_a_weight_stored_in_bfloat16_opens_bfloat16(qtbot, window) -> None:
    choose(qtbot, window.training.storage_box, "bfloat16")
    window.training.step_button.click()  # the trained chain holds bfloat16 weights
    chain = window.chain_view
    chain.select_layer(0)
    table = chain.weights
    cell = table.table.visualItemRect(table.table.item(0, 0)).center()
    with qtbot.waitSignal(window.state.number_inspected):
        right_click(table.table.viewport(), cell, "Show bits of weight[0, 0]")
    bits = window.numbers.bits
    assert bits.selectors["bfloat16"].isChecked()
    assert bits.error_labels["bfloat16"].text() == "0"  # the value is a bfloat16 exactly
