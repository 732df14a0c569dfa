"""Running in the background, as a user sees it: closing without a tray asks, closing with a
tray hides and keeps the sender, pause, start at login, the crash dialog, backup menu items,
and the offer to restore a damaged workspace."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from nurturedesk import autostart
from nurturedesk.app import Application
from nurturedesk.core import backups, leads, sender_lock
from nurturedesk.core.db import open_workspace
from nurturedesk.ui import background, backup_actions, crash_dialog
from tests.damage import scribble_over_a_btree_page


def click_in_next_dialog(text: str, seen: list[str]) -> None:
    """Once a modal dialog is up, record its text and click the button labelled `text`."""

    def attempt(tries: int = 100) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            for button in box.buttons():
                if isinstance(button, QAbstractButton) and button.text().replace("&", "") == text:
                    button.click()
                    return
            raise AssertionError(f"no button {text!r} in {[b.text() for b in box.buttons()]}")
        if tries:
            QTimer.singleShot(20, lambda: attempt(tries - 1))

    QTimer.singleShot(0, attempt)


@pytest.fixture
def app(qtbot: QtBot, tmp_path: Path) -> Iterator[Application]:
    application = Application()
    assert application.open(tmp_path / "w.sqlite")
    yield application
    application.close()
    sender_lock.set_sending_paused(False)


def test_the_open_window_holds_the_sender_lock_and_releases_it(app: Application) -> None:
    holder = sender_lock.current_holder(app.workspace)
    assert holder is not None and (holder.pid, holder.kind) == (os.getpid(), "gui")
    workspace = app.workspace
    app.close()
    assert sender_lock.current_holder(workspace) is None


def test_closing_without_a_tray_asks_and_keeps_running_minimised(
    app: Application, qtbot: QtBot
) -> None:
    assert not background.tray_available()  # offscreen has no tray
    window = app.window
    seen: list[str] = []
    click_in_next_dialog("Keep Running", seen)
    window.close()
    assert "only sent while NurtureDesk runs" in seen[0]
    assert window.isMinimized() and window.isVisible()
    assert app.workspace is not None and sender_lock.held_lock(app.workspace) is not None

    click_in_next_dialog("Quit", seen)
    assert window.close()  # this time the window really closes
    assert not window.isVisible()


def test_closing_with_a_tray_hides_and_says_so_once(
    app: Application, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages: list[str] = []
    monkeypatch.setattr(background, "tray_available", lambda: True)
    monkeypatch.setattr(QSystemTrayIcon, "show", lambda self: None)  # no tray host offscreen
    monkeypatch.setattr(
        QSystemTrayIcon, "showMessage", lambda self, title, *a: messages.append(title)
    )
    assert app.workspace is not None
    path = app.workspace.path
    app.close()
    assert app.open(path)
    tray = app.background.background.tray
    assert tray is not None
    assert "NurtureDesk" in tray.toolTip()
    menu_texts = [a.text().replace("&", "") for a in tray.contextMenu().actions()]
    assert {"Open NurtureDesk", "Pause Sending", "Quit"} <= set(menu_texts)

    app.window.close()
    assert not app.window.isVisible()  # hidden, not gone: mail keeps going
    assert app.workspace is not None and sender_lock.held_lock(app.workspace) is not None
    assert messages == ["NurtureDesk is still running"]
    app.background.show_window()
    assert app.window.isVisible()
    app.window.close()
    assert messages == ["NurtureDesk is still running"]  # said only the first time


def test_pause_sending_stops_the_dispatch_tick(app: Application) -> None:
    assert app.workspace is not None
    assert sender_lock.sending_allowed(app.workspace)
    app.background.background.pause_action.trigger()
    assert not sender_lock.sending_allowed(app.workspace)
    assert "Sending is paused" in app.background.background.status_lines
    app.background.background.pause_action.trigger()
    assert sender_lock.sending_allowed(app.workspace)


def test_start_at_login_writes_and_removes_the_autostart_entry(
    app: Application, isolated_dirs: Path
) -> None:
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "nurturedesk.desktop"
    action = app.background.background.autostart_action
    action.trigger()
    assert action.isChecked()
    text = entry.read_text()
    assert "Exec=" in text and "--background" in text
    assert autostart.is_enabled()
    action.trigger()
    assert not entry.exists()


def test_file_menu_has_backup_and_restore(app: Application) -> None:
    texts = [a.text().replace("&", "") for a in app.window.menu("file").actions()]
    assert "Back Up Workspace…" in texts and "Restore From Backup…" in texts
    assert texts.index("Restore From Backup…") < texts.index("Quit")


def test_restore_from_the_menu_brings_back_the_backup(
    app: Application, qtbot: QtBot, tmp_path: Path
) -> None:
    assert app.workspace is not None and app.workspace.path is not None
    leads.add_lead(app.workspace, leads.LeadData(email="kept@example.com"))
    copy = backups.backup_to(app.workspace, tmp_path / "copy.sqlite").path
    leads.add_lead(app.workspace, leads.LeadData(email="later@example.com"))
    assert backup_actions.restore_and_reopen(app, copy, app.workspace.path)
    cards = leads.list_leads(app.workspace, leads.LeadFilter())
    assert [c.email for c in cards] == ["kept@example.com"]
    assert "previous workspace is kept at" in app.window.statusBar().currentMessage()


def test_damaged_workspace_offers_the_newest_good_backup(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    for i in range(150):
        leads.add_lead(ws, leads.LeadData(email=f"l{i}@example.com", company="x" * 100))
    backups.make_daily_backup(ws)
    ws.close()
    scribble_over_a_btree_page(path)

    seen: list[str] = []
    click_in_next_dialog("Yes", seen)
    application = Application()
    try:
        assert application.open(path)
        assert "Restore the newest good backup" in seen[0]
        assert application.workspace is not None
        assert len(leads.list_leads(application.workspace, leads.LeadFilter())) == 150
    finally:
        application.close()


def test_crash_in_a_worker_thread_shows_the_dialog_with_the_log_path(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(crash_dialog, "_reporter", None)
    reporter = crash_dialog.install()
    monkeypatch.setattr(reporter, "show_dialog", lambda text, path: shown.append((text, path)))
    reporter.crashed.disconnect()
    reporter.crashed.connect(lambda text, path: shown.append((text, path)))

    def boom() -> None:
        raise RuntimeError("a bug with password=letmein123 in it")

    thread = threading.Thread(target=boom)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(shown))
    text, _path = shown[0]
    assert "RuntimeError" in text and "letmein123" not in text


def test_window_opened_while_run_sends_says_who_and_takes_over_after(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from tests.core.test_sender_lock import start_holder

    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    other = start_holder(ws, "run")
    ws.close()
    application = Application()
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "LOCKED"
        assert application.open(path)
        controller = application.background.background
        assert application.workspace is not None
        assert sender_lock.held_lock(application.workspace) is None  # never two senders
        assert not sender_lock.sending_allowed(application.workspace)
        assert controller.status_lines[0].startswith(
            f"Mail is sent by the headless `nurturedesk run` (process {other.pid}"
        )
        assert other.stdin is not None
        other.stdin.close()  # the headless run stops
        assert other.stdout.readline().strip() == "RELEASED"
        other.wait(timeout=10)
        controller.refresh()  # the next status refresh (every 30 s) takes over
        assert sender_lock.held_lock(application.workspace) is not None
        assert not controller.status_lines[0].startswith("Mail is sent by")
    finally:
        application.close()
        if other.poll() is None:
            other.kill()
        other.wait(timeout=10)


def test_a_window_opened_briefly_still_gets_its_daily_backup(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "BACKUP_AT_START_MS", 0)
    path = tmp_path / "w.sqlite"
    application = Application()
    try:
        assert application.open(path)
        qtbot.waitUntil(lambda: bool(backups.list_backups(path)), timeout=10_000)
    finally:
        application.close()
    assert backups.check_backup(backups.list_backups(path)[0].path) is None
