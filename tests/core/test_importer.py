"""Importing the files people really get: every row accounted for, nothing half-done."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from nurturedesk.core import bulk, forked_reader, leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError
from nurturedesk.core.importer import (
    _EMAIL_FAST,
    ImportCancelled,
    ImportOptions,
    fast_normalize_email,
    import_file,
    list_batches,
    preview_import,
    undo_import,
    worked_on_since,
)
from nurturedesk.core.interactions import log_interactions
from nurturedesk.core.privacy import forget_lead
from nurturedesk.core.sequences import enroll, list_sequences
from nurturedesk.core.stages import find_stage
from nurturedesk.core.tabular import TableError, detect_encoding, open_table
from nurturedesk.core.validation import normalize_email


@pytest.fixture(autouse=True, params=["in one process", "read in a child process"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: the file read in the import's process, and read in a forked child
    while the import's process writes (what big files get on a machine with a free CPU)."""
    if request.param == "read in a child process":
        monkeypatch.setattr(forked_reader, "worth_it", lambda path: True)
    return str(request.param)


def snapshot(ws: Workspace) -> dict[str, list[tuple[object, ...]]]:
    """Everything a user could notice about leads: rows of every lead-related table."""
    tables = ("leads", "tags", "lead_tags", "stage_history")
    with ws.engine.connect() as conn:
        return {
            t: sorted(conn.exec_driver_sql(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in tables
        }


def lead_indexes(ws: Workspace) -> list[tuple[object, ...]]:
    with ws.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
            " ORDER BY name"
        ).fetchall()


def entries(ws: Workspace) -> dict[str, tuple[object, ...]]:
    """Each lead's stage-history rows: (from stage, to stage, reason)."""
    with ws.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.email, f.name, t.name, h.reason FROM stage_history h"
            " JOIN leads l ON l.id = h.lead_id LEFT JOIN stages f ON f.id = h.from_stage_id"
            " LEFT JOIN stages t ON t.id = h.to_stage_id ORDER BY h.id"
        ).all()
    found: dict[str, tuple[object, ...]] = {}
    for email, *entry in rows:
        found[email] = (*found.get(email, ()), tuple(entry))
    return found


def write_csv(
    path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def plain_rows_then(tmp_path: Path, header: str, row: str, count: int, tail: str) -> Path:
    """A CSV file: the header, `count` plain rows (`row` with {i} numbered), then `tail` as
    written. With few rows the tail is read row by row, with 2,000 in a block taken whole."""
    path = tmp_path / "list.csv"
    plain = "".join(row.format(i=i) + "\r\n" for i in range(count))
    path.write_text(f"{header}\r\n{plain}{tail}", encoding="utf-8", newline="")
    return path


def report_rows(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("rows_before", [3, 2000])  # in a block read row by row; taken whole
def test_a_quote_never_closed_is_reported_not_swallowed_in_silence(
    workspace: Workspace, tmp_path: Path, rows_before: int
) -> None:
    """The way a CRM once loaded 2,479 rows of 7,668 without a word: a stray quote makes the
    rest of the file one cell. Here that row is rejected, saying why, and the lines it
    swallowed are in the report; a note that merely spans lines is imported as before."""
    path = plain_rows_then(
        tmp_path,
        "Email,First Name,Notes",
        "p{i}@example.com,Ann,fine",
        rows_before,
        'multi@example.com,Bo,"Call back\r\nbob@example.com, after lunch"\r\n'
        'stray@example.com,Cy,"Acme\r\n'
        "h@example.com,Di,ok\r\n"
        "i@example.com,Ed,ok\r\n",
    )
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (rows_before + 2, rows_before + 1, 1)
    (row,) = report_rows(result.rejected_file)
    assert row["row"] == str(rows_before + 3) and row["Email"] == "stray@example.com"
    assert "quote in this row is not closed" in row["reason"]
    assert "the 2 lines after it were read as one cell, 2 of them look like rows" in row["reason"]
    assert "h@example.com,Di,ok" in row["Notes"] and "i@example.com,Ed,ok" in row["Notes"]
    assert result.problems == (f"row {rows_before + 3}: {row['reason']}",)
    assert leads.find_lead(workspace, "multi@example.com").custom_fields["Notes"] == (
        "Call back bob@example.com, after lunch"
    )


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_lone_carriage_return_inside_a_quoted_note_is_read_not_a_crash(
    workspace: Workspace, tmp_path: Path, end: str
) -> None:
    """Notes pasted from old Mac or Windows tools mix line ends. A lone CR in a quoted,
    multi-line cell used to end the import in a csv.Error traceback; in a file whose lines
    end in CR alone, an unclosed quote must still be caught."""
    path = tmp_path / "notes.csv"
    path.write_text(
        f"Email,Notes{end}"
        f'a@example.com,"first line{end}second\rline"{end}'
        f'stray@example.com,"Acme{end}'
        f"h@example.com,ok{end}",
        encoding="utf-8",
        newline="",
    )
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (2, 1, 1)
    assert leads.find_lead(workspace, "a@example.com").custom_fields["Notes"] == (
        "first line second line"
    )
    (row,) = report_rows(result.rejected_file)
    assert row["Email"] == "stray@example.com"
    assert "quote in this row is not closed" in row["reason"]


@pytest.mark.parametrize("rows_before", [3, 2000])  # in a block read row by row; taken whole
def test_a_value_with_an_unquoted_comma_is_rejected_not_shifted_into_other_fields(
    workspace: Workspace, tmp_path: Path, rows_before: int
) -> None:
    """A value "Acme, Inc" unquoted makes five values under four columns: imported, the lead's
    company would be "Acme", its title "Inc", and "CTO" would be lost without a word.
    Empty cells after the last column (some tools write them) are no reason to refuse."""
    path = plain_rows_then(
        tmp_path,
        "Email,First Name,Company,Title",
        "p{i}@example.com,Ann,Co,Eng",
        rows_before,
        "shift@example.com,Al,Acme, Inc,CTO\r\ntrail@example.com,Cy,Gamma,CFO,,\r\n",
    )
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (rows_before + 2, rows_before + 1, 1)
    (row,) = report_rows(result.rejected_file)
    assert row["row"] == str(rows_before + 2) and row["Email"] == "shift@example.com"
    assert "5 values where the header has 4 columns" in row["reason"]
    assert "comma" in row["reason"]
    trail = leads.find_lead(workspace, "trail@example.com")
    assert (trail.company, trail.title) == ("Gamma", "CFO")
    with pytest.raises(NotFoundError):
        leads.find_lead(workspace, "shift@example.com")


def test_addresses_and_names_as_address_books_write_them(
    workspace: Workspace, tmp_path: Path
) -> None:
    """ "Jane Doe <jane@x>" and "mailto:" are addresses with something around them; a full
    name with a comma is "Last, First" (unless what follows is a suffix like PhD)."""
    path = write_csv(
        tmp_path / "book.csv",
        [
            ["E-mail", "Name"],
            ["Jane Doe <jane@example.com>", "Doe, Jane"],
            ['"Bo" < bo@example.com >', "Bo Berg, PhD"],
            ["mailto:cy@Example.com?subject=hi", "Cy"],
            ["Dee <not an address>", "Dee"],
        ],
    )
    result = import_file(workspace, path)
    assert (result.imported, result.rejected) == (3, 1)
    jane = leads.find_lead(workspace, "jane@example.com")
    assert (jane.email, jane.first_name, jane.last_name) == ("jane@example.com", "Jane", "Doe")
    bo = leads.find_lead(workspace, "bo@example.com")
    assert (bo.first_name, bo.last_name) == ("Bo", "Berg, PhD")
    assert leads.find_lead(workspace, "cy@example.com").email == "cy@example.com"
    (row,) = report_rows(result.rejected_file)
    assert row["E-mail"] == "Dee <not an address>"


def test_the_report_of_rows_not_imported_imports_again_once_fixed(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Fix the rows in the report and import it: its status, row and reason columns are
    the import's notes, not custom fields of the lead."""
    path = write_csv(tmp_path / "l.csv", [["Email", "City"], ["ann(at)example.com", "Oslo"]])
    first = import_file(workspace, path)
    assert first.rejected == 1 and first.rejected_file is not None
    report = Path(first.rejected_file)
    rows = list(csv.reader(report.open(encoding="utf-8-sig", newline="")))
    assert rows[0][:3] == ["status", "row", "reason"]
    rows[1][3] = "ann@example.com"
    write_csv(report, rows)
    again = import_file(workspace, report)
    assert again.imported == 1
    assert leads.find_lead(workspace, "ann@example.com").custom_fields == {"City": "Oslo"}


def test_messy_cp1252_semicolons_quoted_newlines_blank_and_bad_emails(
    workspace: Workspace, tmp_path: Path
) -> None:
    text = (
        "E-mail Address;Prénom;Nom;Société;Notes\r\n"
        'zoe@Example.com;Zoë;Müller;Société Générale;"first line\r\nsecond line"\r\n'
        "ZOE@example.com;Zoé;;Other SA;dup\r\n"
        "not-an-email;X;Y;Z;W\r\n"
        ";No;Email;Co;\r\n"
        ";;;;\r\n"
        "  jose@example.org ;José;Peña;Niño & Co;\r\n"
    )
    path = tmp_path / "fair.csv"
    path.write_bytes(text.encode("cp1252"))

    result = import_file(workspace, path)

    assert (result.encoding, result.delimiter) == ("cp1252", ";")
    assert (result.rows, result.imported, result.skipped, result.rejected) == (5, 2, 1, 2)
    assert result.blank_rows == 1
    zoe = leads.find_lead(workspace, "zoe@example.com")
    assert (zoe.first_name, zoe.last_name, zoe.company) == ("Zoë", "Müller", "Société Générale")
    assert zoe.custom_fields == {"Notes": "first line second line"}
    jose = leads.find_lead(workspace, "jose@example.org")
    assert (jose.first_name, jose.last_name, jose.company) == ("José", "Peña", "Niño & Co")
    report = report_rows(result.rejected_file)
    assert [(r["status"], r["row"]) for r in report] == [
        ("skipped", "3"),
        ("rejected", "4"),
        ("rejected", "5"),
    ]
    assert "duplicate of row 2" in report[0]["reason"]
    assert "@-sign" in report[1]["reason"]
    assert report[2]["reason"] == "no email address"
    assert report[2]["Prénom"] == "No"
    # The result names the rejected rows too (not the skipped one), for the dialog and CLI.
    assert result.problems == (f"row 4: {report[1]['reason']}", "row 5: no email address")


def test_the_result_says_why_rows_were_skipped(workspace: Workspace, tmp_path: Path) -> None:
    """ "2 skipped" alone left the user to open the report: why is counted in the result."""
    leads.add_lead(workspace, leads.LeadData(email="known@example.com"))
    leads.add_lead(workspace, leads.LeadData(email="gone@example.com"))
    forget_lead(workspace, "gone@example.com")
    rows = [["Email"], ["a@example.com"], ["A@example.com"], ["a@example.com"]]
    rows += [["known@example.com"], ["gone@example.com"]]
    result = import_file(workspace, write_csv(tmp_path / "l.csv", rows))
    assert (result.imported, result.skipped) == (1, 4)
    assert result.skipped_why == (
        ("repeated in the file", 2),
        ("already in NurtureDesk", 1),
        ("on the suppression list", 1),
    )
    assert result.skipped_summary() == (
        "2 repeated in the file, 1 already in NurtureDesk, 1 on the suppression list"
    )
    assert result.as_json()["skipped_why"]["repeated in the file"] == 2


def test_the_result_names_the_first_three_rejected_rows(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [["Email"], ["ok@example.com"]] + [[f"bad{i}"] for i in range(5)]
    result = import_file(workspace, write_csv(tmp_path / "l.csv", rows))
    assert result.rejected == 5
    assert [p.split(":")[0] for p in result.problems] == ["row 3", "row 4", "row 5"]
    assert len(report_rows(result.rejected_file)) == 5


def test_a_refused_domain_is_reported_with_the_address_as_written(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "list.csv",
        [["Email"], ["bob@mail.invalid"], ["ann@exa_mple.com"], ["eve@example.com"]],
    )
    result = import_file(workspace, path)
    assert (result.imported, result.rejected) == (1, 2)
    reasons = [r["reason"] for r in report_rows(result.rejected_file)]
    assert "'bob@mail.invalid'" in reasons[0] and "special-use" in reasons[0]
    assert "'ann@exa_mple.com'" in reasons[1] and "invalid characters" in reasons[1]


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]
)
def test_encodings_are_detected(workspace: Workspace, tmp_path: Path, encoding: str) -> None:
    path = write_csv(
        tmp_path / "list.csv",
        [["Email", "First Name", "Company"], ["ines@example.com", "Inès", "Café Crème"]],
        encoding=encoding,
    )
    result = import_file(workspace, path)
    assert result.imported == 1
    lead = leads.find_lead(workspace, "ines@example.com")
    assert (lead.first_name, lead.company) == ("Inès", "Café Crème")


def ascii_rows(size: int) -> bytes:
    """CSV rows of plain ASCII, `size` bytes in all (the last row's name pads it out)."""
    rows = b"".join(b"a%06d@example.com,Ann\r\n" % i for i in range((size - 16) // 25))
    return rows + b"b@example.com," + b"x" * (size - len(rows) - 16) + b"\r\n"


MIB = 1 << 20


def test_an_encoding_that_cannot_read_the_file_gets_one_line(
    workspace: Workspace, tmp_path: Path
) -> None:
    before = snapshot(workspace)
    path = write_csv(tmp_path / "l.csv", [["email", "name"], ["ann@example.com", "Ann"]])
    for encoding, message in [
        ("rot13", "'rot13' is not a text encoding."),
        ("base64", "'base64' is not a text encoding."),
        ("hex", "'hex' is not a text encoding."),
        ("zlib", "'zlib' is not a text encoding."),
        ("punycode", "'punycode' is not a text encoding."),
        ("nosuch", "Unknown encoding 'nosuch'."),
        ("utf-16", "l.csv cannot be read as utf-16: UTF-16 stream does not start with BOM."),
        ("utf-32", "l.csv cannot be read as utf-32: UTF-32 stream does not start with BOM."),
    ]:
        for attempt in (preview_import, lambda p, o: import_file(workspace, p, o)):
            with pytest.raises(UserError) as error:
                attempt(path, ImportOptions(encoding=encoding))
            assert str(error.value) == message
    assert snapshot(workspace) == before


def test_characters_the_encoding_cannot_read_are_reported(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "latin.csv"
    rows = "".join(f"lead{i}@example.com,Ren\xe9e,M\xfcller\n" for i in range(3000))
    path.write_bytes(("email,first name,last name\n" + rows).encode("cp1252"))
    result = import_file(workspace, path, ImportOptions(encoding="utf-8", dry_run=True))
    assert result.imported == 3000
    assert result.warnings == ("6,000 characters could not be read as utf-8; check the encoding",)
    assert result.as_json()["warnings"] == list(result.warnings)
    result = import_file(workspace, path, ImportOptions(encoding="cp1252"))
    assert (result.imported, result.warnings) == (3000, ())
    assert leads.find_lead(workspace, "lead7@example.com").last_name == "M\xfcller"
    # A replacement character the file really holds is read, not a reading error.
    path.write_text("email,name\nbo@example.com,Bo \ufffd\n", encoding="utf-8")
    assert import_file(workspace, path, ImportOptions(encoding="utf-8")).warnings == ()


def test_a_utf8_letter_cut_by_the_blocks_the_check_reads_is_utf8(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"Email,First Name\r\n"
        + ascii_rows(MIB - 1 - 18 - 18)
        + b"c@example.com,Andr\xc3\xa9\r\n"  # the 1 MiB mark falls inside the \xc3\xa9
        + ascii_rows(MIB)
    )
    assert path.read_bytes()[MIB - 1 : MIB + 1] == b"\xc3\xa9"
    assert detect_encoding(path) == "utf-8"


def test_a_utf8_letter_split_by_a_block_of_ascii_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"Email,First Name\r\n"
        + ascii_rows(MIB - 1 - 18)
        + b"\xc3"  # ends the first 1 MiB block; the next block is ASCII
        + b"\r\n"
        + ascii_rows(MIB - 2)
        + b"\xa9\r\n"  # starts the third
    )
    assert path.read_bytes()[MIB - 1 : MIB + 2] == b"\xc3\r\n"
    assert path.read_bytes()[2 * MIB : 2 * MIB + 1] == b"\xa9"
    assert detect_encoding(path) not in ("utf-8", "ascii")


def test_a_late_cp1252_accent_is_read_as_such(workspace: Workspace, tmp_path: Path) -> None:
    """The first 256 KiB (the detector's sample) are plain ASCII; the accent comes later."""
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"Email,First Name\r\n"
        + ascii_rows(MIB + 100)
        + b"andre@example.com,Andr\xe9 M\xfcller\r\n"
    )
    result = import_file(workspace, path)
    assert result.encoding not in ("utf-8", "ascii")
    assert leads.find_lead(workspace, "andre@example.com").first_name == "Andr\u00e9 M\u00fcller"


def test_late_cyrillic_names_are_read_in_their_code_page(
    workspace: Workspace, tmp_path: Path
) -> None:
    names = ["Иван Петров", "Мария Смирнова", "Алексей Кузнецов", "Ольга Попова"] * 3
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"Email,Name\r\n"
        + ascii_rows(MIB)
        + "".join(f"r{i}@example.ru,{n}\r\n" for i, n in enumerate(names)).encode("cp1251")
    )
    result = import_file(workspace, path)
    assert result.encoding == "cp1251"
    lead = leads.find_lead(workspace, "r1@example.ru")
    assert (lead.first_name, lead.last_name) == ("Мария", "Смирнова")


@pytest.mark.parametrize("rows", [2, 200])
def test_a_polish_cp1250_list_is_read_as_cp1250(
    workspace: Workspace, tmp_path: Path, rows: int
) -> None:
    """cp1252 would read "Zakład" as "Zak³ad": symbols inside words mean another code page."""
    path = tmp_path / "lista.csv"
    path.write_bytes(
        (
            "email;imię;firma\r\n"
            + "".join(f"p{i}@example.pl;Łukasz;Zakład Usług Żółć\r\n" for i in range(rows))
        ).encode("cp1250")
    )
    result = import_file(workspace, path)
    assert result.encoding == "cp1250"
    assert leads.find_lead(workspace, "p1@example.pl").company == "Zakład Usług Żółć"


def test_a_western_list_stays_cp1252(workspace: Workspace, tmp_path: Path) -> None:
    """The detector once named Baltic cp775 for these (it lists one of the code pages that
    read them alike, not cp1252), and "Café" came in as "CafŪ"."""
    path = tmp_path / "list.csv"
    path.write_bytes(
        (
            "email;name;company;city\r\n"
            + "".join(f"p{i}@example.com;Renée O'Brien;Café Olé;Zürich\r\n" for i in range(200))
            + "cat@example.com;Laia Puig;Escola Col·legi;Girona\r\n"  # a middle dot in a word
        ).encode("cp1252")
    )
    result = import_file(workspace, path)
    assert result.encoding == "cp1252"
    lead = leads.find_lead(workspace, "p7@example.com")
    assert (lead.first_name, lead.company) == ("Renée", "Café Olé")
    assert leads.find_lead(workspace, "cat@example.com").company == "Escola Col·legi"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(workspace: Workspace, tmp_path: Path, delimiter: str) -> None:
    path = write_csv(
        tmp_path / "list.txt",
        [["Email", "Company"], ["a@example.com", "Acme, Inc."], ["b@example.com", "B; C"]],
        delimiter=delimiter,
    )
    result = import_file(workspace, path)
    assert result.imported == 2
    assert leads.find_lead(workspace, "a@example.com").company == "Acme, Inc."


def test_duplicates_differing_in_case_against_workspace_and_policies(
    workspace: Workspace, tmp_path: Path
) -> None:
    leads.add_lead(
        workspace, leads.LeadData(email="Ann@Example.com", first_name="Ann", title="CEO")
    )
    path = write_csv(
        tmp_path / "dups.csv",
        [
            ["Email", "First Name", "Last Name", "Title"],
            ["ANN@EXAMPLE.COM", "Annie", "Smith", "CTO"],
        ],
    )
    skipped = import_file(workspace, path, ImportOptions(on_duplicate="skip"))
    assert (skipped.skipped, skipped.updated) == (1, 0)
    assert leads.find_lead(workspace, "ann@example.com").first_name == "Ann"

    merged = import_file(workspace, path, ImportOptions(on_duplicate="merge"))
    assert merged.updated == 1
    ann = leads.find_lead(workspace, "ann@example.com")
    assert (ann.first_name, ann.last_name, ann.title) == ("Ann", "Smith", "CEO")  # gaps filled

    updated = import_file(workspace, path, ImportOptions(on_duplicate="update"))
    assert updated.updated == 1
    ann = leads.find_lead(workspace, "ann@example.com")
    assert (ann.first_name, ann.title, ann.email) == ("Annie", "CTO", "Ann@example.com")

    again = import_file(workspace, path, ImportOptions(on_duplicate="update"))
    assert (again.updated, again.skipped) == (0, 1)  # nothing new: not counted as an update


def test_duplicates_within_the_file_are_combined_under_merge(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "dups.csv",
        [
            ["Email", "First Name", "Phone", "Tags"],
            ["lee@example.com", "Lee", "", "webinar"],
            ["LEE@example.com", "Leon", "+44 1", "vip"],
        ],
    )
    result = import_file(workspace, path, ImportOptions(on_duplicate="merge"))
    assert (result.rows, result.imported, result.updated) == (2, 1, 1)
    lee = leads.find_lead(workspace, "lee@example.com")
    assert (lee.first_name, lee.phone, lee.tags) == ("Lee", "+44 1", ("vip", "webinar"))


def test_a_column_of_addresses_goes_to_email_whatever_its_name(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [
        ["Kontakt", "Vorname", "Assistenz", "Notiz"],
        ["ann@example.de", "Ann", "x@example.de", ""],
    ]
    rows += [["", "Leer", "", ""], ["bo@example.de", "Bo", "Frau Meier", ""]]
    path = write_csv(tmp_path / "l.csv", rows)
    assert preview_import(path).mapping == [
        "email",
        "first_name",
        "custom:Assistenz",
        "custom:Notiz",  # (empty: no address in it)
    ]
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (3, 2, 1)
    assert result.mapping[0] == ("Kontakt", "email")
    # What the user chose stays chosen; two columns of addresses are not guessed between.
    with pytest.raises(UserError, match="No column holds the email"):
        import_file(workspace, path, ImportOptions(mapping={"Kontakt": "custom:Kontakt"}))
    rows[3][2] = "meier@example.de"
    with pytest.raises(UserError, match="No column holds the email"):
        import_file(workspace, write_csv(tmp_path / "two.csv", rows))


def test_excel_sep_line_names_the_delimiter(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "sep=;\r\nEmail;First Name;Company\r\nann@example.com;Ann;Acme, Inc.\r\nbad;B;\r\n",
        encoding="utf-8",
    )
    preview = preview_import(path)
    assert (preview.delimiter, preview.header) == (";", ["Email", "First Name", "Company"])
    table = open_table(path)  # (the sep= line is no header, whatever the reader looks for)
    assert (table.delimiter, table.header, table.header_row) == (
        ";",
        ["Email", "First Name", "Company"],
        2,
    )
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (2, 1, 1)
    assert leads.find_lead(workspace, "ann@example.com").company == "Acme, Inc."
    assert report_rows(result.rejected_file)[0]["row"] == "4"  # (line 1 is the sep= line)


def test_title_lines_above_the_header_are_passed_over(workspace: Workspace, tmp_path: Path) -> None:
    # As event platforms export: a title, a date line, a blank line, then the header.
    path = write_csv(
        tmp_path / "fair.csv",
        [
            ["Visitors of Fair 2026", "", ""],
            ["Exported 2026-03-02", "", ""],
            ["", "", ""],
            ["Kontakt", "First Name", "Company"],
            ["ann@example.com", "Ann", "Acme"],
            ["not an address", "B", ""],
        ],
    )
    # "Kontakt" is no header we know: the row above the first address is the header, and
    # the column of addresses goes to email (all its values but one look like addresses).
    preview = preview_import(path)
    assert preview.header == ["Kontakt", "First Name", "Company"]
    assert preview.mapping == ["custom:Kontakt", "first_name", "company"]
    assert preview.rows == [["ann@example.com", "Ann", "Acme"], ["not an address", "B", ""]]
    assert preview.row_numbers == [5, 6]  # as the report and a spreadsheet number them
    with pytest.raises(UserError, match=r"No column holds the email.*Kontakt, First Name"):
        import_file(workspace, path)
    result = import_file(workspace, path, ImportOptions(mapping={"Kontakt": "email"}))
    assert (result.rows, result.imported, result.rejected) == (2, 1, 1)
    assert report_rows(result.rejected_file)[0]["row"] == "6"

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Webinar: Pricing 101"], [None], ["E-mail", "Name"], ["bo@example.com", "Bo"]):
        sheet.append(row)
    book.save(tmp_path / "webinar.xlsx")
    result = import_file(workspace, tmp_path / "webinar.xlsx")
    assert (result.rows, result.imported) == (1, 1)
    assert leads.find_lead(workspace, "bo@example.com").first_name == "Bo"


def test_a_file_without_a_header_keeps_its_first_row(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "no-header.csv"
    path.write_text("a@x.com,Ann,Acme\nbob@example.invalid,Bob,Beta\nc@x.com,Cy,Gamma\n")
    preview = preview_import(path)
    assert preview.header == ["Column 1", "Column 2", "Column 3"]
    assert preview.mapping == ["email", "custom:Column 2", "custom:Column 3"]
    assert preview.row_numbers == [1, 2, 3]
    # The wizard sends back the mapping it showed: the same columns, the same rows.
    shown = ImportOptions(mapping=dict(zip(preview.header, preview.mapping, strict=True)))
    result = import_file(workspace, path, ImportOptions(shown.mapping, dry_run=True))
    assert (result.rows, result.imported, result.rejected) == (3, 2, 1)
    result = import_file(workspace, path, ImportOptions(unknown_columns="ignore"))
    assert (result.rows, result.imported, result.rejected) == (3, 2, 1)
    assert {c.email for c in leads.list_leads(workspace, leads.LeadFilter())} == {
        "a@x.com",
        "c@x.com",
    }
    assert leads.find_lead(workspace, "a@x.com").custom_fields == {}
    assert report_rows(result.rejected_file)[0]["row"] == "2"

    # The commonest list of all: addresses, one a line (a blank line first, one between).
    path = tmp_path / "addresses.txt"
    path.write_text("\nann@example.com\n\nbo@example.com\ncy@example.com\n")
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.blank_rows) == (3, 3, 1)
    assert result.mapping == (("Column 1", "email"),)

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["dee@example.com", "Dee", None, None], ["eve@example.com", "Eve", None, None]):
        sheet.append(row)
    book.save(tmp_path / "no-header.xlsx")
    result = import_file(workspace, tmp_path / "no-header.xlsx")
    assert (result.rows, result.imported) == (2, 2)
    assert leads.find_lead(workspace, "dee@example.com").custom_fields == {"Column 2": "Dee"}


def test_a_title_line_with_an_address_above_the_header_is_passed_over(
    workspace: Workspace, tmp_path: Path
) -> None:
    """ "Exported by boss@..." above the real header is a title line, not a first lead."""
    path = tmp_path / "export.csv"
    path.write_text("Exported by,boss@example.com\n\nEmail,Name\na@x.com,A\nb@x.com,B\n")
    result = import_file(workspace, path)
    assert (result.rows, result.imported) == (2, 2)
    assert result.mapping == (("Email", "email"), ("Name", "full_name"))


def test_a_wider_row_further_down_a_file_without_header_says_why(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text("".join(f"u{i}@x.com,N{i}\n" for i in range(15)) + "late@x.com,Late,Acme\n")
    result = import_file(workspace, path)
    assert (result.rows, result.imported, result.rejected) == (16, 15, 1)
    (row,) = report_rows(result.rejected_file)
    assert row["row"] == "16"
    assert "the file has no header row" in row["reason"] and "quote" not in row["reason"]


def test_xlsx_with_numbers_dates_and_unknown_columns(workspace: Workspace, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email Address", "Full Name", "Mobile", "Budget", "Internal"])
    sheet.append(["kim@example.com", "Kim Lee Park", 33612345678, 1500.5, "x"])
    sheet.append([None, None, None, None, None])
    sheet.append(["bad@", "Bad", None, None, None])
    path = tmp_path / "list.xlsx"
    book.save(path)

    result = import_file(workspace, path, ImportOptions(mapping={"Internal": "ignore"}))

    assert (result.rows, result.imported, result.rejected, result.blank_rows) == (2, 1, 1, 1)
    kim = leads.find_lead(workspace, "kim@example.com")
    assert (kim.first_name, kim.last_name, kim.phone) == ("Kim", "Lee Park", "33612345678")
    assert kim.custom_fields == {"Budget": "1500.5"}
    assert report_rows(result.rejected_file)[0]["row"] == "4"


def test_mapping_guesses_and_explicit_choices(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "hubspot.csv",
        [["First Name", "Last Name", "Email", "Company Name", "Lifecycle Stage", "Fav colour"]],
    )
    preview = preview_import(path)
    assert preview.mapping == [
        "first_name",
        "last_name",
        "email",
        "company",
        "stage",
        "custom:Fav colour",
    ]
    preview = preview_import(
        path,
        ImportOptions(mapping={"Lifecycle Stage": "ignore"}, unknown_columns="ignore"),
    )
    assert preview.mapping[4:] == ["ignore", "ignore"]
    with pytest.raises(UserError, match="No column named 'Nope'"):
        preview_import(path, ImportOptions(mapping={"Nope": "email"}))
    with pytest.raises(UserError, match="Unknown field 'emial'"):
        preview_import(path, ImportOptions(mapping={"Email": "emial"}))


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        (
            ["E-Mail-Adresse", "Vorname", "Nachname", "Firma", "Telefon", "Position"],
            ["jens@example.de", "Jens", "Müller", "Bäckerei Groß", "+49 30 1234", "Inhaber"],
            ("Jens", "Müller", "Bäckerei Groß", "+49 30 1234", "Inhaber"),
        ),
        (
            ["Correo electrónico", "Nombre", "Apellidos", "Empresa", "Teléfono", "Cargo"],
            ["ana@example.es", "Ana", "García López", "Acme", "600 123 456", "Gerente"],
            ("Ana", "García López", "Acme", "600 123 456", "Gerente"),
        ),
        (
            ["Adres e-mail", "Imię", "Nazwisko", "Nazwa firmy", "Telefon", "Stanowisko"],
            ["jan@example.pl", "Jan", "Kowalski", "Zakład", "600 100 200", "Prezes"],
            ("Jan", "Kowalski", "Zakład", "600 100 200", "Prezes"),
        ),
        (
            ["E-mail", "Jméno a příjmení", "Firma", "Telefon"],
            ["jiri@example.cz", "Jiří Dvořák", "Pekařství", "+420 777 111 222"],
            ("Jiří", "Dvořák", "Pekařství", "+420 777 111 222", ""),
        ),
        (  # "Nome" alone is the whole name
            ["Nome", "E-mail", "Empresa", "Celular"],
            ["Maria Silva", "maria@example.com.br", "Acme", "11 91234"],
            ("Maria", "Silva", "Acme", "11 91234", ""),
        ),
    ],
)
def test_headers_in_other_languages_are_guessed(
    workspace: Workspace, tmp_path: Path, header: list[str], row: list[str], expected: tuple
) -> None:
    path = write_csv(tmp_path / "list.csv", [header, row])
    result = import_file(workspace, path)
    assert (result.imported, result.rejected) == (1, 0)
    email = next(v for v in row if "@" in v)
    lead = leads.find_lead(workspace, email)
    assert (lead.first_name, lead.last_name, lead.company, lead.phone, lead.title) == expected
    assert lead.custom_fields == {}


def test_file_without_email_column_is_refused_and_nothing_changes(
    workspace: Workspace, tmp_path: Path
) -> None:
    before = snapshot(workspace)
    path = write_csv(tmp_path / "names.csv", [["Name", "City"], ["Ann", "Paris"]])
    with pytest.raises(UserError, match="No column holds the email address"):
        import_file(workspace, path)
    assert snapshot(workspace) == before
    assert list_batches(workspace) == []


def test_unreadable_files_get_a_clear_message(tmp_path: Path, workspace: Workspace) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04garbage")
    for name, message in [
        ("empty.csv", "is empty"),
        ("old.xls", "old Excel"),
        ("broken.xlsx", "not a readable Excel"),
        ("missing.csv", "no file"),
    ]:
        with pytest.raises(TableError, match=message):
            import_file(workspace, tmp_path / name)


def test_a_password_protected_or_opendocument_workbook_is_named(
    tmp_path: Path, workspace: Workspace
) -> None:
    """Excel saves a workbook with a password as an OLE2 file, the .xlsx encrypted in its
    stream "EncryptedPackage": not an old .xls, whatever it begins like."""
    import zipfile

    entry = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\x00")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".ljust(512, b"\x00")
    # The directory after the encrypted bytes, its name across a 1 MiB boundary.
    filler = bytes(range(256)) * (((1 << 20) - 512 - 10) // 256) + b"\xff" * 230
    (tmp_path / "locked.xlsx").write_bytes(header + filler + entry + b"\x00" * 4000)
    with pytest.raises(TableError) as error:
        import_file(workspace, tmp_path / "locked.xlsx")
    assert str(error.value).startswith("locked.xlsx is password-protected: open it in Excel")

    with zipfile.ZipFile(tmp_path / "calc.ods", "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(TableError, match=r"calc.ods is an OpenDocument spreadsheet \(.ods\)"):
        preview_import(tmp_path / "calc.ods")
    assert list_batches(workspace) == []


def test_a_file_that_is_not_text_is_named_as_such(workspace: Workspace, tmp_path: Path) -> None:
    import gzip
    import zipfile

    before = snapshot(workspace)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 5
    (tmp_path / "photo.csv").write_bytes(png)
    (tmp_path / "leads.csv.gz").write_bytes(gzip.compress(b"email\nann@example.com\n" * 50))
    (tmp_path / "pixels.csv").write_bytes(bytes(range(256)) * 8)  # no known signature
    with zipfile.ZipFile(tmp_path / "leads.zip", "w") as archive:
        archive.writestr("leads.csv", "email\nann@example.com\n")
    assert workspace.path is not None
    for path, kind in [
        (tmp_path / "photo.csv", " (it is a PNG image)"),
        (tmp_path / "leads.csv.gz", " (it is a gzip archive)"),
        (tmp_path / "pixels.csv", ""),
        (tmp_path / "leads.zip", " (it is a zip archive or another kind of document)"),
        (workspace.path, " (it is a SQLite database)"),
    ]:
        for attempt in (preview_import, lambda p: import_file(workspace, p)):
            with pytest.raises(TableError) as error:
                attempt(path)
            assert str(error.value) == f"{path.name} is not a text (CSV/TSV) or .xlsx file{kind}."
    assert snapshot(workspace) == before
    # A stray NUL in a text export is no reason to refuse it.
    path = tmp_path / "stray.csv"
    path.write_bytes(b"email,name\nann@example.com,Ann\x00\n" + b"bo@example.com,Bo\n" * 50)
    assert import_file(workspace, path).imported == 2


def test_messages_quote_column_names_short(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "wide.csv", [[f"{i} " + "long name " * 30 for i in range(40)]])
    with pytest.raises(UserError) as error:
        import_file(workspace, path)
    message = str(error.value)
    assert message.startswith("No column holds the email address")
    assert len(message) < 500 and "and 30 more" in message
    with pytest.raises(UserError) as error:
        preview_import(path, ImportOptions(mapping={"Mail": "email"}))
    assert len(str(error.value)) < 500


def test_stage_tags_and_source_options(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "l.csv",
        [
            ["Email", "Stage", "Source"],
            ["a@example.com", "", ""],
            ["b@example.com", "nurturing", "LinkedIn"],
            ["c@example.com", "Nowhere", ""],
        ],
    )
    result = import_file(
        workspace,
        path,
        ImportOptions(tags=("Fair 2026",), source="Trade fair", stage="Qualifying"),
    )
    assert (result.imported, result.rejected) == (2, 1)
    a = leads.find_lead(workspace, "a@example.com")
    b = leads.find_lead(workspace, "b@example.com")
    assert (a.stage_name, a.source, a.tags) == ("Qualifying", "Trade fair", ("Fair 2026",))
    assert (b.stage_name, b.source) == ("Nurturing", "LinkedIn")
    assert entries(workspace) == {
        "a@example.com": ((None, "Qualifying", "imported from l.csv"),),
        "b@example.com": ((None, "Nurturing", "imported from l.csv"),),
    }
    assert "no stage named 'Nowhere'" in report_rows(result.rejected_file)[0]["reason"]


def test_dry_run_counts_but_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    before = snapshot(workspace)
    path = write_csv(tmp_path / "l.csv", [["Email"], ["a@example.com"], ["nope"]])
    result = import_file(workspace, path, ImportOptions(dry_run=True, tags=("new tag",)))
    assert (result.imported, result.rejected, result.batch_id) == (1, 1, None)
    assert snapshot(workspace) == before
    assert list_batches(workspace) == []


def test_undone_import_leaves_the_workspace_as_before(workspace: Workspace, tmp_path: Path) -> None:
    leads.add_lead(
        workspace,
        leads.LeadData(email="old@example.com", first_name="Old", tags=("keep",)),
    )
    before = snapshot(workspace)
    path = write_csv(
        tmp_path / "l.csv",
        [
            ["Email", "First Name", "Tags"],
            ["old@example.com", "Changed", "imported-tag"],
            ["new1@example.com", "New", "imported-tag, keep"],
            ["new2@example.com", "New", ""],
        ],
    )
    result = import_file(workspace, path, ImportOptions(on_duplicate="update", tags=("fair",)))
    assert (result.imported, result.updated) == (2, 1)
    assert leads.find_lead(workspace, "old@example.com").first_name == "Changed"
    assert result.batch_id is not None

    undone = undo_import(workspace, result.batch_id)

    assert (undone.removed, undone.restored) == (2, 1)
    assert snapshot(workspace) == before
    with pytest.raises(UserError, match="already undone"):
        undo_import(workspace, result.batch_id)


def test_undo_puts_back_only_what_is_still_as_the_import_left_it(
    workspace: Workspace, tmp_path: Path, clock: FakeClock
) -> None:
    """Undone weeks later, an import must not wipe out what happened since: a later
    import's title, a tag a user added. What it changed and nobody touched since goes back."""
    lead_id = leads.add_lead(
        workspace,
        leads.LeadData(
            email="z@example.com",
            company="Acme",
            title="Eng",
            custom_fields={"City": "Paris"},
            tags=("keep",),
        ),
    ).id
    header = ["Email", "Company", "Title", "City", "Tags"]
    first = import_file(
        workspace,
        write_csv(
            tmp_path / "a.csv", [header, ["z@example.com", "Acme Inc", "Lead", "Lyon", "fair"]]
        ),
        ImportOptions(on_duplicate="update"),
    )
    clock.advance(days=3)
    import_file(
        workspace,
        write_csv(tmp_path / "b.csv", [["Email", "Title"], ["z@example.com", "CTO"]]),
        ImportOptions(on_duplicate="update"),
    )
    bulk.tag_leads(workspace, [lead_id], "later")
    assert first.batch_id is not None

    undone = undo_import(workspace, first.batch_id)

    lead = leads.get_lead(workspace, lead_id)
    assert (lead.company, lead.custom_fields) == ("Acme", {"City": "Paris"})  # put back
    assert lead.title == "CTO"  # the later import's, kept
    assert lead.tags == ("keep", "later")  # the import's "fair" came off, the user's stays
    assert (undone.restored, undone.kept) == (1, 1)


def test_leads_worked_on_since_an_import_are_counted_before_it_is_undone(
    workspace: Workspace, tmp_path: Path, clock: FakeClock
) -> None:
    emails = [f"{n}@example.com" for n in "abcdef"]
    result = import_file(
        workspace, write_csv(tmp_path / "l.csv", [["Email"]] + [[e] for e in emails])
    )
    assert result.batch_id is not None
    assert worked_on_since(workspace, result.batch_id) == 0
    clock.advance(hours=1)
    a, b, c, d, e = (leads.find_lead(workspace, x).id for x in emails[:5])
    leads.move_leads(workspace, [a], find_stage(workspace, "Nurturing").id)
    log_interactions(workspace, [b], "call")
    bulk.tag_leads(workspace, [c], "hot")
    leads.update_lead(workspace, d, replace(leads.get_lead(workspace, d), phone="123"))
    sequence = list_sequences(workspace)[0]
    enroll(workspace, [e], sequence.id)
    assert worked_on_since(workspace, result.batch_id) == 5  # f alone was left alone


def test_cancel_leaves_nothing(workspace: Workspace, tmp_path: Path) -> None:
    rows = [["Email"]] + [[f"u{i}@example.com"] for i in range(12000)]
    path = write_csv(tmp_path / "big.csv", rows)
    before = snapshot(workspace)
    seen: list[int] = []

    def progress(p: object) -> None:
        seen.append(p.rows)  # type: ignore[attr-defined]

    with pytest.raises(ImportCancelled):
        import_file(workspace, path, progress=progress, should_cancel=lambda: len(seen) >= 2)
    assert snapshot(workspace) == before
    assert list_batches(workspace) == []


def test_sigkill_in_the_middle_leaves_the_workspace_as_before(
    workspace: Workspace, tmp_path: Path, reading: str
) -> None:
    leads.add_lead(workspace, leads.LeadData(email="before@example.com"))
    before = snapshot(workspace)
    indexes = lead_indexes(workspace)
    # Big enough for the bulk path: the leads' indexes are dropped when the kill comes.
    rows = [["Email", "Name"]] + [[f"u{i}@example.com", f"User {i}"] for i in range(30000)]
    path = write_csv(tmp_path / "big.csv", rows)
    assert workspace.path is not None
    script = textwrap.dedent(
        f"""
        import sys, time
        from nurturedesk.core import forked_reader
        from nurturedesk.core.db import open_workspace
        from nurturedesk.core.importer import import_file
        forked_reader.worth_it = lambda path: {reading != "in one process"}
        ws = open_workspace({str(workspace.path)!r})
        def progress(p):
            if p.phase == "saving":  # rows are written (uncommitted): die here
                print("SAVING", flush=True)
                time.sleep(60)
        import_file(ws, {str(path)!r}, progress=progress)
        print("FINISHED", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "SAVING"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == (reading != "in one process")  # the reader, if forked
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)  # (the child ends when the pipe to its parent breaks)
    assert not any(Path(f"/proc/{c}").exists() for c in children), "a reader left behind"
    assert snapshot(workspace) == before
    assert list_batches(workspace) == []
    assert lead_indexes(workspace) == indexes


def test_big_import_keeps_the_indexes_and_their_uniqueness(
    workspace: Workspace, tmp_path: Path
) -> None:
    indexes = lead_indexes(workspace)
    rows = [["Email", "Name"]] + [[f"U{i}@Example.com", f"User {i}"] for i in range(25000)]
    rows.append(["u7@example.com", "again"])  # a duplicate after the indexes were dropped
    result = import_file(workspace, write_csv(tmp_path / "big.csv", rows))

    assert (result.imported, result.skipped) == (25000, 1)
    assert lead_indexes(workspace) == indexes
    with workspace.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM leads"
            " WHERE email_key = 'u7@example.com' AND deleted_at IS NULL"
        ).fetchall()
    assert "uq_leads_email_key_live" in str(plan)
    with pytest.raises(IntegrityError), workspace.engine.begin() as conn:  # enforced again
        conn.exec_driver_sql(
            "INSERT INTO leads SELECT id + 1000000, email, email_key, first_name, last_name,"
            " company, title, phone, source, owner, timezone, custom_fields, search_text,"
            " stage_id, position + 1, stage_entered_at, score, created_at, updated_at,"
            " deleted_at FROM leads WHERE email_key = 'u8@example.com'"
        )


@pytest.mark.parametrize(
    ("count", "parameters"),
    [
        (1, None),
        (199, None),
        (200, None),
        (201, None),
        (450, None),
        # saved in a chunk of 5 blocks of 1,024, then 201: a lone lead left over each time
        (5 * 1024 + 201, None),
        # an SQLite before 3.32 took 999 parameters in a statement at most
        (450, 999),
    ],
)
def test_every_new_lead_is_written_in_file_order(
    workspace: Workspace, tmp_path: Path, count: int, parameters: int | None
) -> None:
    # Leads go in by statements of many rows and the rest one by one: around those sizes
    # and across a chunk, each lead must be there once, with its own values, in order.
    if parameters is not None:

        def limit(connection: sqlite3.Connection, _record: object) -> None:
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, parameters)

        event.listen(workspace.engine, "connect", limit)
        workspace.engine.dispose()  # (new connections from here on)
    rows = [["Email", "First Name", "Notes"]] + [
        [f"p{i}@example.com", f"First{i}", f"note {i}"] for i in range(count)
    ]
    result = import_file(workspace, write_csv(tmp_path / "l.csv", rows))

    assert result.imported == count
    with workspace.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT email, first_name, custom_fields, position FROM leads ORDER BY id"
        ).all()
    assert [tuple(r) for r in stored] == [
        (f"p{i}@example.com", f"First{i}", f'{{"Notes": "note {i}"}}', float(i + 1))
        for i in range(count)
    ]


def test_duplicates_name_the_row_or_lead_they_repeat_across_blocks(
    workspace: Workspace, tmp_path: Path
) -> None:
    # Rows read one by one (a refused address and a blank line shift rows against lead
    # ids) and blocks of 1,024 taken whole; duplicates of both, and of a workspace lead.
    old = leads.add_lead(workspace, leads.LeadData(email="old@example.com"))
    rows = [["Email"], ["not an address"], [""]]
    rows += [[f"u{i}@example.com"] for i in range(3000)]
    rows += [["U5@example.com"], ["u1500@EXAMPLE.com"], ["OLD@example.com"]]
    result = import_file(workspace, write_csv(tmp_path / "l.csv", rows))

    assert (result.imported, result.skipped, result.rejected) == (3000, 3, 1)
    report = report_rows(result.rejected_file)
    # u{i} is on spreadsheet row i + 4 (header, refused, blank before it).
    assert [(r["row"], r["reason"]) for r in report[1:]] == [
        ("3004", "duplicate of row 9"),
        ("3005", "duplicate of row 1504"),
        ("3006", f"duplicate of lead #{old.id}"),
    ]


@pytest.mark.parametrize("owners_in_file", [False, True])
def test_big_import_with_or_without_owners_keeps_the_owner_filter_right(
    workspace: Workspace, tmp_path: Path, owners_in_file: bool, reading: str
) -> None:
    # Without an owner column no new lead has one (the owner index stays as it is); with
    # one, the new owners must be found like the old.
    leads.add_lead(workspace, leads.LeadData(email="old@example.com", owner="sam"))
    indexes = lead_indexes(workspace)
    header = ["Email", "Owner"] if owners_in_file else ["Email"]
    rows = [header] + [
        [f"u{i}@example.com", "kim" if i % 1000 == 0 else ""][: len(header)] for i in range(25000)
    ]
    statements: list[str] = []
    event.listen(
        workspace.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    result = import_file(workspace, write_csv(tmp_path / "big.csv", rows))

    assert result.imported == 25000
    assert lead_indexes(workspace) == indexes
    # (rebuilt only when new leads can enter it: without owners it costs the import nothing)
    dropped = [s for s in statements if s.startswith("DROP INDEX")]
    if reading == "in one process":
        assert ('DROP INDEX "ix_leads_owner"' in dropped) == owners_in_file
        assert 'DROP INDEX "ix_leads_board"' in dropped
    else:  # kept: their upkeep overlaps the reading in the child
        assert dropped == []
    assert [x.email for x in leads.list_leads(workspace, leads.LeadFilter(owner="sam"))] == [
        "old@example.com"
    ]
    kims = leads.list_leads(workspace, leads.LeadFilter(owner="kim"))
    assert len(kims) == (25 if owners_in_file else 0)
    assert leads.distinct_values(workspace, "owner") == (
        ["kim", "sam"] if owners_in_file else ["sam"]
    )
    with workspace.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_what_every_row_shares_is_written_as_given(workspace: Workspace, tmp_path: Path) -> None:
    # The source and stage given for the whole file, a quote in the source, and a duplicate
    # within the file updating the first occurrence.
    path = write_csv(
        tmp_path / "l.csv",
        [
            ["Email", "First Name"],
            ["a@example.com", "Ann"],
            ["b@example.com", "Bob"],
            ["A@example.com", "Annie"],
        ],
    )
    result = import_file(
        workspace,
        path,
        ImportOptions(source="O'Brien's fair", stage="Qualifying", on_duplicate="update"),
    )
    assert (result.imported, result.updated) == (2, 1)
    for email, first in (("a@example.com", "Annie"), ("b@example.com", "Bob")):
        lead = leads.find_lead(workspace, email)
        assert (lead.first_name, lead.source, lead.stage_name, lead.owner, lead.timezone) == (
            first,
            "O'Brien's fair",
            "Qualifying",
            "",
            "",
        )
    assert entries(workspace) == {
        "a@example.com": ((None, "Qualifying", "imported from l.csv"),),
        "b@example.com": ((None, "Qualifying", "imported from l.csv"),),
    }


def test_suppressed_address_is_skipped(workspace: Workspace, tmp_path: Path) -> None:
    from nurturedesk.core.privacy import suppress_address

    suppress_address(workspace, "Gone@Example.com", "unsubscribed")
    path = write_csv(tmp_path / "l.csv", [["Email"], ["gone@example.com"], ["here@example.com"]])
    result = import_file(workspace, path)
    assert (result.imported, result.skipped) == (1, 1)
    assert "suppression list" in report_rows(result.rejected_file)[0]["reason"]


def test_formula_guard_from_our_export_is_taken_off(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Email", "Company"], ["a@example.com", "'=1+1"]])
    import_file(workspace, path)
    assert leads.find_lead(workspace, "a@example.com").company == "=1+1"


@pytest.mark.parametrize(
    "address",
    [
        "a@example.com",
        "A.B+tag@Sub.Example.CO.uk",
        "user@localhost",
        "x@123.45",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example..com",
        "a@exa_mple.com",
        "o'brien@example.ie",
        "a@b",
        "é@example.com",
        "a@bücher.de",
        "a" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
        "a@example.test",
        "a@example.invalid",
        # IDNA: too long once the domain is Unicode again, with this local part only
        "a" * 10 + "@" + ".".join(["xn--fiqaaaaaaaaaaaaaaaaaa"] * 4) + ".com",
        "a" * 30 + "@" + ".".join(["xn--fiqaaaaaaaaaaaaaaaaaa"] * 4) + ".com",
    ],
)
def test_fast_email_path_agrees_with_the_validator(address: str) -> None:
    try:
        expected: str | None = normalize_email(address)
    except UserError:
        expected = None
    try:
        got: str | None = fast_normalize_email(address)
    except UserError:
        got = None
    assert got == expected


@pytest.mark.parametrize("position", [5, 1500])  # in a block read row by row; in one taken whole
def test_a_local_part_past_the_fast_paths_64_characters_goes_to_the_validator(
    workspace: Workspace, tmp_path: Path, position: int
) -> None:
    # The fast pattern only takes local parts of up to 64 characters; a longer one is
    # judged by email-validator (which accepts it), in whichever kind of block it is.
    long_ones = ["a" * 64 + "@Example.COM", "b" * 65 + "@Example.COM"]
    rows = [[f"p{i}@example.com"] for i in range(2048)]
    rows[position], rows[position + 1] = [long_ones[0]], [long_ones[1]]
    path = tmp_path / "long.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["Email"], *rows])
    result = import_file(workspace, path)
    assert (result.imported, result.rejected) == (2048, 0)
    for address in long_ones:
        assert leads.find_lead(workspace, address).email == normalize_email(address)
    # The fast pattern itself stops at 64 (longer ones must take the validator's way).
    assert _EMAIL_FAST.fullmatch(long_ones[0]) is not None
    assert _EMAIL_FAST.fullmatch(long_ones[1]) is None


def test_leads_on_a_later_sheet_are_found(workspace: Workspace, tmp_path: Path) -> None:
    """A workbook that opens on instructions or on an empty sheet: the leads are read from
    the first sheet that has them, and the import says which."""
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Instructions"
    notes.append(["Fill in the sheet 'Leads', one person a row."])
    book.create_sheet("Empty")
    hidden = book.create_sheet("Lookups")
    hidden.append(["Email"])
    hidden.append(["hidden@example.com"])
    hidden.sheet_state = "hidden"
    data = book.create_sheet("Leads")
    data.append(["Email", "Name"])
    data.append(["ann@example.com", "Ann"])
    data.append(["bo@example.com", "Bo"])
    book.create_sheet("Later").append(["Email"])
    path = tmp_path / "form.xlsx"
    book.save(path)

    preview = preview_import(path)
    assert (preview.sheet, preview.header) == ("Leads", ["Email", "Name"])
    result = import_file(workspace, path)
    assert (result.rows, result.imported) == (2, 2)
    assert leads.find_lead(workspace, "bo@example.com").first_name == "Bo"
    assert result.warnings == (
        "Read the sheet 'Leads': the sheets before it ('Instructions', 'Empty') hold no leads",
    )

    # Addresses without a header named like one, on a sheet after a title-only sheet.
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["Contacts exported 2026-03-01"])
    book.create_sheet("Data").append(["cy@example.com", "Cy"])
    book.save(path)
    result = import_file(workspace, path)
    assert (result.rows, result.imported) == (1, 1)

    # Every sheet empty: one line saying so.
    book = Workbook()
    book.create_sheet("Other")
    book.save(path)
    with pytest.raises(TableError, match="every sheet is empty"):
        import_file(workspace, path)


def test_values_cut_to_fit_their_field_are_counted(workspace: Workspace, tmp_path: Path) -> None:
    """A long note or company is kept to what the field holds, and the import says so
    (before, a 3,000-character note lost a third without a word), on every path a row
    takes: plain rows column by column, a row to clean one by one, an update."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "Company", "Notes"])
    sheet.append(["ann@example.com", "C" * 250, "n" * 3000])  # plain: two cut
    sheet.append(["bo@example.com", "Beta", "first line\n" + "m" * 2100])  # cleaned: one cut
    sheet.append(["cy@example.com", "Gamma", "short"])  # nothing cut
    path = tmp_path / "long.xlsx"
    book.save(path)
    result = import_file(workspace, path)
    assert result.imported == 3
    assert result.warnings == (
        "3 values were longer than the field holds and cut to fit (custom fields keep 2,000"
        " characters, the others 60 to 200)",
    )
    ann = leads.find_lead(workspace, "ann@example.com")
    assert (len(ann.company), len(ann.custom_fields["Notes"])) == (200, 2000)

    update = write_csv(tmp_path / "update.csv", [["Email", "Title"], ["cy@example.com", "T" * 201]])
    result = import_file(workspace, update, ImportOptions(on_duplicate="update"))
    assert (result.updated, result.warnings) == (1, (result.warnings[0],))
    assert result.warnings[0].startswith("1 value was longer than the field holds")
    assert leads.find_lead(workspace, "cy@example.com").title == "T" * 200

    # 2,000 plain rows are built column by column: each long value is counted there too.
    long_title = "x" * 201
    path = plain_rows_then(
        tmp_path, "Email,Title,Notes", "p{i}@example.com,T{i}," + "n" * 2001, 2000, ""
    )
    path.write_text(path.read_text().replace("T1,", long_title + ",", 1))  # p1's title
    result = import_file(workspace, path)
    assert result.imported == 2000
    assert result.warnings[0].startswith("2,001 values were longer than the field holds")
    assert leads.find_lead(workspace, "p1@example.com").title == "x" * 200
