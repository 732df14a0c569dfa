"""Damaging a workspace file on purpose, for the tests that must refuse or rescue it."""

from __future__ import annotations

from pathlib import Path


def scribble_over_a_btree_page(path: Path) -> None:
    """Overwrite 2,000 bytes at the start of the file's third page: a b-tree page past the
    schema (page 1), whatever page size the file has."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65_536 if page_size == 1 else page_size  # how SQLite writes 64 KiB
    start = 2 * page_size
    assert len(data) >= start + 2000, "the file is too small to have a third page"
    data[start : start + 2000] = b"\xff" * 2000
    path.write_bytes(bytes(data))
