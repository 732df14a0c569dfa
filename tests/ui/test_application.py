"""The application shell: opening workspaces (good, bad, recent), remembering the window."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from nurturedesk.app import SETTLE_AFTER_MS, Application
from nurturedesk.core import leads
from nurturedesk.core.stages import find_stage, list_stages
from nurturedesk.ui import settings as ui_settings
from nurturedesk.ui.stages_dialog import StagesDialog
from tests.ui.conftest import when_modal


def test_demo_workspace_opens_with_a_lived_in_board(qtbot: QtBot, tmp_path: Path) -> None:
    app = Application()
    try:
        assert app.open(tmp_path / "demo.sqlite", demo=True)
        qtbot.addWidget(app.window)
        counts = [c.model.total for c in app.window.board.columns]
        assert sum(counts) == 300 and min(counts) > 0
        assert app.scheduler is not None and app.scheduler.running
        assert ui_settings.last_workspace() == (tmp_path / "demo.sqlite").resolve()
    finally:
        app.close()


def test_what_starting_made_is_kept_out_of_the_collectors_way(qtbot: QtBot, tmp_path: Path) -> None:
    # A full collection walking every startup object is a ~60 ms pause on a big board,
    # felt on the next keystroke; the app freezes them once the board is on screen.
    app = Application()
    try:
        assert app.open(tmp_path / "demo.sqlite", demo=True)
        qtbot.addWidget(app.window)
        qtbot.waitUntil(lambda: gc.get_freeze_count() > 10_000, timeout=5000)
    finally:
        app.close()
    assert gc.get_freeze_count() == 0  # a closed workspace's window can be collected


def test_a_workspace_closed_at_once_is_not_frozen_afterwards(qtbot: QtBot, tmp_path: Path) -> None:
    app = Application()
    assert app.open(tmp_path / "quick.sqlite")
    app.close()  # before the settle timer fired, and busy for a while after it
    time.sleep((SETTLE_AFTER_MS + 200) / 1000)
    qtbot.wait(200)
    assert gc.get_freeze_count() == 0


def test_a_bad_file_is_refused_and_the_open_workspace_stays(qtbot: QtBot, tmp_path: Path) -> None:
    app = Application()
    try:
        assert app.open(tmp_path / "good.sqlite")
        qtbot.addWidget(app.window)
        window = app.window
        junk = tmp_path / "junk.sqlite"
        junk.write_bytes(b"PK\x03\x04 a zip file, not a workspace")
        seen: list[str] = []

        def dismiss(box: QWidget) -> None:
            seen.append(box.text())  # type: ignore[attr-defined]
            box.button(QMessageBox.StandardButton.Ok).click()  # type: ignore[attr-defined]

        when_modal(qtbot, dismiss)
        assert not app.open(junk)
        assert "not a NurtureDesk workspace" in seen[0]
        assert app.window is window and app.workspace is not None
        assert junk.read_bytes().startswith(b"PK\x03\x04")
    finally:
        app.close()


def test_recent_workspaces_and_window_geometry_are_remembered(qtbot: QtBot, tmp_path: Path) -> None:
    app = Application()
    try:
        app.open(tmp_path / "one.sqlite")
        app.window.resize(1111, 777)
        app.open(tmp_path / "two.sqlite")  # closing the first saves its geometry
        assert ui_settings.recent_workspaces()[:2] == [
            (tmp_path / "two.sqlite").resolve(),
            (tmp_path / "one.sqlite").resolve(),
        ]
        assert (app.window.width(), app.window.height()) == (1111, 777)
        app.window.recent_menu.aboutToShow.emit()
        texts = [a.text() for a in app.window.recent_menu.actions()]
        assert str((tmp_path / "one.sqlite").resolve()) in texts
    finally:
        app.close()


def test_deleting_a_stage_that_holds_leads_asks_where_they_go(qtbot: QtBot, tmp_path: Path) -> None:
    app = Application()
    try:
        app.open(tmp_path / "w.sqlite")
        ws = app.workspace
        assert ws is not None
        lead = leads.add_lead(
            ws, leads.LeadData(email="a@example.com"), find_stage(ws, "Qualifying").id
        )
        dialog = StagesDialog(ws, app.window)
        qtbot.addWidget(dialog)
        row = [s.name for s in list_stages(ws)].index("Qualifying")
        dialog.list.setCurrentRow(row)

        def choose(box: QWidget) -> None:
            assert isinstance(box, QInputDialog)
            assert "holds 1 leads" in box.labelText()
            box.setTextValue("Newsletter")
            box.accept()

        when_modal(qtbot, choose)
        dialog.delete()
        assert "Qualifying" not in [s.name for s in list_stages(ws)]
        assert leads.get_lead(ws, lead.id).stage_name == "Newsletter"
        qtbot.waitUntil(
            lambda: all(c.title.text() != "Qualifying" for c in app.window.board.columns)
        )
    finally:
        app.close()


def test_file_quit_quits_without_asking(qtbot: QtBot, tmp_path: Path) -> None:
    """Closing the window keeps the app sending (tray) or asks; File ▸ Quit just quits."""
    from PySide6.QtWidgets import QApplication

    # Should the question open anyway, answer it so the test fails instead of hanging.
    stop_answering = when_modal(qtbot, lambda box: box.reject())
    app = Application()
    try:
        app.open(tmp_path / "w.sqlite")
        qtbot.addWidget(app.window)
        # Outside a running event loop QApplication.quit() does nothing, so do what it does
        # in the app: after File > Quit, Qt closes every window.
        app.window.quit_action.trigger()
        assert app.window.close()  # without the fix: "Keep sending mail?" opens and blocks here
        assert QApplication.activeModalWidget() is None
        assert not app.window.isVisible()
    finally:
        stop_answering()
        app.close()
