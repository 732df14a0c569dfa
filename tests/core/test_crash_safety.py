"""Crash safety: a process killed mid-write, a full disk, a read-only workspace and a vanished
drive each leave everything already saved intact, with a clear message."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from nurturedesk.core import leads
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import StorageError

WRITER = textwrap.dedent(
    """
    import sys
    from nurturedesk.core import leads
    from nurturedesk.core.db import open_workspace
    ws = open_workspace(sys.argv[1])
    i = 0
    while True:
        lead = leads.add_lead(ws, leads.LeadData(email=f"w{i}@example.com", company="x" * 200))
        print(lead.email, flush=True)  # printed only once committed
        i += 1
    """
)


def emails(ws: Workspace) -> set[str]:
    return {c.email for c in leads.list_leads(ws, leads.LeadFilter())}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_during_writes_keeps_everything_committed(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    open_workspace(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    committed = []
    try:
        assert proc.stdout is not None
        while len(committed) < 300:
            line = proc.stdout.readline()
            assert line, "the writer stopped early"
            committed.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the next write
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    ws = open_workspace(path)  # runs the integrity check
    try:
        saved = emails(ws)
    finally:
        ws.close()
    assert set(committed) <= saved
    assert len(saved) - len(committed) <= 1  # at most the one committed as it was killed


def limit_pages(ws: Workspace, pages: int) -> None:
    """Simulate a full disk: SQLite refuses to grow the file past `pages` pages."""

    @event.listens_for(ws.engine, "connect")
    def _limit(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    ws.engine.dispose()  # new connections get the limit


def test_full_disk_gives_a_clear_message_and_the_workspace_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    with ws.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    assert isinstance(pages, int)
    limit_pages(ws, pages + 3)
    saved = []
    with pytest.raises(StorageError, match="The disk is full") as full:
        for i in range(1000):
            leads.add_lead(ws, leads.LeadData(email=f"f{i}@example.com", company="y" * 500))
            saved.append(f"f{i}@example.com")
    assert "Nothing was lost" in str(full.value)
    assert saved, "the limit left no room at all: the test proves nothing"
    ws.close()

    ws = open_workspace(path)
    try:
        assert emails(ws) == set(saved)
        leads.add_lead(ws, leads.LeadData(email="after@example.com"))  # room again
    finally:
        ws.close()


def test_read_only_workspace_gives_a_clear_message(workspace: Workspace) -> None:
    leads.add_lead(workspace, leads.LeadData(email="kept@example.com"))

    # As root, file permissions are not enforced: make the connections read-only instead.
    @event.listens_for(workspace.engine, "connect")
    def _read_only(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    workspace.engine.dispose()
    with pytest.raises(StorageError, match="read-only"):
        leads.add_lead(workspace, leads.LeadData(email="new@example.com"))
    assert emails(workspace) == {"kept@example.com"}


def test_vanished_drive_gives_a_clear_message_and_nothing_saved_is_lost(tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    ws = open_workspace(drive / "w.sqlite")
    leads.add_lead(ws, leads.LeadData(email="kept@example.com"))
    ws.close()
    shutil.move(drive, tmp_path / "unplugged")  # the drive goes away

    # The app still has the workspace "open": its next unit of work finds nothing there.
    from nurturedesk.core.db import make_engine

    ws.engine = make_engine(ws.url)
    ws.sessions.configure(bind=ws.engine)
    with pytest.raises(StorageError, match="cannot be reached"):
        leads.add_lead(ws, leads.LeadData(email="new@example.com"))
    ws.close()
    assert not drive.exists()  # nothing was created in its place

    shutil.move(tmp_path / "unplugged", drive)  # plugged back in
    ws = open_workspace(drive / "w.sqlite")
    try:
        assert emails(ws) == {"kept@example.com"}
    finally:
        ws.close()
