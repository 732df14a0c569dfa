"""Backups: round trip, refusing bad backups, daily rotation, and rescuing a damaged workspace."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from nurturedesk.cli import main
from nurturedesk.core import leads
from nurturedesk.core.backups import (
    backup_to,
    backups_dir,
    daily_backup_tick,
    list_backups,
    newest_good_backup,
    restore_from,
)
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import DamagedWorkspaceError, UserError, WorkspaceError
from tests.core.test_sender_lock import start_holder
from tests.damage import scribble_over_a_btree_page

NOW = datetime(2026, 3, 2, 9, 0, 0)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def emails(ws: Workspace) -> set[str]:
    return {c.email for c in leads.list_leads(ws, leads.LeadFilter())}


def add(ws: Workspace, *addresses: str) -> None:
    for address in addresses:
        leads.add_lead(ws, leads.LeadData(email=address, company="Acme"))


def corrupt(path: Path) -> None:
    scribble_over_a_btree_page(path)


def filled_workspace(path: Path, n: int = 150) -> None:
    ws = open_workspace(path)
    add(ws, *(f"l{i}@example.com" for i in range(n)))
    ws.close()


def test_backup_and_restore_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    add(workspace, "ann@example.com", "bob@example.com")
    (tmp_path / "copies").mkdir()
    info = backup_to(workspace, tmp_path / "copies")
    assert info.path.parent == tmp_path / "copies"
    assert not list(info.path.parent.glob("*-wal"))  # a single self-contained file

    add(workspace, "later@example.com")
    workspace.close()
    assert workspace.path is not None
    result = restore_from(info.path, workspace.path, now=NOW)

    ws = open_workspace(workspace.path)
    try:
        assert emails(ws) == {"ann@example.com", "bob@example.com"}
    finally:
        ws.close()
    # The workspace as it was before the restore is kept, with the later lead in it.
    assert result.previous_kept_at is not None
    aside = open_workspace(result.previous_kept_at)
    try:
        assert "later@example.com" in emails(aside)
    finally:
        aside.close()


def test_backup_refuses_to_overwrite(workspace: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "mine.sqlite"
    target.write_text("my precious notes")
    with pytest.raises(UserError, match="already exists"):
        backup_to(workspace, target)
    assert target.read_text() == "my precious notes"


def test_damaged_or_foreign_backup_is_refused_and_workspace_untouched(
    workspace: Workspace, tmp_path: Path
) -> None:
    add(workspace, "keep@example.com")
    workspace.close()
    assert workspace.path is not None
    before = digest(workspace.path)

    damaged = tmp_path / "damaged.sqlite"
    filled_workspace(damaged)
    corrupt(damaged)
    with pytest.raises(WorkspaceError, match=r"Not restored.*damaged"):
        restore_from(damaged, workspace.path, now=NOW)

    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    with pytest.raises(WorkspaceError, match="not a NurtureDesk workspace"):
        restore_from(text, workspace.path, now=NOW)

    assert digest(workspace.path) == before
    assert not list(tmp_path.glob("*.before-restore-*"))


def test_daily_backups_rotate_to_seven_days_and_four_weeks(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 1, 8, 0, 0))  # a Thursday
    ws = open_workspace(tmp_path / "w.sqlite", clock=clock)
    try:
        add(ws, "a@example.com")
        assert daily_backup_tick(ws) is not None
        clock.advance(hours=2)
        assert daily_backup_tick(ws) is None  # one a day is enough
        for _ in range(45):
            clock.advance(days=1)
            assert daily_backup_tick(ws) is not None
        assert ws.path is not None
        kept = [b.taken_at.date() for b in list_backups(ws.path)]
    finally:
        ws.close()
    # Today is Sunday 2026-02-15: the last 7 days are exactly ISO week 7; the newest of the
    # three weeks before it (Sundays) are kept as weekly backups; everything older is gone.
    assert clock.now().date() == date(2026, 2, 15)
    assert kept == [date(2026, 2, d) for d in range(15, 8, -1)] + [
        date(2026, 2, 8),
        date(2026, 2, 1),
        date(2026, 1, 25),
    ]


def test_damaged_workspace_finds_the_newest_good_backup_and_restores(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    clock = FakeClock(NOW)
    ws = open_workspace(path, clock=clock)
    add(ws, *(f"l{i}@example.com" for i in range(150)))
    good = daily_backup_tick(ws)
    clock.advance(days=1)
    newer = daily_backup_tick(ws)
    ws.close()
    assert good is not None and newer is not None
    corrupt(newer.path)  # the newest backup is bad too: it must be skipped
    corrupt(path)

    with pytest.raises(DamagedWorkspaceError):
        open_workspace(path)
    found = newest_good_backup(path)
    assert found is not None and found.path == good.path

    # The CLI says what to do, then does it.
    assert main(["-w", str(path), "lead", "list"]) == 1
    assert main(["-w", str(path), "restore", str(found.path)]) == 0
    ws = open_workspace(path)
    try:
        assert len(emails(ws)) == 150
    finally:
        ws.close()
    kept = list(tmp_path.glob("w.sqlite.before-restore-*.sqlite"))
    assert len(kept) == 1


def test_cli_tells_a_damaged_workspace_where_the_good_backup_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.sqlite"
    filled_workspace(path)
    ws = open_workspace(path)
    good = daily_backup_tick(ws)
    ws.close()
    assert good is not None
    corrupt(path)
    assert main(["-w", str(path), "lead", "list"]) == 1
    err = capsys.readouterr().err
    assert "damaged" in err
    assert f"nurturedesk restore {good.path}" in err


def test_cli_backup_then_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.sqlite"
    copy = tmp_path / "copy.sqlite"
    assert main(["-w", str(path), "lead", "add", "--email", "ann@example.com"]) == 0
    assert main(["-w", str(path), "backup", str(copy)]) == 0
    assert main(["-w", str(path), "lead", "add", "--email", "bob@example.com"]) == 0
    assert main(["-w", str(path), "restore", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "kept at" in out
    ws = open_workspace(path)
    try:
        assert emails(ws) == {"ann@example.com"}
    finally:
        ws.close()


def test_restore_is_refused_while_a_sender_holds_the_workspace(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = backup_to(workspace, tmp_path / "copy.sqlite").path
    assert workspace.path is not None
    before = digest(workspace.path)
    holder = start_holder(workspace, "run")  # a headless `run` in another process
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "LOCKED"
        assert main(["-w", str(workspace.path), "restore", str(copy)]) == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)
    err = capsys.readouterr().err
    assert "Cannot restore workspace.sqlite while the headless `nurturedesk run`" in err
    assert f"process {holder.pid}" in err
    assert digest(workspace.path) == before


def test_backups_listing(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert workspace.path is not None
    assert main(["-w", str(workspace.path), "backups"]) == 0
    assert "No automatic backups yet" in capsys.readouterr().out
    daily_backup_tick(workspace)
    assert main(["-w", str(workspace.path), "backups"]) == 0
    out = capsys.readouterr().out
    assert str(backups_dir(workspace.path)) in out and out.rstrip().endswith("ok")


def test_abandoned_partial_copies_are_cleaned_but_young_ones_kept(
    workspace: Workspace,
) -> None:
    import os
    import time

    assert workspace.path is not None
    folder = backups_dir(workspace.path)
    folder.mkdir(parents=True)
    old = folder / ".auto-20260301-090000.sqlite.4242.partial"
    young = folder / ".auto-20260302-085959.sqlite.4343.partial"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    daily_backup_tick(workspace)
    assert not old.exists()
    assert young.exists()  # may be another process's backup in progress
    assert len(list_backups(workspace.path)) == 1


@pytest.mark.parametrize("backup_pages", [4096, 32768])
def test_a_backup_with_other_pages_restores_through_sqlite(
    workspace: Workspace, tmp_path: Path, backup_pages: int
) -> None:
    # A backup from before new workspaces had 16 KiB pages (or one with bigger pages): SQLite
    # cannot copy it page for page into this WAL workspace, and replacing the file instead
    # would leave another process that has the workspace open reading the old content.
    add(workspace, "ann@example.com")
    (tmp_path / "copies").mkdir()
    info = backup_to(workspace, tmp_path / "copies")
    resized = sqlite3.connect(info.path)
    resized.execute(f"PRAGMA page_size={backup_pages}")
    resized.execute("VACUUM")
    resized.close()
    add(workspace, "later@example.com")
    workspace.close()
    assert workspace.path is not None
    other_process = sqlite3.connect(workspace.path)  # still open while the restore runs

    restore_from(info.path, workspace.path, now=NOW)

    seen = {r[0] for r in other_process.execute("SELECT email FROM leads")}
    other_process.close()
    assert seen == {"ann@example.com"}  # the restored content, not the old file's
    ws = open_workspace(workspace.path)
    try:
        assert emails(ws) == {"ann@example.com"}
        with ws.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16384
    finally:
        ws.close()
    assert not list(workspace.path.parent.glob(".restoring-*"))
