"""The running GUI delivers a release made by another process to dunst; a click opens the lead."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from nurturedesk.core import interactions, leads, release, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.notify import DesktopNotifier
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.main_window import MainWindow
from tests.integration import notification_daemon as daemon
from tests.integration.notification_daemon import NotificationDaemon

private_bus = daemon.private_bus
xvfb_display = daemon.xvfb_display
notification_daemon = daemon.notification_daemon


@pytest.mark.service
def test_release_from_the_command_line_is_notified_and_click_opens_the_lead(
    workspace: Workspace,
    notification_daemon: NotificationDaemon,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scoring.set_rules(workspace, replace(scoring.get_rules(workspace), half_life_days=None))
    lead = leads.add_lead(
        workspace,
        leads.LeadData(
            email="jane@acme.example.com", first_name="Jane", last_name="Doe", company="Acme"
        ),
    )
    for _ in range(3):
        interactions.record(workspace, lead.id, "meeting")  # 90
    bridge = EventBridge(workspace.events)
    window = MainWindow(workspace, bridge)
    qtbot.addWidget(window)
    opened: list[int] = []
    monkeypatch.setattr(window, "edit_lead", opened.append)
    window.scoring.start_notifications(DesktopNotifier())
    window.showMinimized()  # notifications work while the window is minimised
    try:
        # Another process crosses the threshold.
        done = subprocess.run(
            [sys.executable, "-m", "nurturedesk", "lead", "log", lead.email, "call",
             "--workspace", str(workspace.path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "now sales-ready" in done.stdout
        # The app's scheduler tick picks it up (run it now rather than wait 10 s).
        delivered = window.scoring.notifier.deliver_now()  # type: ignore[union-attr]
        assert [n.message for n in delivered] == ["Jane Doe (Acme) is sales-ready, score 110"]
        assert window.scoring.notifier.deliver_now() == []  # type: ignore[union-attr]
        qtbot.waitUntil(lambda: notification_daemon.displayed() == 1, timeout=10_000)
        assert not window.scoring.banner.isVisible()
        notification_daemon.dunstctl("action", "0")  # the user clicks the bubble
        qtbot.waitUntil(lambda: opened == [lead.id], timeout=10_000)
        assert release.recent_notices(workspace)[0].delivered_via == "desktop"
    finally:
        window.scoring.shutdown()
        bridge.detach()
