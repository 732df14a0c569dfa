"""The nurture commands, as a script would use them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nurturedesk.cli import main

REPO = Path(__file__).resolve().parents[2]


def nd(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_template_sequence_enrol_send_and_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(tmp_path / "ws.sqlite"))
    code, _, err = nd(
        capsys, "template", "add", "Bad", "--subject", "Hi", "--body", "a\n{{ lead.nme }}", *w
    )
    assert code == 1 and "line 2, column 4" in err and "lead.nme" in err
    body = tmp_path / "body.md"
    body.write_text('Hi {{ lead.first_name | default("there") }}\n', encoding="utf-8")
    assert (
        nd(capsys, "template", "add", "Hello", "--subject", "Hello", "--body-file", str(body), *w)[
            0
        ]
        == 0
    )
    code, out, _ = nd(capsys, "template", "list", "--json", *w)
    assert "Hello" in {t["name"] for t in json.loads(out)}
    code, out, _ = nd(
        capsys,
        "sequence",
        "add",
        "Quick",
        "--step",
        "Hello:0",
        "--days",
        "0,1,2,3,4,5,6",
        "--hours",
        "0-24",
        *w,
    )
    assert code == 0 and "1 steps" in out
    assert "Quick" in nd(capsys, "sequence", "list", *w)[1]
    nd(capsys, "lead", "add", "--email", "jane@example.org", "--first-name", "Jane", *w)
    code, out, _ = nd(capsys, "sequence", "enroll", "jane@example.org", "quick", *w)
    assert code == 0 and "Enrolled Jane" in out
    code, out, err = nd(capsys, "send-due", *w)
    assert code == 1 and "not set up" in out
    assert (
        nd(capsys, "smtp", "file", str(tmp_path / "eml"), "--from", "Me <me@example.com>", *w)[0]
        == 0
    )
    code, out, _ = nd(capsys, "send-due", "--dry-run", *w)
    assert "would send: jane@example.org\tHello" in out
    code, out, _ = nd(capsys, "send-due", *w)
    assert code == 0 and "sent 1" in out
    code, out, _ = nd(capsys, "outbox", "list", "--state", "sent", "--json", *w)
    [row] = json.loads(out)
    assert row["to_address"] == "jane@example.org" and row["message_id"].startswith("<")
    assert len(list((tmp_path / "eml").glob("*.eml"))) == 1
    code, _, err = nd(
        capsys,
        "smtp",
        "set",
        "--host",
        "mail.example.com",
        "--security",
        "none",
        "--from",
        "me@example.com",
        *w,
    )
    assert code == 1 and "only allowed to this computer" in err


def test_run_sends_on_schedule_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    ws = str(tmp_path / "run.sqlite")
    for args in (
        ["smtp", "file", str(tmp_path / "eml"), "--from", "Me <me@example.com>"],
        ["template", "add", "T", "--subject", "S", "--body", "B"],
        ["sequence", "add", "Now", "--step", "T:0", "--days", "0,1,2,3,4,5,6", "--hours", "0-24"],
        ["lead", "add", "--email", "x@example.org"],
        ["sequence", "enroll", "x@example.org", "Now"],
    ):
        subprocess.run(
            [sys.executable, "-m", "nurturedesk", *args, "-w", ws],
            check=True,
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", "run", "-w", ws],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "eml").glob("*.eml")):
            time.sleep(0.1)
        assert list((tmp_path / "eml").glob("*.eml")), "run did not send the due message"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped." in out


def test_newsletter_and_suppression_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(tmp_path / "ws.sqlite"))
    nd(capsys, "smtp", "file", str(tmp_path / "eml"), "--from", "Me <me@example.com>", *w)
    for n in range(3):
        nd(capsys, "lead", "add", "--email", f"r{n}@example.org", "--stage", "Newsletter", *w)
    code, out, _ = nd(capsys, "suppress", "add", "r0@example.org", "--reason", "unsubscribed", *w)
    assert code == 0
    assert "r0@example.org\tunsubscribed" in nd(capsys, "suppress", "list", *w)[1]
    code, out, _ = nd(
        capsys,
        "newsletter",
        "add",
        "March",
        "--template",
        "Newsletter",
        "--stage",
        "Newsletter",
        *w,
    )
    assert code == 0
    code, out, _ = nd(capsys, "send-due", *w)
    assert "sent 2" in out  # the suppressed reader is not mailed
    assert "runs 1" in nd(capsys, "newsletter", "list", *w)[1]
    assert len(list((tmp_path / "eml").glob("*.eml"))) == 2


def test_unsubscribe_token_suppresses_and_stops_sequences(tmp_path: Path) -> None:
    from datetime import datetime

    from nurturedesk.core.clock import FakeClock
    from nurturedesk.core.db import open_workspace
    from nurturedesk.core.dispatch import send_due
    from nurturedesk.core.leads import LeadData, add_lead
    from nurturedesk.core.mailconfig import configure_file_transport
    from nurturedesk.core.outbox import get_message, list_outbox
    from nurturedesk.core.sequences import enroll, find_sequence, list_enrollments
    from nurturedesk.core.settings import set_setting
    from nurturedesk.core.suppression import is_suppressed, unsubscribe_by_token

    ws = open_workspace(tmp_path / "u.sqlite", clock=FakeClock(datetime(2026, 3, 2, 10, 0)))
    try:
        configure_file_transport(ws, tmp_path / "eml", "Me <me@example.com>")
        set_setting(ws, "mail_timezone", "UTC")
        lead = add_lead(ws, LeadData(email="bye@example.org"))
        enroll(ws, [lead.id], find_sequence(ws, "Default nurture track").id)
        send_due(ws, limit=0)
        [row] = list_outbox(ws)
        _item, text, _html = get_message(ws, row.id)
        token = text.rsplit("unsubscribe%20", 1)[1].split()[0]
        assert unsubscribe_by_token(ws, token) == "bye@example.org"
        assert unsubscribe_by_token(ws, "not-a-token") is None
        assert is_suppressed(ws, "bye@example.org")
        assert list_enrollments(ws, lead_id=lead.id)[0].stopped_reason == "unsubscribed"
        send_due(ws)
        assert list_outbox(ws)[0].state == "cancelled"  # the queued one is not sent either
    finally:
        ws.close()
