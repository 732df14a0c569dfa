# ruff: noqa: F811  (pytest fixtures imported by name)
"""Sending nurture mail to a real SMTP server (aiosmtpd, STARTTLS, AUTH required)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from nurturedesk.core import outbox
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import set_throttle
from nurturedesk.core.models import Lead
from nurturedesk.core.outbox import counts_by_state, list_outbox
from nurturedesk.core.sequences import enroll, save_sequence
from nurturedesk.core.suppression import is_suppressed
from nurturedesk.core.templates import save_template
from tests.integration.smtp_fixtures import (  # noqa: F401  (fixtures)
    add_leads,
    smtp_server,
    smtp_workspace,
    test_keyring,
)
from tests.integration.smtp_server import SmtpServer


def one_step_sequence(ws: Workspace, subject: str = "Hello {{ lead.first_name }}") -> int:
    body = (
        'Hi {{ lead.first_name | default("there") }} at {{ lead.company }},\n\n'
        'Read **this**: {{ asset("getting-started-guide") }}\n\n{{ sender.signature }}'
    )
    template = save_template(ws, "Test mail", subject, body)
    days = list(range(7))
    return save_sequence(
        ws, "Test track", [(template.id, 0)], window_days=days, window_hours=(0, 24)
    ).id


def test_mail_arrives_with_headers_personalisation_and_both_parts(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    ws = smtp_workspace
    lead = add_lead(ws, LeadData(email="zoe@example.org", first_name="Zoë", company="Acme"))
    enroll(ws, [lead.id], one_step_sequence(ws))

    report = send_due(ws)

    assert len(report.delivery.sent) == 1, report.summary()
    [got] = smtp_server.messages
    assert got.rcpt_tos == ["zoe@example.org"]
    msg = got.message
    assert msg["Subject"] == "Hello Zoë"
    assert msg["From"].addresses[0].display_name == "Alex Sender"
    assert msg["To"].addresses[0].addr_spec == "zoe@example.org"
    assert msg["Date"]
    row = list_outbox(ws)[0]
    assert msg["Message-ID"] == row.message_id
    assert (
        msg["List-Unsubscribe"].strip().startswith("<mailto:alex@example.com?subject=unsubscribe")
    )
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hi Zoë at Acme" in text
    assert "https://example.com/getting-started-guide" in text
    assert "<strong>this</strong>" in html
    assert 'href="https://example.com/getting-started-guide"' in html
    assert "1 Main Street, Springfield" in text and "1 Main Street, Springfield" in html
    assert row.state == "sent"


def test_wrong_password_gives_clear_error_and_message_stays_queued(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    ws = smtp_workspace
    smtp_server.password = "another-password"
    [lead_id] = add_leads(ws, 1)
    enroll(ws, [lead_id], one_step_sequence(ws))

    report = send_due(ws)

    assert "refused the user name or password" in report.delivery.error
    assert smtp_server.messages == []
    assert [r.state for r in list_outbox(ws)] == ["queued"]


def test_server_down_is_retried_then_delivered_once_back(
    smtp_workspace: Workspace, smtp_server: SmtpServer, clock: FakeClock
) -> None:
    ws = smtp_workspace
    [lead_id] = add_leads(ws, 1)
    enroll(ws, [lead_id], one_step_sequence(ws))
    smtp_server.stop()

    first = send_due(ws)
    assert "Cannot reach" in first.delivery.error
    [row] = list_outbox(ws)
    assert row.state == "retry" and row.next_attempt_at > clock.now()

    smtp_server.start()  # same port
    assert send_due(ws).delivery.sent == []  # backoff not over yet: nothing hammered
    clock.advance(minutes=5)
    assert len(send_due(ws).delivery.sent) == 1
    clock.advance(days=1)
    send_due(ws)
    assert len(smtp_server.messages) == 1
    assert list_outbox(ws)[0].state == "sent"


def test_5xx_fails_the_row_records_a_bounce_and_suppresses(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    ws = smtp_workspace
    bad, good = add_leads(ws, 2)
    smtp_server.handler.reject["lead0@example.org"] = "550 5.1.1 No such user"
    enroll(ws, [bad, good], one_step_sequence(ws))

    report = send_due(ws)

    assert len(report.delivery.failed) == 1 and len(report.delivery.sent) == 1
    rows = {r.to_address: r for r in list_outbox(ws)}
    assert rows["lead0@example.org"].state == "failed"
    assert "550" in rows["lead0@example.org"].last_error
    assert rows["lead1@example.org"].state == "sent"  # one refusal does not stop the batch
    assert outbox.bounces_for_lead(ws, bad)[0][1] == 550
    assert is_suppressed(ws, "LEAD0@example.org")
    from nurturedesk.core.interactions import timeline

    assert [i.type for i in timeline(ws, bad)] == ["email_bounced"]  # scoring weighs it
    assert [i.type for i in timeline(ws, good)] == ["email_sent"]
    with pytest.raises(Exception, match="suppression list"):
        enroll(ws, [bad], one_step_sequence_id(ws))


def one_step_sequence_id(ws: Workspace) -> int:
    from nurturedesk.core.sequences import find_sequence

    return find_sequence(ws, "Test track").id


def test_4xx_is_retried_with_backoff(
    smtp_workspace: Workspace, smtp_server: SmtpServer, clock: FakeClock
) -> None:
    ws = smtp_workspace
    [lead_id] = add_leads(ws, 1)
    smtp_server.handler.defer["lead0@example.org"] = "451 4.3.0 Try again later"
    enroll(ws, [lead_id], one_step_sequence(ws))
    send_due(ws)
    row = list_outbox(ws)[0]
    assert row.state == "retry" and row.attempts == 1 and "451" in row.last_error
    first_wait = row.next_attempt_at - clock.now()
    clock.set(row.next_attempt_at)
    send_due(ws)
    row = list_outbox(ws)[0]
    assert row.attempts == 2 and row.next_attempt_at - clock.now() > first_wait
    del smtp_server.handler.defer["lead0@example.org"]
    clock.set(row.next_attempt_at)
    send_due(ws)
    assert list_outbox(ws)[0].state == "sent" and len(smtp_server.messages) == 1


def test_throttle_holds(
    smtp_workspace: Workspace, smtp_server: SmtpServer, clock: FakeClock
) -> None:
    ws = smtp_workspace
    set_throttle(ws, "custom", per_minute=None, per_hour=None, per_day=3)
    enroll(ws, add_leads(ws, 5), one_step_sequence(ws))

    report = send_due(ws)
    assert len(report.delivery.sent) == 3 and report.delivery.throttled
    send_due(ws)
    clock.advance(hours=12)
    send_due(ws)
    assert len(smtp_server.messages) == 3
    assert counts_by_state(ws)["queued"] == 2

    clock.advance(hours=12, seconds=1)  # the oldest sends leave the 24-hour window
    send_due(ws)
    assert len(smtp_server.messages) == 5
    assert counts_by_state(ws)["sent"] == 5


def test_clock_jump_after_sleep_sends_due_mail_exactly_once(
    smtp_workspace: Workspace, smtp_server: SmtpServer, clock: FakeClock
) -> None:
    ws = smtp_workspace
    template = save_template(ws, "Weekly", "Week {{ lead.first_name }}", "Hello")
    seq = save_sequence(
        ws,
        "Weekly",
        [(template.id, 0), (template.id, 7), (template.id, 7)],
        window_days=range(7),
        window_hours=(0, 24),
    )
    [lead_id] = add_leads(ws, 1)
    enroll(ws, [lead_id], seq.id)
    send_due(ws)
    assert len(smtp_server.messages) == 1

    clock.advance(days=30)  # the laptop slept through two due steps
    for _ in range(3):  # several ticks right after waking up
        send_due(ws)
    # Step 2 goes out now; step 3 waits for its own delay after it (no burst, no skip).
    assert len(smtp_server.messages) == 2
    clock.advance(days=7)
    send_due(ws)
    send_due(ws)
    ids = [m.message["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_cr_lf_in_lead_fields_and_subject_tokens_add_no_header(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    ws = smtp_workspace
    lead = add_lead(ws, LeadData(email="victim@example.org", first_name="Eve"))
    # Bypass input validation, as a careless import or a direct SQL edit could.
    with ws.session() as session:
        session.execute(
            update(Lead)
            .where(Lead.id == lead.id)
            .values(
                first_name="Eve\r\nBcc: attacker@evil.test",
                last_name="X\nX-Injected: yes",
                company="Acme\r\n\r\nbody",
            )
        )
    seq = one_step_sequence(ws, subject="Hi {{ lead.first_name }} from {{ lead.company }}")
    enroll(ws, [lead.id], seq)

    send_due(ws)

    [got] = smtp_server.messages
    assert got.rcpt_tos == ["victim@example.org"]
    msg = got.message
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert "Bcc: attacker@evil.test" in msg["Subject"]  # shown as text, harmlessly
    header_block = got.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block and b"\r\nX-Injected:" not in header_block


def test_suppressed_address_is_never_mailed_whatever_its_sequence(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    from nurturedesk.core.suppression import suppress

    ws = smtp_workspace
    a, b = add_leads(ws, 2)
    enroll(ws, [a, b], one_step_sequence(ws))
    suppress(ws, "lead0@example.org", "unsubscribed")
    send_due(ws)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["lead1@example.org"]]


def test_dropped_connection_after_data_is_uncertain_not_resent(
    smtp_workspace: Workspace, smtp_server: SmtpServer, clock: FakeClock
) -> None:
    import threading

    ws = smtp_workspace
    enroll(ws, add_leads(ws, 2), one_step_sequence(ws))
    smtp_server.handler.hold_after = 0  # hold the first message's DATA ...
    stopper = threading.Thread(
        target=lambda: (smtp_server.handler.held.wait(10), smtp_server.stop())
    )
    stopper.start()  # ... and drop the server while the client waits for the answer
    report = send_due(ws)
    stopper.join()
    assert len(report.delivery.uncertain) == 1
    states = sorted(r.state for r in list_outbox(ws))
    assert states == ["queued", "uncertain"]
    smtp_server.handler.hold_after = None
    smtp_server.handler.released.clear()
    smtp_server.start()
    clock.advance(hours=1)
    send_due(ws)
    assert sorted(r.state for r in list_outbox(ws)) == ["sent", "uncertain"]
    received = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert len(received) == len(set(received)) == 2
    timedelta()  # keep import used
