"""A big file read in a forked child while the import's process writes: the same import as
in one process, and still all or nothing when the child fails, the import is cancelled or
its process is killed. (Every test of test_importer.py also runs both ways, its SIGKILL
test among them.)"""

from __future__ import annotations

import csv
import os
import signal
import sys
from pathlib import Path

import pytest

from nurturedesk.core import forked_reader, importer, leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.importer import ImportOptions, import_file, list_batches

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the child is a Linux fork")


def messy_file(path: Path, rows: int = 12_000) -> Path:
    """Several chunks of rows with everything that leaves the fast path: duplicates that
    differ in case, invalid and missing addresses, tags (new ones made on the way), a
    per-row stage, custom fields, a line break in a note."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Email", "First Name", "Company", "Tags", "City", "Notes"])
        for i in range(rows):
            email = f"Person{i % 9000}@Example.com" if i % 7 else f"person{i % 9000}@example.COM"
            if i % 997 == 0:
                email = "not an address"
            elif i % 1009 == 0:
                email = ""
            note = "Met at the booth\nCall back" if i % 500 == 0 else f"note {i}"
            tags = f"fair {i % 5}, vip" if i % 3 == 0 else ""
            out.writerow([email, f"First{i}", f"Company {i % 13}", tags, f"City {i % 3}", note])
    return path


def everything(ws: Workspace) -> dict[str, list[tuple[object, ...]]]:
    tables = ("leads", "tags", "lead_tags", "stage_history", "import_batch_updates")
    with ws.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


def import_both_ways(
    tmp_path: Path, clock: FakeClock, path: Path, policy: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[object, ...]]:
    outcomes = []
    for apart in (False, True):
        monkeypatch.setattr(forked_reader, "worth_it", lambda _path, apart=apart: apart)
        ws = open_workspace(tmp_path / f"{apart}.sqlite", clock=clock)
        try:
            leads.add_lead(ws, leads.LeadData(email="person5@example.com", company="Before"))
            report = tmp_path / f"{apart}-report.csv"
            result = import_file(
                ws, path, ImportOptions(on_duplicate=policy, tags=["webinar"], report_path=report)
            )
            outcomes.append(
                (
                    (result.rows, result.imported, result.updated, result.skipped),
                    (result.rejected, result.problems, result.skipped_why, result.warnings),
                    everything(ws),
                    report.read_text(encoding="utf-8-sig"),
                )
            )
        finally:
            ws.close()
    return outcomes


@pytest.mark.parametrize("policy", ["skip", "merge"])
def test_a_file_read_in_a_child_imports_exactly_as_in_one_process(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    path = messy_file(tmp_path / "messy.csv")
    in_one, in_two = import_both_ways(tmp_path, clock, path, policy, monkeypatch)
    counts, _rejects, stored, report = in_two
    assert counts[0] == 12_000 and counts[1] > 8_000  # rows read, new leads
    assert "not an address" in report and "duplicate of row" in report
    assert {name for _id, name in stored["tags"]} >= {"fair 0", "fair 4", "vip", "webinar"}
    assert in_two == in_one


def fail_with(error: BaseException | None) -> None:
    """Raise `error`, or die as the kernel's out-of-memory killer would kill (None)."""
    if error is None:
        os.kill(os.getpid(), signal.SIGKILL)
    raise error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UserError("Row 4,100 is not what it seems."), "Row 4,100 is not what it seems"),
        # (its __init__ takes a field and a message: unpickled, it would be called with one)
        (ValidationError("phone", "a phone number"), "a phone number"),
        (None, "ended without a word.*nothing was imported"),
    ],
    ids=["an error", "an error that does not unpickle as it was", "the child killed"],
)
def test_a_child_that_fails_fails_the_import_with_its_message_and_leaves_nothing(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException | None,
    message: str,
) -> None:
    monkeypatch.setattr(forked_reader, "worth_it", lambda path: True)
    before = everything(workspace)
    build = importer._LeadRows.block
    calls = []

    def fails_on_the_third_block(self: importer._LeadRows, *args: object) -> object:
        calls.append(1)  # (counted in the child: the parent's list stays empty)
        if len(calls) == 3:
            fail_with(error)
        return build(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importer._LeadRows, "block", fails_on_the_third_block)
    with pytest.raises(UserError, match=message):
        import_file(workspace, messy_file(tmp_path / "f.csv"))
    assert calls == []  # the failing code ran in the child
    assert everything(workspace) == before
    assert list_batches(workspace) == []


def test_a_small_file_or_a_busy_machine_reads_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tmp_path / "small.csv"
    small.write_text("Email\na@example.com\n")
    big = messy_file(tmp_path / "big.csv", rows=40_000)
    assert big.stat().st_size >= forked_reader.MIN_BYTES
    monkeypatch.setattr(forked_reader, "busy_elsewhere", lambda: 0)
    assert not forked_reader.worth_it(small)
    assert forked_reader.worth_it(big) == (len(os.sched_getaffinity(0)) >= 2)
    monkeypatch.setattr(forked_reader, "busy_elsewhere", lambda: len(os.sched_getaffinity(0)))
    assert not forked_reader.worth_it(big)  # every CPU taken: the child would only wait
    assert not forked_reader.worth_it(tmp_path / "gone.csv")
