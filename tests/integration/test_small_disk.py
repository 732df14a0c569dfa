"""A really full disk: a 4 MiB tmpfs (needs root to mount; skipped otherwise, the
`max_page_count` test in tests/core/test_crash_safety.py covers CI either way). A new
workspace takes about 3 MB of it (66 pages of 16 KiB, and the WAL its creation wrote), so a
few hundred leads fill the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nurturedesk.core import backups, exporter, leads
from nurturedesk.core.db import open_workspace
from nurturedesk.core.errors import StorageError, UserError
from nurturedesk.core.privacy import write_personal_data


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_really_full_disk_gives_the_clear_message_and_keeps_what_was_saved(
    small_disk: Path, tmp_path: Path
) -> None:
    path = small_disk / "w.sqlite"
    ws = open_workspace(path)
    saved = []
    with pytest.raises(StorageError, match="The disk is full") as full:
        for i in range(10_000):
            leads.add_lead(ws, leads.LeadData(email=f"f{i}@example.com", company="z" * 400))
            saved.append(f"f{i}@example.com")
    assert "Nothing was lost" in str(full.value)
    assert len(saved) > 5
    # A backup onto the full disk fails clearly too, and leaves no half-written file.
    with pytest.raises(StorageError, match="disk is full"):
        backups.backup_to(ws, small_disk / "copy.sqlite")
    assert not (small_disk / "copy.sqlite").exists()
    # Backing up elsewhere still works: the way out.
    rescue = backups.backup_to(ws, tmp_path / "rescue.sqlite")
    ws.close()

    for where in (path, rescue.path):  # the full disk's workspace still opens, all saved there
        reopened = open_workspace(where)
        try:
            emails = {c.email for c in leads.list_leads(reopened, leads.LeadFilter())}
            assert set(saved) <= emails and len(emails) - len(saved) <= 1
        finally:
            reopened.close()


def fill(folder: Path) -> None:
    """Write into `folder` until its disk is full."""
    with (folder / "filler").open("wb") as fh, pytest.raises(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()


def test_an_export_onto_a_full_disk_keeps_the_earlier_file(
    small_disk: Path, tmp_path: Path
) -> None:
    """The lead export and a person's data export write aside and rename: a full disk ends
    them with a message and the file exported before is still whole."""
    ws = open_workspace(tmp_path / "w.sqlite")
    try:
        for i in range(300):
            leads.add_lead(ws, leads.LeadData(email=f"p{i}@example.com", company="z" * 200))
        earlier = {name: small_disk / name for name in ("leads.csv", "ann.json")}
        for path in earlier.values():
            path.write_text("exported before\n", encoding="utf-8")
        fill(small_disk)
        with pytest.raises(UserError, match=r"Could not write .*leads\.csv: No space left"):
            exporter.export_leads(ws, earlier["leads.csv"])
        with pytest.raises(UserError, match=r"Could not write .*ann\.json: No space left"):
            write_personal_data(ws, "p1@example.com", earlier["ann.json"])
    finally:
        ws.close()
    for path in earlier.values():
        assert path.read_text(encoding="utf-8") == "exported before\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["ann.json", "filler", "leads.csv"]
