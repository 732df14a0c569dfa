"""Dragging a card with the real mouse: X pointer events from xdotool on the test's Xvfb,
so Qt runs a real QDrag (press, moves past the drag distance, release), as a user does."""

from __future__ import annotations

import shutil
import subprocess

from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

from nurturedesk.core import leads
from nurturedesk.core.db import Workspace
from nurturedesk.core.stages import find_stage
from nurturedesk.ui.board.view import StageColumn
from nurturedesk.ui.main_window import MainWindow
from tests.conftest import on_xvfb, require_service
from tests.ui.conftest import add


def drag(start: QPoint, end: QPoint) -> subprocess.Popen[bytes]:
    """Press at start, move in steps (past QApplication.startDragDistance), release at end."""
    steps = []
    for i in range(1, 9):
        x = start.x() + (end.x() - start.x()) * i // 8
        y = start.y() + (end.y() - start.y()) * i // 8
        steps += ["mousemove", str(x), str(y), "sleep", "0.05"]
    command = [
        "xdotool",
        "mousemove", str(start.x()), str(start.y()), "sleep", "0.2",
        "mousedown", "1", "sleep", "0.1",
        "mousemove", str(start.x() + 12), str(start.y() + 12), "sleep", "0.1",
        *steps,
        "sleep", "0.3", "mouseup", "1",
    ]  # fmt: skip
    return subprocess.Popen(command)


def test_drag_a_card_to_another_column_with_the_mouse(
    qtbot: QtBot, window: MainWindow, workspace: Workspace
) -> None:
    require_service(on_xvfb() and shutil.which("xdotool") is not None, "Xvfb with xdotool")
    moving = add(workspace, "mover@example.com", "Nurturing", first_name="Mover")
    add(workspace, "stays@example.com", "Nurturing", first_name="Stays")
    first = add(workspace, "first@example.com", "Sales-ready", first_name="First")
    second = add(workspace, "second@example.com", "Sales-ready", first_name="Second")
    window.board.flush_pending()

    def column(name: str) -> StageColumn:
        found = window.board.column_for(find_stage(workspace, name).id)
        assert found is not None
        return found

    source = window.board.column_for(find_stage(workspace, "Nurturing").id)
    target = window.board.column_for(find_stage(workspace, "Sales-ready").id)
    assert source is not None and target is not None

    card = source.view.visualRect(source.model.index(0))
    start = source.view.viewport().mapToGlobal(card.center())
    # Between the two cards of the target column: the upper part of the second card.
    second_rect = target.view.visualRect(target.model.index(1))
    end = target.view.viewport().mapToGlobal(
        QPoint(second_rect.center().x(), second_rect.top() + 6)
    )
    mouse = drag(start, end)
    try:
        qtbot.waitUntil(
            lambda: leads.get_lead(workspace, moving).stage_name == "Sales-ready", timeout=15_000
        )
    finally:
        mouse.wait(timeout=15)
    sales_ready = find_stage(workspace, "Sales-ready").id
    assert [lead.id for lead in leads.list_leads(workspace, stage_id=sales_ready)] == [
        first,
        moving,
        second,
    ]
    # Columns are looked up again from here: the window's poll for commits from elsewhere
    # (every couple of seconds) may rebuild the board after the drop, with new widgets.
    qtbot.waitUntil(lambda: column("Sales-ready").count.text() == "3")
    assert column("Nurturing").count.text() == "1"
    window.undo_stack.undo()
    assert leads.get_lead(workspace, moving).stage_name == "Nurturing"
    window.board.flush_pending()
    model = column("Nurturing").model
    assert [model.card(r).name for r in range(model.rowCount())] == ["Mover", "Stays"]
