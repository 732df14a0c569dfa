"""The fast .xlsx reader gives what openpyxl gives, and hands over to openpyxl when lost."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from nurturedesk.core.tabular import cell_text, open_table
from nurturedesk.core.xlsx_reader import XlsxRows


def by_openpyxl(path: Path) -> list[list[str]]:
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return [
            [cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        book.close()


def trimmed(rows: list[list[str]]) -> list[list[str]]:
    result = []
    for row in rows:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        result.append(row)
    return result


def make_book(path: Path, epoch_1904: bool = False) -> None:
    book = Workbook()
    if epoch_1904:
        book.epoch = datetime(1904, 1, 1)  # type: ignore[assignment]
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(["Email", "Name", "Phone", "Amount", "Joined", "At", "VIP", "Formula", "Note"])
    sheet.append(
        [
            "a@example.com",
            "Ann",
            33612345678,
            1500.5,
            date(2026, 3, 1),
            datetime(2026, 3, 1, 14, 30),
            True,
            "=1+1",
            "  spaced  ",
        ]
    )
    sheet.append(["b@example.com", None, -12, 0.1, None, time(9, 15), False, None, "é ü 中文"])
    sheet["A6"] = "gap@example.com"  # rows 4 and 5 are missing from the file
    sheet["D6"] = 3
    sheet["C7"] = CellRichText(["rich ", TextBlock(InlineFont(b=True), "bold")])
    sheet["A7"] = "c@example.com"
    book.save(path)


def test_fast_reader_matches_openpyxl(tmp_path: Path) -> None:
    for epoch in (False, True):
        path = tmp_path / f"book{epoch}.xlsx"
        make_book(path, epoch)
        fast = list(XlsxRows(path, cell_text))
        assert trimmed(fast) == trimmed(by_openpyxl(path))
        assert fast[5][0] == "gap@example.com" and fast[3] == [] and fast[4] == []
        assert fast[1][2] == "33612345678" and fast[1][4] == "2026-03-01"
        assert fast[6][2] == "rich bold"


def test_a_second_sheet_or_odd_layout_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["Email"])
    first.append(["first@example.com"])
    book.create_sheet("Other").append(["ignored"])
    book.save(path)
    table = open_table(path)
    assert [cells for _n, cells in table.rows()] == [["first@example.com"]]


def test_a_failure_half_way_hands_over_to_openpyxl_without_losing_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "book.xlsx"
    make_book(path)
    original = XlsxRows._value
    calls = {"n": 0}

    def flaky(*args: object) -> str:
        calls["n"] += 1
        if calls["n"] == 30:  # 9 header cells at open, then 9 + 9 + into the third row
            raise ValueError("unexpected XML")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(XlsxRows, "_value", staticmethod(flaky))
    table = open_table(path)
    rows = [cells for _n, cells in table.rows()]
    assert calls["n"] >= 30
    assert [r[0] if r else "" for r in rows] == [
        "a@example.com",
        "b@example.com",
        "",
        "",
        "gap@example.com",
        "c@example.com",
    ]
