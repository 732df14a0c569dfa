"""Two real launches of the app on one workspace (on the test display): the second brings
the first window forward and exits; it never starts a second scheduler or sender. After the
first is killed, a new launch becomes the instance (the stale lock is taken over)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nurturedesk.core import sender_lock
from nurturedesk.logs import log_file_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


class _Where:
    def __init__(self, path: Path) -> None:
        self.path, self.url = path, f"sqlite:///{path}"


def launch(workspace: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", "-w", str(workspace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def launched() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:  # only what this test started
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_second_launch_activates_the_first_and_exits(
    tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    workspace = tmp_path / "w.sqlite"
    where = _Where(workspace.resolve())
    first = launch(workspace)
    launched.append(first)
    wait_for(
        lambda: (h := sender_lock.current_holder(where)) and h.pid == first.pid,
        "the first window to hold the sender lock",
    )

    second = launch(workspace)
    launched.append(second)
    assert second.wait(timeout=30) == 0
    log = log_file_path().read_text()
    wait_for(
        lambda: (
            "another launch on this workspace: bringing the window forward"
            in log_file_path().read_text()
        ),
        "the first window to be asked forward",
    )
    assert "is open in another NurtureDesk" in log_file_path().read_text()
    holder = sender_lock.current_holder(where)
    assert holder is not None and holder.pid == first.pid  # still the only sender
    assert first.poll() is None
    del log

    # The first one crashes; the next launch takes over (it keeps running).
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    third = launch(workspace)
    launched.append(third)
    wait_for(
        lambda: (h := sender_lock.current_holder(where)) and h.pid == third.pid,
        "the new launch to become the instance and the sender",
    )
    assert third.poll() is None
