"""The segments dialog: renaming a segment renames it, and deleting one asks first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from nurturedesk.core.segments import list_segments, parse_condition, save_segment
from nurturedesk.ui.main_window import MainWindow
from nurturedesk.ui.segments_panel import SegmentsDialog
from tests.ui.conftest import when_modal


def names(window: MainWindow) -> list[str]:
    return [s.name for s in list_segments(window.workspace)]


def test_save_after_a_rename_renames_and_delete_asks_first(
    qtbot: QtBot, window: MainWindow
) -> None:
    save_segment(window.workspace, "Hot finance", [parse_condition("company ~ bank")])
    dialog = SegmentsDialog(window.workspace, window)
    qtbot.addWidget(dialog)
    assert not dialog.delete_button.isEnabled()  # nothing chosen: nothing to delete
    dialog.list.setCurrentRow(0)
    assert dialog.delete_button.isEnabled()
    dialog.name.setText("Hot finance leads")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert names(window) == ["Hot finance leads"]  # not a copy beside the old one

    def answer(button: QMessageBox.StandardButton) -> None:
        def press(box: QWidget) -> None:
            assert isinstance(box, QMessageBox)
            assert "Hot finance leads" in box.text()
            box.button(button).click()

        when_modal(qtbot, press)

    answer(QMessageBox.StandardButton.Cancel)
    dialog.delete()
    assert names(window) == ["Hot finance leads"]
    answer(QMessageBox.StandardButton.Yes)
    dialog.delete()
    assert names(window) == []
    assert dialog.name.text() == "" and not dialog.delete_button.isEnabled()
