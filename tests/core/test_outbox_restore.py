"""Restoring an older backup never sends again what went out after the backup was taken."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nurturedesk.core import backups
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, backup_sqlite, open_workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import configure_file_transport
from nurturedesk.core.outbox import list_outbox
from nurturedesk.core.sequences import enroll, list_enrollments, save_sequence
from nurturedesk.core.settings import set_setting
from nurturedesk.core.templates import save_template


def mailing_workspace(tmp_path: Path, delays: list[int]) -> tuple[Workspace, FakeClock, int]:
    """A workspace that writes its mail to tmp_path/eml, with a sequence of one template
    sent at the given delays (days); returns it, its clock and the sequence id."""
    clock = FakeClock(datetime(2026, 3, 2, 10, 0))
    ws = open_workspace(tmp_path / "w.sqlite", clock=clock)
    configure_file_transport(ws, tmp_path / "eml", "Me <me@example.com>")
    set_setting(ws, "mail_timezone", "UTC")
    t = save_template(ws, "T", "Step", "Body")
    seq = save_sequence(
        ws, "Steps", [(t.id, d) for d in delays], window_days=range(7), window_hours=(0, 24)
    )
    return ws, clock, seq.id


def test_restore_keeps_what_was_sent_after_the_backup(tmp_path: Path) -> None:
    ws, clock, seq_id = mailing_workspace(tmp_path, [0, 7, 7])
    path, eml = tmp_path / "w.sqlite", tmp_path / "eml"
    lead = add_lead(ws, LeadData(email="r@example.org"))
    enroll(ws, [lead.id], seq_id)
    send_due(ws, limit=0)  # step 1 queued ...
    backup = tmp_path / "backup.sqlite"
    backup_sqlite(path, backup)  # ... when the backup is taken
    send_due(ws)  # step 1 sent
    clock.advance(days=7)
    send_due(ws)  # step 2 sent (not in the backup at all)
    assert len(list(eml.glob("*.eml"))) == 2
    ws.close()

    result = backups.restore_from(backup, path, now=clock.now())
    assert result.previous_kept_at is not None

    ws = open_workspace(path, clock=clock)
    try:
        states = sorted(r.state for r in list_outbox(ws))
        assert states == ["sent", "sent"]  # step 1 put back as sent, step 2 brought back
        send_due(ws)
        assert len(list(eml.glob("*.eml"))) == 2  # nothing went out twice
        [enr] = list_enrollments(ws, lead_id=lead.id)
        assert enr.next_step == 2  # the third step is next, due 7 days after the second
        clock.advance(days=7)
        send_due(ws)
        assert len(list(eml.glob("*.eml"))) == 3
    finally:
        ws.close()


def test_restore_over_an_unreadable_workspace_holds_queued_mail(tmp_path: Path) -> None:
    ws, clock, seq_id = mailing_workspace(tmp_path, [0])
    path, eml = tmp_path / "w.sqlite", tmp_path / "eml"
    lead = add_lead(ws, LeadData(email="r@example.org"))
    enroll(ws, [lead.id], seq_id)
    send_due(ws, limit=0)  # queued ...
    backup = tmp_path / "backup.sqlite"
    backup_sqlite(path, backup)  # ... when the backup is taken
    send_due(ws)  # then sent
    ws.close()
    assert len(list(eml.glob("*.eml"))) == 1
    # The schema page of the workspace is destroyed: nothing in it can be read any more.
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff" * 2000)

    result = backups.restore_from(backup, path, now=clock.now())
    assert result.held_mail == 1  # and the user is told, in these words
    assert "1 queued message(s) are on hold" in result.held_mail_advice()

    ws = open_workspace(path, clock=clock)
    try:
        [row] = list_outbox(ws)
        assert row.state == "uncertain"  # not sent blindly a second time
        assert "could not be read" in row.last_error
        send_due(ws)
        assert len(list(eml.glob("*.eml"))) == 1
    finally:
        ws.close()
