"""Desktop notifications on a real D-Bus session bus with a real daemon (dunst on Xvfb)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from nurturedesk import notify
from nurturedesk.core import interactions, leads, release, scoring
from nurturedesk.core.db import Workspace
from tests.integration import notification_daemon as daemon
from tests.integration.notification_daemon import NotificationDaemon, PrivateBus

# The fixtures (a private bus, Xvfb, dunst) live in their own module.
private_bus = daemon.private_bus
xvfb_display = daemon.xvfb_display
notification_daemon = daemon.notification_daemon


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def make_sales_ready(ws: Workspace) -> leads.LeadDetail:
    scoring.set_rules(ws, replace(scoring.get_rules(ws), half_life_days=None))
    lead = leads.add_lead(
        ws,
        leads.LeadData(
            email="jane@acme.example.com", first_name="Jane", last_name="Doe", company="Acme"
        ),
    )
    for type_ in ("meeting", "meeting", "call", "meeting"):
        interactions.record(ws, lead.id, type_)
    return lead


@pytest.mark.service
def test_release_notification_reaches_dunst_once(
    workspace: Workspace, notification_daemon: NotificationDaemon
) -> None:
    make_sales_ready(workspace)
    delivered = release.deliver_pending(workspace)  # the headless run's tick does this
    assert [n.message for n in delivered] == ["Jane Doe (Acme) is sales-ready, score 110"]
    assert release.deliver_pending(workspace) == []
    assert wait_for(lambda: notification_daemon.displayed() == 1)
    notification_daemon.dunstctl("close-all")
    assert wait_for(
        lambda: (
            notification_daemon.history_summaries() == ["Jane Doe (Acme) is sales-ready, score 110"]
        )
    )
    (notice,) = release.recent_notices(workspace)
    assert notice.delivered_via == "desktop"


@pytest.mark.service
def test_clicking_the_notification_reports_which_one(
    notification_daemon: NotificationDaemon,
) -> None:
    clicked: list[tuple[int, str]] = []
    done = threading.Event()

    def on_action(notification_id: int, action: str) -> None:
        clicked.append((notification_id, action))
        done.set()

    notifier = notify.DesktopNotifier(on_action=on_action)
    try:
        nid = notifier.notify("Jane Doe (Acme) is sales-ready, score 112", "Grade B")
        assert wait_for(lambda: notification_daemon.displayed() == 1)
        notification_daemon.dunstctl("action", "0")  # what a click on the bubble does
        assert done.wait(10)
        assert clicked == [(nid, notify.DEFAULT_ACTION)]
    finally:
        notifier.close()


@pytest.mark.service
def test_no_daemon_on_the_bus_falls_back_without_crashing(
    workspace: Workspace, private_bus: PrivateBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", private_bus.address)
    notifier = notify.DesktopNotifier(timeout=2)
    assert notifier.available() is False
    with pytest.raises(notify.NotificationUnavailable, match="no notification service"):
        notifier.notify("hello")
    notifier.close()
    make_sales_ready(workspace)
    delivered = release.deliver_pending(workspace)
    assert len(delivered) == 1
    (notice,) = release.recent_notices(workspace)
    assert notice.delivered_via == "log" and notice.delivered_at is not None


def test_no_session_bus_at_all_falls_back(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(notify.NotificationUnavailable, match="no D-Bus session bus"):
        notify.DesktopNotifier().notify("hello")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/nd-bus")
    with pytest.raises(notify.NotificationUnavailable, match="cannot reach"):
        notify.DesktopNotifier().notify("hello")
    make_sales_ready(workspace)
    assert len(release.deliver_pending(workspace)) == 1
    assert release.recent_notices(workspace)[0].delivered_via == "log"
