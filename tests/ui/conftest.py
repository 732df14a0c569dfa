"""Fixtures for the Qt tests: a main window on a fresh workspace, and dialog helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from nurturedesk.core.db import Workspace
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.stages import find_stage
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, workspace: Workspace) -> Iterator[MainWindow]:
    bridge = EventBridge(workspace.events)
    win = MainWindow(workspace, bridge)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()  # shortcuts only reach the active window
    qtbot.waitUntil(win.isActiveWindow)
    yield win
    bridge.detach()


def add(workspace: Workspace, email: str, stage: str = "New", **fields: object) -> int:
    stage_id = find_stage(workspace, stage).id
    return add_lead(workspace, LeadData(email=email, **fields), stage_id).id  # type: ignore[arg-type]


def when_modal(qtbot: QtBot, handle: Callable[[QWidget], None]) -> Callable[[], None]:
    """Deal with the next modal dialog (message box, editor) as soon as it is shown."""

    deadline = [500]  # about 10 s: a poll must never outlive its test and catch a later dialog

    def stop() -> None:
        deadline[0] = 0

    def poll() -> None:
        if deadline[0] <= 0:
            return
        dialog = QApplication.activeModalWidget()
        if dialog is None or not dialog.isVisible():
            deadline[0] -= 1
            if deadline[0] > 0:
                QTimer.singleShot(20, poll)
            return
        deadline[0] = 0
        handle(dialog)

    QTimer.singleShot(0, poll)
    return stop  # for a test that expects no dialog: call it before the test ends
