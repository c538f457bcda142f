"""The Lessons dock as a person uses it: open it from Help (F2), pick a lesson, open it
(its session loads and its page shows, the text stays), check its claims."""

from __future__ import annotations

from PySide6.QtCore import Qt


def open_lessons(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F2)
    dock = window.docks["lessons"]
    qtbot.waitUntil(dock.isVisible, timeout=5_000)
    return window.lessons


def pick(qtbot, panel, title_part: str) -> None:
    """Open the lesson picker and click the lesson's entry, as a person does."""
    picker = panel.picker
    for row in range(picker.count()):
        if title_part in picker.itemText(row):
            picker.showPopup()
            view = picker.view()
            qtbot.waitUntil(view.isVisible, timeout=5_000)
            index = view.model().index(row, 0)
            view.scrollTo(index)
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                             pos=view.visualRect(index).center())
            qtbot.waitUntil(lambda popup=view: not popup.isVisible(), timeout=5_000)
            assert picker.currentIndex() == row
            return
    raise LookupError(title_part)


def test_opening_a_lesson_loads_its_session_and_page(qtbot, window) -> None:
    panel = open_lessons(qtbot, window)
    assert panel.picker.count() >= 13
    pick(qtbot, panel, "Vanishing gradients")
    assert "0.25" in panel.text.toPlainText()
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    state = window.state
    assert len(state.chain.layers) == 61  # 30 × (linear, sigmoid) + the output layer
    assert {layer.kind for layer in state.chain.layers if layer.type == "activation"} == {
        "sigmoid"}
    assert window.pages.currentWidget() is window.gradients
    assert window.docks["lessons"].isVisible()  # the text stays beside the page
    assert "Vanishing gradients" in panel.text.toPlainText()


def test_a_numbers_lesson_opens_the_numbers_lab(qtbot, window) -> None:
    panel = open_lessons(qtbot, window)
    pick(qtbot, panel, "not a hash")
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.docks["numbers"].isVisible, timeout=5_000)


def test_checking_a_lessons_claims_shows_the_engines_numbers(qtbot, window) -> None:
    panel = open_lessons(qtbot, window)
    pick(qtbot, panel, "seed example")
    with qtbot.waitSignal(panel.task.done, timeout=60_000):
        qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
    assert panel.status.text() == "4 of 4 claims hold in the engine"
    text = panel.text.toPlainText()
    assert text.count("✓") == 4
    assert "engine: 0.997283" in text


def test_on_a_laptop_screen_the_text_gets_the_dock_and_checking_shows_the_claims(
        qtbot, window) -> None:
    window.showNormal()
    window.resize(1280, 800)
    panel = open_lessons(qtbot, window)
    pick(qtbot, panel, "seed example")
    qtbot.waitUntil(lambda: panel.text.height() > 0, timeout=5_000)
    # the picker and buttons take a line each; the lesson's text has the rest
    assert panel.text.height() >= 0.6 * panel.height()
    bar = panel.text.verticalScrollBar()
    assert bar.maximum() > 0
    assert bar.value() == 0  # the lesson opens at its top
    with qtbot.waitSignal(panel.task.done, timeout=60_000):
        qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
    # scrolled to the checked claims, which are what the person asked for
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=5_000)
    claims = panel.text.document().find("What this lesson claims")
    top = panel.text.document().documentLayout().blockBoundingRect(claims.block()).top()
    assert bar.value() <= top < bar.value() + panel.text.viewport().height()
