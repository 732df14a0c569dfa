"""Nurture mail and scoring/release (issue 4): a released lead leaves its sequences and its
queued nurture mail is cancelled; what the outbox did shows on the lead's timeline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from nurturedesk.core import interactions, outbox, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import configure_file_transport
from nurturedesk.core.sequences import enroll, list_enrollments, save_sequence
from nurturedesk.core.settings import set_setting
from nurturedesk.core.templates import save_template


def setup(ws: Workspace, tmp_path: Path) -> int:
    configure_file_transport(ws, tmp_path / "eml", "Me <me@example.com>")
    set_setting(ws, "mail_timezone", "UTC")
    scoring.set_rules(ws, replace(scoring.get_rules(ws), half_life_days=None))
    t = save_template(ws, "T", "Hi", "Body")
    return save_sequence(
        ws, "Track", [(t.id, 0), (t.id, 7)], window_days=range(7), window_hours=(0, 24)
    ).id


def test_release_to_sales_ends_sequences_and_cancels_queued_nurture_mail(
    workspace: Workspace, tmp_path: Path
) -> None:
    seq = setup(workspace, tmp_path)
    lead = add_lead(workspace, LeadData(email="hot@example.org", first_name="Hot"))
    enroll(workspace, [lead.id], seq)
    send_due(workspace, limit=0)  # step 1 queued, not sent yet
    for kind in ("meeting", "meeting", "meeting", "call"):
        interactions.record(workspace, lead.id, kind)  # crosses the threshold: released
    [enr] = list_enrollments(workspace, lead_id=lead.id)
    assert (enr.state, enr.stopped_reason) == ("stopped", "became sales-ready")
    assert [r.state for r in outbox.list_outbox(workspace)] == ["cancelled"]
    assert send_due(workspace).delivery.sent == []


def test_sent_mail_is_on_the_leads_timeline(workspace: Workspace, tmp_path: Path) -> None:
    seq = setup(workspace, tmp_path)
    lead = add_lead(workspace, LeadData(email="t@example.org"))
    enroll(workspace, [lead.id], seq)
    assert len(send_due(workspace).delivery.sent) == 1
    kinds = [i.type for i in interactions.timeline(workspace, lead.id)]
    assert kinds == ["email_sent"]
