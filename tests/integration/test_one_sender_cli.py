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
