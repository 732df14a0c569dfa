"""Opening workspaces: creation, migration, and refusing what must not be touched."""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from nurturedesk.core import leads
from nurturedesk.core.db import (
    MIGRATIONS_DIR,
    PAGE_SIZE,
    alembic_config,
    head_revision,
    make_engine,
    open_workspace,
)
from nurturedesk.core.errors import WorkspaceError
from nurturedesk.core.models import Base
from nurturedesk.core.stages import list_stages
from nurturedesk.core.timestamps import Timestamp, to_micros
from tests.damage import scribble_over_a_btree_page


def at_revision_with_an_inbox(conn: Connection, revision: str) -> None:
    """Migrate an empty database to an older schema and give it one stage, as that version
    would have."""
    command.upgrade(alembic_config(conn), revision)
    conn.exec_driver_sql(
        "INSERT INTO stages (id, name, position, colour, kind) "
        "VALUES (1, 'Inbox', 0, '#123456', 'open')"
    )


def workspace_at(tmp_path: Path, revision: str, *statements: str) -> Path:
    """A workspace file as an older version made it: its schema, one stage, and rows (SQL
    as that version stored them). A plain engine: SQLite's default 4 KiB pages, as then."""
    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        at_revision_with_an_inbox(conn, revision)
        for sql in statements:
            conn.exec_driver_sql(sql)
    engine.dispose()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_workspace_has_default_funnel_and_wal(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "new.sqlite")
    try:
        names = [s.name for s in list_stages(ws)]
        assert names == [
            "New",
            "Qualifying",
            "Nurturing",
            "Sales-ready",
            "With sales",
            "Won",
            "Newsletter",
            "Recycled",
        ]
        with ws.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == PAGE_SIZE
    finally:
        ws.close()


def test_workspace_at_0005_gets_the_new_indexes_and_keeps_its_pages(
    tmp_path: Path,
) -> None:
    # Made as version 0005 did: SQLite's default 4 KiB pages, the moved_at index present, an
    # owner index over every lead.
    ws = open_workspace(workspace_at(tmp_path, "0005"))
    try:
        lead = leads.add_lead(ws, leads.LeadData(email="new@example.com"), stage_id=1)
        with ws.engine.connect() as conn:
            indexes = {
                name
                for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'stage_history'"
                )
            }
            assert "ix_stage_history_moved_at" not in indexes
            assert "ix_stage_history_lead_id" in indexes
            owner_index = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_leads_owner'"
            ).scalar()
            assert owner_index is not None and owner_index.endswith("WHERE owner != ''")
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
            history = conn.exec_driver_sql(
                "SELECT to_stage_id FROM stage_history WHERE lead_id = ?", (lead.id,)
            ).all()
            assert history == [(1,)]
    finally:
        ws.close()


def test_reopening_keeps_data_and_does_not_duplicate_stages(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    leads.add_lead(ws, leads.LeadData(email="a@example.com", first_name="Ann"))
    ws.close()
    ws = open_workspace(path)
    try:
        assert len(list_stages(ws)) == 8
        assert leads.find_lead(ws, "A@EXAMPLE.COM").first_name == "Ann"
    finally:
        ws.close()


def test_text_file_is_refused_and_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("shopping list: eggs, milk\n")
    before = digest(path)
    with pytest.raises(WorkspaceError, match="not a NurtureDesk workspace"):
        open_workspace(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(WorkspaceError, match="not a NurtureDesk workspace"):
        open_workspace(path)
    assert digest(path) == before


def test_corrupt_workspace_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    for i in range(200):
        leads.add_lead(ws, leads.LeadData(email=f"l{i}@example.com", company="x" * 100))
    ws.close()
    scribble_over_a_btree_page(path)
    before = digest(path)
    with pytest.raises(WorkspaceError, match=r"damaged|not a workspace"):
        open_workspace(path)
    assert digest(path) == before


def test_workspace_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    open_workspace(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(WorkspaceError, match="newer version"):
        open_workspace(path)
    assert digest(path) == before


def test_previous_revision_upgrades_with_data_intact_and_a_backup(tmp_path: Path) -> None:
    path = workspace_at(
        tmp_path,
        "0001",
        "INSERT INTO leads (id, email, email_key, first_name, last_name, company, title, "
        "phone, source, owner, timezone, custom_fields, search_text, stage_id, position, "
        "stage_entered_at, score, created_at, updated_at) VALUES (7, 'Old@Example.com', "
        "'old@example.com', 'Olga', 'Old', 'Oldco', '', '', 'fair', '', '', '{}', "
        "'olga old old@example.com oldco', 1, 1.0, '2025-01-01 00:00:00', 0, "
        "'2025-01-01 00:00:00', '2025-01-01 00:00:00')",
    )
    ws = open_workspace(path)
    try:
        lead = leads.find_lead(ws, "old@example.com")
        assert (lead.id, lead.first_name, lead.company, lead.stage_name) == (
            7,
            "Olga",
            "Oldco",
            "Inbox",
        )
        with ws.engine.connect() as conn:
            assert (
                conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                == head_revision()
            )
    finally:
        ws.close()
    backups = list(tmp_path.glob("old.sqlite.before-0001-to-*.bak"))
    assert len(backups) == 1
    conn = sqlite3.connect(backups[0])
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
    assert conn.execute("SELECT first_name FROM leads WHERE id = 7").fetchone()[0] == "Olga"
    conn.close()


def test_commits_by_another_connection_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    ws = open_workspace(path)
    other = open_workspace(path)  # stands for another process
    try:
        assert ws.changed_since_last_check() is False  # first call only takes a reading
        assert ws.changed_since_last_check() is False
        leads.add_lead(other, leads.LeadData(email="x@example.com"))
        assert ws.changed_since_last_check() is True
        assert ws.changed_since_last_check() is False
    finally:
        other.close()
        ws.close()


def test_workspace_at_0007_gets_its_times_as_microseconds_and_can_go_back(
    tmp_path: Path,
) -> None:
    # Times as SQLAlchemy's DateTime wrote them before 0008, with and without a fraction,
    # and a NULL; and one before 1970 with a short fraction (a logged interaction).
    path = workspace_at(
        tmp_path,
        "0007",
        "INSERT INTO leads (id, email, email_key, first_name, last_name, company, title, "
        "phone, source, owner, timezone, custom_fields, search_text, stage_id, position, "
        "stage_entered_at, score, created_at, updated_at, deleted_at) VALUES (7, "
        "'old@example.com', 'old@example.com', 'Olga', '', '', '', '', '', '', '', '{}', "
        "'olga old@example.com', 1, 1.0, '2026-12-04 17:20:41.722203', 0, "
        "'2025-01-01 00:00:00.000000', '2025-01-01 00:00:00', NULL)",
        "INSERT INTO stage_history (lead_id, from_stage_id, to_stage_id, moved_at, reason) "
        "VALUES (7, NULL, 1, '1999-12-31 23:59:59.999999', 'added')",
        "INSERT INTO interactions (lead_id, type, occurred_at, day, note, source, created_at) "
        "VALUES (7, 'meeting', '1969-12-31 23:59:59.5', 0, '', 'manual', "
        "'2025-01-01 00:00:00.000000')",
    )
    ws = open_workspace(path)
    try:
        lead = leads.find_lead(ws, "old@example.com")
        assert lead.stage_entered_at == datetime(2026, 12, 4, 17, 20, 41, 722203)
        assert lead.created_at == datetime(2025, 1, 1)
    finally:
        ws.close()
    raw = sqlite3.connect(path)
    assert raw.execute(
        "SELECT stage_entered_at, created_at, updated_at, deleted_at FROM leads"
    ).fetchone() == (
        to_micros(datetime(2026, 12, 4, 17, 20, 41, 722203)),
        to_micros(datetime(2025, 1, 1)),
        to_micros(datetime(2025, 1, 1)),
        None,
    )
    assert raw.execute("SELECT moved_at FROM stage_history").fetchone() == (
        to_micros(datetime(1999, 12, 31, 23, 59, 59, 999999)),
    )
    assert raw.execute("SELECT occurred_at FROM interactions").fetchone() == (-500_000,)
    raw.close()

    # Back to 0007: the text SQLAlchemy's DateTime reads, to the microsecond.
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
        assert conn.exec_driver_sql(
            "SELECT stage_entered_at, created_at, deleted_at FROM leads"
        ).one() == ("2026-12-04 17:20:41.722203", "2025-01-01 00:00:00.000000", None)
        assert conn.exec_driver_sql("SELECT moved_at FROM stage_history").scalar() == (
            "1999-12-31 23:59:59.999999"
        )
        assert conn.exec_driver_sql("SELECT occurred_at FROM interactions").scalar() == (
            "1969-12-31 23:59:59.500000"
        )
    engine.dispose()


def test_migration_0008_converts_every_timestamp_column_there_is() -> None:
    # A time column left out of 0008 would keep text beside ints, and SQL comparing the two
    # answers wrongly without an error.
    spec = importlib.util.spec_from_file_location(
        "compact_timestamps", MIGRATIONS_DIR / "versions" / "0008_compact_timestamps.py"
    )
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    converted = {(t, c) for t, columns in migration.COLUMNS.items() for c in columns}
    declared = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Timestamp)
    }
    assert converted == declared
