"""One sender per workspace, across real processes: refusal with who holds it, takeover after
a crash (SIGKILL), and a race where exactly one of several processes wins."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from nurturedesk.core.db import Workspace
from nurturedesk.core.sender_lock import (
    SenderBusyError,
    acquire_sender_lock,
    current_holder,
    hold_sender_lock,
    release_all,
    sending_allowed,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

# A child process that takes the lock, says so, and holds it until stdin closes or it is killed.
HOLDER = textwrap.dedent(
    """
    import sys
    from nurturedesk.core.db import open_workspace
    from nurturedesk.core.sender_lock import SenderBusyError, acquire_sender_lock
    ws = open_workspace(sys.argv[1])
    try:
        lock = acquire_sender_lock(ws, sys.argv[2], heartbeat_seconds=0.2)
    except SenderBusyError as exc:
        print("BUSY", exc, flush=True)
        sys.exit(3)
    print("LOCKED", flush=True)
    sys.stdin.read()
    lock.release()
    print("RELEASED", flush=True)
    """
)


def start_holder(workspace: Workspace, kind: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(workspace.path), kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:  # only the processes this test started
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_second_process_is_refused_and_told_who_sends(
    workspace: Workspace, children: list[subprocess.Popen[str]]
) -> None:
    holder = start_holder(workspace, "run")
    children.append(holder)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "LOCKED"

    with pytest.raises(SenderBusyError) as refused:
        acquire_sender_lock(workspace, "send-due")
    message = str(refused.value)
    assert f"process {holder.pid}" in message
    assert "headless `nurturedesk run`" in message
    assert refused.value.holder is not None and refused.value.holder.pid == holder.pid
    seen = current_holder(workspace)
    assert seen is not None and seen.pid == holder.pid

    # When the holder lets go cleanly, this process may send.
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.stdout.readline().strip() == "RELEASED"
    holder.wait(timeout=10)
    assert current_holder(workspace) is None
    with hold_sender_lock(workspace, "send-due") as lock:
        assert lock.held
        assert current_holder(workspace) is not None


def test_lock_of_a_killed_process_is_taken_over(
    workspace: Workspace, children: list[subprocess.Popen[str]], caplog: pytest.LogCaptureFixture
) -> None:
    crashed = start_holder(workspace, "gui")
    children.append(crashed)
    assert crashed.stdout is not None
    assert crashed.stdout.readline().strip() == "LOCKED"
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait(timeout=10)

    with caplog.at_level("WARNING"), hold_sender_lock(workspace, "send-due") as lock:
        assert lock.holder.pid == os.getpid()
        # While we hold it, a new process is refused and told it is us.
        other = start_holder(workspace, "run")
        children.append(other)
        assert other.stdout is not None
        line = other.stdout.readline()
        assert line.startswith("BUSY")
        assert f"process {os.getpid()}" in line
        assert other.wait(timeout=10) == 3
    assert f"process {crashed.pid}" in caplog.text  # the takeover was logged


def test_only_one_of_several_racing_processes_gets_the_lock(
    workspace: Workspace, children: list[subprocess.Popen[str]]
) -> None:
    racers = [start_holder(workspace, "run") for _ in range(4)]
    children.extend(racers)
    answers = []
    for proc in racers:
        assert proc.stdout is not None
        answers.append(proc.stdout.readline().split()[0])
    assert sorted(answers) == ["BUSY", "BUSY", "BUSY", "LOCKED"]
    winner = racers[answers.index("LOCKED")]
    holder = current_holder(workspace)
    assert holder is not None and holder.pid == winner.pid


def test_same_process_reuses_its_lock_and_never_takes_it_twice(workspace: Workspace) -> None:
    with hold_sender_lock(workspace, "gui") as outer:
        with pytest.raises(SenderBusyError):
            acquire_sender_lock(workspace, "send-due", heartbeat_seconds=None)
        with hold_sender_lock(workspace, "send-due") as inner:  # "send now" in the GUI
            assert inner is outer
        assert outer.held  # the inner block did not release the outer lock
    assert current_holder(workspace) is None


def test_dispatch_tick_sends_only_while_no_other_process_holds_the_lock(
    workspace: Workspace, children: list[subprocess.Popen[str]]
) -> None:
    other = start_holder(workspace, "run")
    children.append(other)
    assert other.stdout is not None and other.stdout.readline().strip() == "LOCKED"
    assert not sending_allowed(workspace, "gui")
    assert not sending_allowed(workspace, "gui")
    assert other.stdin is not None
    other.stdin.close()  # the headless run stops
    assert other.stdout.readline().strip() == "RELEASED"
    other.wait(timeout=10)
    try:
        assert sending_allowed(workspace, "gui")  # this process takes over and keeps it
        holder = current_holder(workspace)
        assert holder is not None and (holder.pid, holder.kind) == (os.getpid(), "gui")
    finally:
        release_all()
    assert current_holder(workspace) is None


def test_heartbeat_refreshes_the_record(workspace: Workspace) -> None:
    lock = acquire_sender_lock(workspace, "gui", heartbeat_seconds=None)
    try:
        before = lock.holder
        lock.heartbeat()
        assert lock.holder.since == before.since
        seen = current_holder(workspace)
        assert seen is not None and seen.heartbeat == lock.holder.heartbeat
    finally:
        lock.release()
    assert not Path(str(workspace.path) + ".sender.json").exists()


def test_cli_says_who_sends(
    workspace: Workspace, children: list[subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from nurturedesk.cli import main

    assert main(["-w", str(workspace.path), "sender"]) == 0
    assert "Nobody is sending" in capsys.readouterr().out
    holder = start_holder(workspace, "run")
    children.append(holder)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "LOCKED"
    assert main(["-w", str(workspace.path), "sender"]) == 0
    out = capsys.readouterr().out
    assert f"headless `nurturedesk run` (process {holder.pid}" in out


def test_no_lock_possible_means_no_sending_and_a_clear_reason(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from nurturedesk.core import sender_lock
    from nurturedesk.core.errors import StorageError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setattr(
        sender_lock, "lock_paths", lambda *_: (blocker / "w.lock", blocker / "w.json")
    )
    with pytest.raises(StorageError, match="Cannot create the sender lock"):
        acquire_sender_lock(workspace, "run")
    with caplog.at_level("WARNING"):
        assert not sending_allowed(workspace, "gui")
    assert "Mail is not sent from a folder that cannot be written to" in caplog.text
