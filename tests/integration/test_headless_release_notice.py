"""The headless `run` delivers a release made by another process to the desktop, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from nurturedesk.core import leads, release, scoring
from nurturedesk.core.db import Workspace
from tests.integration import notification_daemon as daemon
from tests.integration.notification_daemon import NotificationDaemon

private_bus = daemon.private_bus
xvfb_display = daemon.xvfb_display
notification_daemon = daemon.notification_daemon


def cli(workspace: Workspace, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", *args, "--workspace", str(workspace.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.service
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_headless_run_shows_a_release_logged_from_the_command_line(
    workspace: Workspace, notification_daemon: NotificationDaemon
) -> None:
    scoring.set_rules(workspace, replace(scoring.get_rules(workspace), half_life_days=None))
    lead = leads.add_lead(
        workspace,
        leads.LeadData(
            email="jane@acme.example.com", first_name="Jane", last_name="Doe", company="Acme"
        ),
    )
    runner = cli(workspace, "run")  # DBUS_SESSION_BUS_ADDRESS: the private bus with dunst
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()
        assert "running on" in line, line
        for type_ in ("meeting", "meeting", "meeting", "call"):
            logged = cli(workspace, "lead", "log", lead.email, type_)
            out, err = logged.communicate(timeout=60)
            assert logged.returncode == 0, err
        assert "now sales-ready" in out
        deadline = time.monotonic() + 30  # the notices tick runs every 5 s
        while time.monotonic() < deadline and notification_daemon.displayed() < 1:
            time.sleep(0.2)
        assert notification_daemon.displayed() == 1
        time.sleep(6)  # another tick: nothing more to show
        assert notification_daemon.displayed() == 1
        (notice,) = release.recent_notices(workspace)
        assert notice.delivered_via == "desktop"
        assert notice.message == "Jane Doe (Acme) is sales-ready, score 110"
    finally:
        if runner.poll() is None:
            os.kill(runner.pid, signal.SIGTERM)
        runner.communicate(timeout=30)
