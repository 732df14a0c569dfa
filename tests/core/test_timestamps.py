"""Times are stored as microseconds since the epoch and read back as the same datetimes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurturedesk.core import leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import open_workspace
from nurturedesk.core.demo import populate_demo
from nurturedesk.core.importer import ImportOptions, import_file
from nurturedesk.core.models import Base
from nurturedesk.core.stages import find_stage
from nurturedesk.core.timestamps import Timestamp, from_micros, to_micros


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
def test_every_microsecond_comes_back_and_order_is_kept(when: datetime) -> None:
    assert from_micros(to_micros(when)) == when
    later = when + timedelta(microseconds=1)
    assert to_micros(later) == to_micros(when) + 1


def test_an_aware_time_is_stored_as_its_utc_instant() -> None:
    berlin = datetime(2026, 12, 4, 18, 30, tzinfo=timezone(timedelta(hours=1)))
    assert from_micros(to_micros(berlin)) == datetime(2026, 12, 4, 17, 30)
    assert to_micros(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_text_is_refused_rather_than_stored_as_something_else() -> None:
    with pytest.raises(TypeError, match="must be a datetime"):
        Timestamp().process_bind_param("2026-12-04 17:30:00", None)  # type: ignore[arg-type]


def test_a_lead_keeps_its_times_exactly_and_the_file_holds_ints(tmp_path: Path) -> None:
    added = datetime(2026, 12, 4, 17, 20, 41, 722203)
    ws = open_workspace(tmp_path / "ws.sqlite", clock=FakeClock(added))
    try:
        stage = find_stage(ws, "New").id
        lead = leads.add_lead(ws, leads.LeadData(email="ada@example.com"), stage_id=stage)
        assert (lead.created_at, lead.stage_entered_at) == (added, added)
    finally:
        ws.close()
    conn = sqlite3.connect(tmp_path / "ws.sqlite")
    row = conn.execute(
        "SELECT created_at, updated_at, stage_entered_at, typeof(created_at) FROM leads"
    ).fetchone()
    moved = conn.execute("SELECT moved_at FROM stage_history").fetchone()
    conn.close()
    assert row == (1_796_404_841_722_203,) * 3 + ("integer",)
    assert moved == (1_796_404_841_722_203,)


def test_every_time_the_demo_and_an_import_write_is_stored_as_an_int(tmp_path: Path) -> None:
    # A write that skipped the column type (raw SQL given a datetime, say) would leave
    # text, which sorts after every int and breaks comparisons between columns: the demo
    # (leads, history, interactions, scores, releases) and an import write through most
    # paths there are.
    ws = open_workspace(tmp_path / "ws.sqlite", clock=FakeClock(datetime(2026, 3, 2, 9)))
    try:
        populate_demo(ws, leads=120)
        source = tmp_path / "fair.csv"
        source.write_text("Email,Name\nada@example.org,Ada\nbob@example.org,Bob\n")
        import_file(ws, source, ImportOptions(tags=("fair",)))
        checked = 0
        with ws.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for column in table.columns:
                    if not isinstance(column.type, Timestamp):
                        continue
                    filled, wrong = conn.exec_driver_sql(
                        f"SELECT count({column.name}), count(*) FILTER (WHERE"
                        f" typeof({column.name}) NOT IN ('integer', 'null')) FROM {table.name}"
                    ).one()
                    assert wrong == 0, f"{table.name}.{column.name}"
                    checked += filled
        assert checked > 1000  # (the demo did write times: the check saw them)
    finally:
        ws.close()
