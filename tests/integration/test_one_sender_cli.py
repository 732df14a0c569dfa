"""Never two senders, through the real commands of the nurture engine (issue 3): while a
headless `run` sends, `send-due` and a second `run` refuse and say who sends.

Skipped until the engine (nurturedesk.commands.outbox) is part of the build; once it is, this
fails until `send-due`/`run` take the sender lock (see the notes of issue 6 for the calls).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nurturedesk.core.db import open_workspace

pytest.importorskip("nurturedesk.commands.outbox")


def nurturedesk(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "nurturedesk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_send_due_and_a_second_run_refuse_while_run_sends(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    open_workspace(path).close()
    runner = nurturedesk("run", "-w", str(path))
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()
        assert "running on" in line, line + (runner.stderr.read() if runner.stderr else "")

        for args in (("send-due",), ("run",)):
            other = nurturedesk(*args, "-w", str(path))
            _out, err = other.communicate(timeout=60)
            assert other.returncode == 1, err
            assert f"headless `nurturedesk run` (process {runner.pid}" in err
    finally:
        if runner.poll() is None:
            os.kill(runner.pid, signal.SIGTERM)
        runner.wait(timeout=30)


def test_outbox_list_in_a_terminal_leaves_the_senders_in_flight_row_alone(
    tmp_path: Path,
) -> None:
    """A row in `sending` while another process holds the sender lock is in flight, not
    interrupted: `outbox list` from a terminal must not make it `uncertain`. Once nobody
    sends, the same row is recovered as interrupted."""
    from nurturedesk.core import outbox
    from nurturedesk.core.dispatch import send_due
    from nurturedesk.core.mailconfig import configure_file_transport
    from nurturedesk.core.models import OutboxMessage
    from nurturedesk.core.sender_lock import release_all, sending_allowed
    from nurturedesk.core.sequences import enroll
    from nurturedesk.core.settings import set_setting
    from tests.core.test_nurture import lead, track

    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    try:
        configure_file_transport(ws, tmp_path / "eml", "Alex <alex@example.com>")
        set_setting(ws, "mail_timezone", "UTC")
        enroll(ws, [lead(ws)], track(ws, (0,)))
        send_due(ws, limit=0)  # queue only
        assert sending_allowed(ws, "gui")  # this process is the sender...
        with ws.session() as s:
            s.query(OutboxMessage).one().state = "sending"  # ...and is sending this row

        terminal = nurturedesk("outbox", "list", "-w", str(path))
        out, err = terminal.communicate(timeout=60)
        assert terminal.returncode == 0, err
        assert "\tsending\t" in out
        assert [r.state for r in outbox.list_outbox(ws)] == ["sending"]

        release_all()  # the sender is gone (as after a crash): now it is interrupted
        terminal = nurturedesk("outbox", "list", "-w", str(path))
        out, err = terminal.communicate(timeout=60)
        assert terminal.returncode == 0, err
        assert [r.state for r in outbox.list_outbox(ws)] == ["uncertain"]
    finally:
        release_all()
        ws.close()
