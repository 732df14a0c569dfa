"""Sequences, enrolment rules, send windows, frequency cap, outbox states, file transport."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from nurturedesk.core import credentials, outbox
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.demo import populate_demo
from nurturedesk.core.dispatch import schedule_newsletter, send_due, sending_status
from nurturedesk.core.leads import LeadData, add_lead, move_leads, undo_move
from nurturedesk.core.mailconfig import configure_file_transport, configure_smtp, load_config
from nurturedesk.core.models import OutboxMessage
from nurturedesk.core.sequences import (
    enroll,
    find_sequence,
    list_enrollments,
    next_email,
    next_in_window,
    pause,
    resume,
    save_sequence,
    zone,
)
from nurturedesk.core.settings import set_setting
from nurturedesk.core.stages import find_stage
from nurturedesk.core.templates import find_template, save_template


@pytest.fixture
def mail_ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    configure_file_transport(workspace, tmp_path / "eml", "Alex <alex@example.com>")
    set_setting(workspace, "mail_timezone", "UTC")
    return workspace


def eml_files(tmp_path: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((tmp_path / "eml").glob("*.eml"))
    ]


def track(ws: Workspace, delays: tuple[float, ...] = (0, 7), **kw: object) -> int:
    t = save_template(ws, f"T{len(delays)}{kw}", "Hi {{ lead.first_name }}", "Body")
    kw.setdefault("window_days", range(7))
    kw.setdefault("window_hours", (0, 24))
    return save_sequence(ws, f"Track {delays}{kw}", [(t.id, d) for d in delays], **kw).id  # type: ignore[arg-type]


def lead(ws: Workspace, n: int = 0, **kw: str) -> int:
    return add_lead(ws, LeadData(email=f"l{n}@example.org", first_name=f"L{n}", **kw)).id


def test_send_window_is_in_the_leads_time_zone() -> None:
    # Monday 2026-03-02 06:00 UTC is 15:00 in Tokyo and 01:00 in New York.
    when = datetime(2026, 3, 2, 6, 0)
    days = (0, 1, 2, 3, 4)
    assert next_in_window(when, zone("Asia/Tokyo"), days, 9, 17) == when
    assert next_in_window(when, zone("America/New_York"), days, 9, 17) == datetime(
        2026, 3, 2, 14, 0
    )
    # Friday evening in Paris -> Monday 09:00 Paris (08:00 UTC in winter).
    friday = datetime(2026, 3, 6, 18, 0)
    assert next_in_window(friday, zone("Europe/Paris"), days, 9, 17) == datetime(2026, 3, 9, 8, 0)


def test_step_outside_the_window_waits_for_it(mail_ws: Workspace, clock: FakeClock) -> None:
    clock.set(datetime(2026, 3, 7, 12, 0))  # a Saturday
    seq = track(mail_ws, (0,), window_days=(0, 1, 2, 3, 4), window_hours=(9, 17))
    lid = lead(mail_ws, timezone="Europe/Paris")
    enroll(mail_ws, [lid], seq)
    assert send_due(mail_ws).delivery.sent == []
    assert next_email(mail_ws, lid).due == datetime(2026, 3, 9, 8, 0)  # type: ignore[union-attr]
    clock.set(datetime(2026, 3, 9, 8, 0))
    assert len(send_due(mail_ws).delivery.sent) == 1


def test_frequency_cap_holds_across_sequences(
    mail_ws: Workspace, clock: FakeClock, tmp_path: Path
) -> None:
    a, b = track(mail_ws, (0,)), track(mail_ws, (0, 1))
    lid = lead(mail_ws)
    enroll(mail_ws, [lid], a)
    enroll(mail_ws, [lid], b)
    send_due(mail_ws)
    assert len(eml_files(tmp_path)) == 1  # default cap: one nurture email per 3 days
    clock.advance(days=2)
    send_due(mail_ws)
    assert len(eml_files(tmp_path)) == 1
    clock.advance(days=1, seconds=1)
    send_due(mail_ws)
    assert len(eml_files(tmp_path)) == 2
    clock.advance(days=3, seconds=1)
    send_due(mail_ws)
    assert len(eml_files(tmp_path)) == 3
    assert all(e.state == "completed" for e in list_enrollments(mail_ws, lead_id=lid))


def test_entering_nurturing_enrols_in_the_default_track_and_leaving_ends_it(
    mail_ws: Workspace, clock: FakeClock
) -> None:
    lid = lead(mail_ws)
    assert list_enrollments(mail_ws, lead_id=lid) == []
    nurturing = find_stage(mail_ws, "Nurturing").id
    records = move_leads(mail_ws, [lid], nurturing)
    [enr] = list_enrollments(mail_ws, lead_id=lid)
    assert enr.sequence_name == "Default nurture track" and enr.state == "active"
    assert next_email(mail_ws, lid) is not None
    undo_move(mail_ws, records)  # the user changes their mind
    [enr] = list_enrollments(mail_ws, lead_id=lid)
    assert enr.state == "stopped" and next_email(mail_ws, lid) is None
    clock.advance(minutes=1)
    move_leads(mail_ws, [lid], nurturing)  # and moves it again: a new round
    assert [e.state for e in list_enrollments(mail_ws, lead_id=lid)] == ["active"]


def test_reaching_sales_ready_or_won_stops_the_track(mail_ws: Workspace, clock: FakeClock) -> None:
    seq = track(mail_ws, (0, 1, 1))
    a, b = lead(mail_ws, 1), lead(mail_ws, 2)
    enroll(mail_ws, [a, b], seq)
    send_due(mail_ws)
    move_leads(mail_ws, [a], find_stage(mail_ws, "Sales-ready").id)
    move_leads(mail_ws, [b], find_stage(mail_ws, "Won").id)
    clock.advance(days=5)
    report = send_due(mail_ws)
    assert report.queue.queued == 0 and report.queue.stopped == 2
    reasons = {e.lead_id: e.stopped_reason for e in list_enrollments(mail_ws)}
    assert reasons[a].startswith("became sales-ready") and reasons[b] == "reached Won"


def test_tag_rule_enrols_tagged_leads_once(mail_ws: Workspace) -> None:
    seq = track(mail_ws, (0,), enroll_tag="webinar")
    tagged = add_lead(mail_ws, LeadData(email="t@example.org", tags=("Webinar",))).id
    lead(mail_ws, 9)
    send_due(mail_ws)
    assert [e.lead_id for e in list_enrollments(mail_ws, sequence_id=seq)] == [tagged]


def test_pause_and_resume(mail_ws: Workspace, clock: FakeClock) -> None:
    seq = track(mail_ws, (1,))
    lid = lead(mail_ws)
    enroll(mail_ws, [lid], seq)
    [enr] = list_enrollments(mail_ws, lead_id=lid)
    pause(mail_ws, enr.id)
    clock.advance(days=3)
    assert send_due(mail_ws).queue.queued == 0
    resume(mail_ws, enr.id)
    assert send_due(mail_ws).queue.queued == 1


def test_crash_leftover_sending_row_becomes_uncertain_and_waits_for_the_user(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "crash.sqlite"
    ws = open_workspace(path, clock=clock)
    configure_file_transport(ws, tmp_path / "eml", "Alex <alex@example.com>")
    enroll(ws, [lead(ws)], track(ws, (0,)))
    send_due(ws, limit=0)  # queue only
    with ws.session() as s:
        row = s.query(OutboxMessage).one()
        row.state = "sending"  # as if the process died during DATA
    ws.close()

    ws = open_workspace(path, clock=clock)  # a new start
    report = send_due(ws)
    assert report.recovered == 1 and report.delivery.sent == []
    [row] = outbox.list_outbox(ws)
    assert row.state == "uncertain" and "Sent folder" in row.last_error
    assert sending_status(ws).uncertain == 1
    assert outbox.retry(ws, [row.id]) == 0  # plain retry does not touch it
    assert outbox.mark_sent(ws, [row.id]) == 1
    assert outbox.list_outbox(ws)[0].state == "sent"
    assert not list((tmp_path / "eml").glob("*.eml"))
    ws.close()


def test_resend_and_cancel(mail_ws: Workspace, tmp_path: Path) -> None:
    enroll(mail_ws, [lead(mail_ws, 1), lead(mail_ws, 2)], track(mail_ws, (0,)))
    send_due(mail_ws, limit=0)
    a, b = (r.id for r in outbox.list_outbox(mail_ws))
    outbox.cancel(mail_ws, [a])
    with mail_ws.session() as s:
        s.get(OutboxMessage, b).state = "uncertain"  # type: ignore[union-attr]
    outbox.resend(mail_ws, [b])
    send_due(mail_ws)
    states = {r.id: r.state for r in outbox.list_outbox(mail_ws)}
    assert states == {a: "cancelled", b: "sent"}
    assert len(eml_files(tmp_path)) == 1


def test_dry_run_changes_nothing(mail_ws: Workspace, tmp_path: Path) -> None:
    enroll(mail_ws, [lead(mail_ws)], track(mail_ws, (0,)))
    report = send_due(mail_ws, dry_run=True)
    assert len(report.dry_run) == 1 and "l0@example.org" in report.dry_run[0]
    assert outbox.list_outbox(mail_ws) == []
    assert not (tmp_path / "eml").exists()
    assert len(send_due(mail_ws).delivery.sent) == 1


def test_demo_workspace_shows_the_whole_cycle_with_eml_files(
    workspace: Workspace, clock: FakeClock
) -> None:
    populate_demo(workspace, leads=60)
    cfg = load_config(workspace)
    assert cfg.transport == "file" and cfg.ready
    clock.set(datetime(2026, 3, 2, 12, 0))  # Monday noon in the machine's zone... or close
    set_setting(workspace, "mail_timezone", "UTC")
    report = send_due(workspace)
    sent = report.delivery.sent
    assert sent, report.summary()
    files = list(cfg.file_dir.glob("*.eml"))
    assert len(files) == len(sent)
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["From"].addresses[0].addr_spec == "demo@nurturedesk.example"
    assert msg.get_body(("html",)) is not None
    # Every mail sent is to a lead in Nurturing, once.
    assert len({m.to_address for m in outbox.list_outbox(workspace)}) == len(sent)


def test_newsletter_to_a_stage_is_queued_once_per_run(mail_ws: Workspace, clock: FakeClock) -> None:
    newsletter = find_stage(mail_ws, "Newsletter").id
    for n in range(3):
        add_lead(mail_ws, LeadData(email=f"n{n}@example.org"), newsletter)
    lead(mail_ws, 7)  # elsewhere: not a recipient
    tmpl = find_template(mail_ws, "Newsletter")
    schedule_newsletter(mail_ws, "Monthly", tmpl.id, stage_id=newsletter, recurrence="monthly")
    assert len(send_due(mail_ws).delivery.sent) == 3
    assert send_due(mail_ws).newsletter_rows == 0
    clock.advance(days=31)
    assert send_due(mail_ws).newsletter_rows == 3


def test_missing_keyring_gives_a_clear_message_and_mail_stays_queued(
    workspace: Workspace,
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with pytest.raises(credentials.CredentialsError, match="no system keyring"):
            credentials.store_password("me", "smtp.example.com", "x")
        configure_smtp(
            workspace,
            host="smtp.example.com",
            port=587,
            security="starttls",
            user="me",
            from_="Me <me@example.com>",
        )
        set_setting(workspace, "mail_timezone", "UTC")
        enroll(workspace, [lead(workspace)], track(workspace, (0,)))
        report = send_due(workspace)
        assert "keyring" in report.summary()
        assert [r.state for r in outbox.list_outbox(workspace)] == ["queued"]
    finally:
        keyring.set_keyring(previous)


def test_plain_smtp_only_to_localhost(workspace: Workspace) -> None:
    from nurturedesk.core.errors import ValidationError

    with pytest.raises(ValidationError, match="only allowed to this computer"):
        configure_smtp(
            workspace,
            host="smtp.example.com",
            port=25,
            security="none",
            user="",
            from_="a@example.com",
        )
    configure_smtp(
        workspace, host="localhost", port=25, security="none", user="", from_="a@example.com"
    )


def test_default_track_and_stage_rules_exist(workspace: Workspace) -> None:
    assert find_sequence(workspace, "default nurture track").stages == ("Nurturing",)
    assert find_sequence(workspace, "Recycle track").stages == ("Recycled",)
    timedelta()


def test_queued_mail_is_cancelled_when_the_lead_moves_on_or_is_deleted(
    mail_ws: Workspace, tmp_path: Path
) -> None:
    from nurturedesk.core.leads import delete_leads

    a, b, c = lead(mail_ws, 1), lead(mail_ws, 2), lead(mail_ws, 3)
    enroll(mail_ws, [a, b, c], track(mail_ws, (0,)))
    send_due(mail_ws, limit=0)  # queued, waiting (say, for the throttle)
    move_leads(mail_ws, [a], find_stage(mail_ws, "Won").id)
    delete_leads(mail_ws, [b])
    report = send_due(mail_ws)
    assert len(report.delivery.sent) == 1 and len(report.delivery.cancelled) == 2
    reasons = sorted(r.last_error for r in outbox.list_outbox(mail_ws, "cancelled"))
    assert reasons == ["not sent: lead deleted", "not sent: lead reached Won"]
    assert [m["To"].addresses[0].addr_spec for m in eml_files(tmp_path)] == ["l3@example.org"]
