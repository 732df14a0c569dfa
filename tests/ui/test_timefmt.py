"""How due times read on a card."""

from __future__ import annotations

from datetime import datetime, timedelta

from nurturedesk.ui.timefmt import short_due


def test_short_due_reads_naturally() -> None:
    now = datetime(2026, 3, 2, 9, 0)
    assert short_due(now, now) == "due now"
    assert short_due(now - timedelta(hours=3), now) == "due now"
    soon = short_due(now + timedelta(days=2), now)
    assert soon[:3] in {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} and ":" in soon
    later = short_due(now + timedelta(days=40), now)
    assert later.split()[1] in {"Mar", "Apr", "May"} and ":" not in later
