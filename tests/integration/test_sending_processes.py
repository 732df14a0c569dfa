# ruff: noqa: F811  (pytest fixtures imported by name)
"""Sending from real processes: SIGKILL in the middle of a batch, and where the password is
(and is not) after the command line has used it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from nurturedesk.core.db import Workspace
from nurturedesk.core.mailconfig import load_config
from nurturedesk.core.outbox import list_outbox
from nurturedesk.core.sequences import enroll, queue_due_steps, save_sequence
from nurturedesk.core.templates import save_template
from tests.integration.smtp_fixtures import (  # noqa: F401  (fixtures)
    add_leads,
    smtp_server,
    smtp_workspace,
    test_keyring,
)
from tests.integration.smtp_server import PASSWORD, USER, SmtpServer

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "nurturedesk", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_sigkill_mid_batch_never_sends_twice_and_leaves_the_row_uncertain(
    smtp_workspace: Workspace, smtp_server: SmtpServer
) -> None:
    ws = smtp_workspace
    template = save_template(ws, "Kill test", "Hello {{ lead.first_name }}", "Body")
    seq = save_sequence(
        ws, "Kill track", [(template.id, 0)], window_days=range(7), window_hours=(0, 24)
    )
    enroll(ws, add_leads(ws, 5), seq.id)
    assert queue_due_steps(ws, load_config(ws)).queued == 5
    assert ws.path is not None
    smtp_server.handler.hold_after = 2  # the third message's DATA never gets its answer

    child = subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", "send-due", "-w", str(ws.path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert smtp_server.handler.held.wait(60), "the batch never reached the third message"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    smtp_server.handler.released.set()
    states = sorted(r.state for r in list_outbox(ws))
    assert states == ["queued", "queued", "sending", "sent", "sent"]

    # Restart: a new process recovers, then sends the rest.
    done = cli("send-due", "-w", str(ws.path))
    assert "interrupted -> uncertain 1" in done.stdout

    ids = [m.message["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == 5 and len(set(ids)) == 5  # every message reached the server once
    listed = json.loads(cli("outbox", "list", "--json", "-w", str(ws.path)).stdout)
    by_state: dict[str, list[str]] = {}
    for row in listed:
        by_state.setdefault(row["state"], []).append(row["message_id"])
    assert len(by_state["sent"]) == 4 and len(by_state["uncertain"]) == 1
    assert by_state["uncertain"][0] == smtp_server.messages[2].message["Message-ID"]

    # A later pass does not touch the uncertain row; only the user can resend it.
    cli("send-due", "-w", str(ws.path))
    assert len(smtp_server.messages) == 5


def test_password_lives_only_in_the_keyring(
    tmp_path: Path, smtp_server: SmtpServer, test_keyring: None, isolated_dirs: Path
) -> None:
    workspace = tmp_path / "cli.sqlite"
    w = ("-w", str(workspace))
    cli(
        "smtp",
        "set",
        "--host",
        "localhost",
        "--port",
        str(smtp_server.port),
        "--user",
        USER,
        "--from",
        "Alex <alex@example.com>",
        *w,
    )
    # A wrong password first, so failures get logged too.
    cli("smtp", "password", *w, stdin="not-the-password\n")
    failed = cli("smtp", "test", "--to", "someone@example.org", "-v", *w, check=False)
    assert failed.returncode == 1
    assert "refused the user name or password" in failed.stderr
    cli("smtp", "password", *w, stdin=PASSWORD + "\n")
    sent = cli("smtp", "test", "--to", "someone@example.org", "-v", *w)
    assert "Test email sent" in sent.stdout
    cli("lead", "add", "--email", "lead@example.org", "--stage", "Nurturing", *w)
    cli("send-due", "-v", *w)
    assert smtp_server.messages, "nothing was sent: the test would prove nothing"

    secret = PASSWORD.encode()
    plain_token = base64.b64encode(b"\0" + USER.encode() + b"\0" + secret)
    keyring_dir = isolated_dirs / "data" / "python_keyring"
    assert keyring_dir.is_dir(), "the isolated keyring was not used"
    checked = []
    for path in [*tmp_path.rglob("*"), *isolated_dirs.rglob("*")]:
        if path.is_file() and keyring_dir not in path.parents:
            data = path.read_bytes()
            assert secret not in data, f"password found in {path}"
            assert PASSWORD.encode("utf-16-le") not in data
            assert plain_token not in data, f"AUTH token found in {path}"
            checked.append(path.name)
    assert "cli.sqlite" in checked
    assert any(name.endswith(".log") for name in checked), checked
    for output in (failed.stdout, failed.stderr, sent.stdout, sent.stderr):
        assert PASSWORD not in output


def test_rows_in_flight_at_another_live_sender_are_not_touched(tmp_path: Path) -> None:
    """Start-up recovery only runs in the process that holds the sender lock (issue 6): a
    window opened while `run` is sending must not call that run's in-flight row uncertain."""
    from nurturedesk.core.db import open_workspace
    from nurturedesk.core.dispatch import ensure_recovered, send_due
    from nurturedesk.core.errors import UserError
    from nurturedesk.core.models import OutboxMessage

    path = tmp_path / "two.sqlite"
    ws = open_workspace(path)
    try:
        from nurturedesk.core.mailconfig import configure_file_transport
        from nurturedesk.core.settings import set_setting

        configure_file_transport(ws, tmp_path / "eml", "Me <me@example.com>")
        set_setting(ws, "mail_timezone", "UTC")
        [lead_id] = add_leads(ws, 1)
        seq = save_sequence(
            ws,
            "T",
            [(save_template(ws, "T", "S", "B").id, 0)],
            window_days=range(7),
            window_hours=(0, 24),
        )
        enroll(ws, [lead_id], seq.id)
        queue_due_steps(ws, load_config(ws))
        with ws.session() as s:
            s.query(OutboxMessage).update({"state": "sending"})  # the other sender's row
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; from nurturedesk.core.db import open_workspace;"
                "from nurturedesk.core import sender_lock;"
                f"ws = open_workspace({str(path)!r});"
                "lock = sender_lock.acquire_sender_lock(ws, 'run');"
                "print('held', flush=True); sys.stdin.readline()",
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            assert ensure_recovered(ws) == 0
            assert [r.state for r in list_outbox(ws)] == ["sending"]
            try:
                send_due(ws)
                raise AssertionError("send_due ran while another process sends")
            except UserError as exc:
                assert f"process {holder.pid}" in str(exc)
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(30)
        # The other sender is gone: now this process is the sender and recovers.
        assert ensure_recovered(ws) == 1
        assert [r.state for r in list_outbox(ws)] == ["uncertain"]
    finally:
        ws.close()
