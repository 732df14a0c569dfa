"""Whatever bytes a file holds, the importer never crashes and accounts for every row."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nurturedesk.core.db import open_workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.importer import ImportOptions, import_file

cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a@example.com", "A@EXAMPLE.COM", "b@example.org", "bad@", " ", '"', "\n"]),
    st.emails().map(str),
)
table = st.lists(st.lists(cell, min_size=0, max_size=5), min_size=0, max_size=25)


def _expected_rows(path: Path, encoding: str, delimiter: str, header_row: int) -> tuple[int, int]:
    """Rows and blank rows, counted independently with the csv module."""
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        records = list(csv.reader(fh, delimiter=delimiter))[header_row:]
    blank = sum(1 for r in records if not any(c.strip() for c in r))
    return len(records) - blank, blank


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=table,
    raw=st.binary(max_size=300),
    policy=st.sampled_from(["skip", "update", "merge"]),
    use_raw=st.booleans(),
)
def test_random_files_never_crash_and_every_row_is_counted(
    rows: list[list[str]], raw: bytes, policy: str, use_raw: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.csv"
        if use_raw:
            path.write_bytes(b"Email,Name\n" + raw)
        else:
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer)
            writer.writerow(["Email", "Name", "Company", "Tags", "Extra"])
            writer.writerows(rows)
            path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        ws = open_workspace(Path(folder) / "w.sqlite")
        try:
            try:
                result = import_file(
                    ws, path, ImportOptions(on_duplicate=policy, report_path=Path(folder) / "r.csv")
                )
            except UserError:
                return  # a clear refusal (no email column, ...) is fine; a crash is not
            counted = result.imported + result.updated + result.skipped + result.rejected
            assert counted == result.rows
            expected = _expected_rows(path, result.encoding, result.delimiter, 1)
            if result.encoding in ("utf-8", "utf-8-sig") and not use_raw:
                assert (result.rows, result.blank_rows) == expected
            with ws.engine.connect() as conn:
                live = conn.exec_driver_sql(
                    "SELECT count(*) FROM leads WHERE deleted_at IS NULL"
                ).scalar()
            assert live == result.imported
        finally:
            ws.close()


address = st.one_of(
    st.emails().map(str),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.text(alphabet="abcXYZ09.+-_'é!", min_size=0, max_size=70),
        st.sampled_from(
            [
                "example.com",
                "Example.COM",
                "ex-ample.org",
                "-bad.com",
                "a..b.com",
                "localhost",
                "exa_mple.com",
                "bücher.de",
                "x.test",
                "123.45",
                "b" * 64 + ".com",
            ]
        ),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(addresses=st.lists(address, min_size=1, max_size=30))
def test_the_import_accepts_and_normalises_exactly_what_the_validator_does(
    addresses: list[str],
) -> None:
    from nurturedesk.core.importer import _unguarded
    from nurturedesk.core.validation import email_key, normalize_email

    expected: dict[str, str] = {}
    for a in addresses:
        try:
            # (less a CSV export's formula guard: "'+x@example.com" is "+x@example.com")
            email = normalize_email(_unguarded(a.strip()))
        except UserError:
            continue
        expected.setdefault(email_key(email), email)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "emails.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Email"])
            writer.writerows([a] for a in addresses)
        ws = open_workspace(Path(folder) / "w.sqlite")
        try:
            result = import_file(ws, path, ImportOptions(report_path=Path(folder) / "r.csv"))
            with ws.engine.connect() as conn:
                stored = dict(conn.exec_driver_sql("SELECT email_key, email FROM leads").fetchall())
        finally:
            ws.close()
    assert stored == expected
    assert result.imported == len(expected)


_UNPRINTABLE = {ord("\x07"): None, ord("\t"): None, ord("\u00a0"): None}
messy = st.text(alphabet="ab Zé'\"\\=+-@,;\t\x07\u00a0", max_size=8)
long_or_messy = st.one_of(messy, st.sampled_from(["x" * 130, " y" * 70, "'=SUM(1)", "'+33 1", ""]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 40), st.lists(long_or_messy, min_size=5, max_size=5)),
        min_size=1,
        max_size=60,
    ),
    policy=st.sampled_from(["skip", "update", "merge"]),
    source=st.sampled_from(["", "Fair"]),
    with_source_column=st.booleans(),
    short_rows=st.booleans(),
    clean=st.booleans(),
)
def test_leads_built_column_by_column_equal_those_built_row_by_row(
    rows: list[tuple[int, list[str]]],
    policy: str,
    source: str,
    with_source_column: bool,
    short_rows: bool,
    clean: bool,
) -> None:
    """The import builds clean blocks of new leads column by column; it must store exactly
    what the row-by-row builder (the one messy rows use) stores for the same file."""
    from nurturedesk.core import importer

    header = ["Email", "First Name", "Company", "Phone", "Notes", "Lead Source"]
    if not with_source_column:
        header[-1] = "Extra"
    lines = []
    for n, cells in rows:
        if clean:  # blocks the column-by-column builder takes (messy ones go row by row)
            cells = [" ".join(c.translate(_UNPRINTABLE).split(" ")) for c in cells]
            cells = [c.replace("  ", " ").replace("  ", " ") for c in cells]
        line = [f"user{n}@example.com", *cells]
        lines.append(line[:3] if short_rows and n % 7 == 0 else line)

    def stored(folder: Path, name: str) -> list[tuple[object, ...]]:
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([header, *lines])
        ws = open_workspace(folder / f"{name}.sqlite")
        try:
            options = ImportOptions(
                on_duplicate=policy, source=source, report_path=folder / f"{name}-r.csv"
            )
            import_file(ws, path, options)
            with ws.engine.connect() as conn:
                return conn.exec_driver_sql(
                    "SELECT id, email, email_key, first_name, last_name, company, title, phone,"
                    " source, owner, timezone, custom_fields, search_text, stage_id, position"
                    " FROM leads ORDER BY id"
                ).fetchall()
        finally:
            ws.close()

    by_column = importer._LeadRows.block

    def block_row_by_row(
        self: importer._LeadRows,
        cells: list[list[str]],
        emails: list[str],
        keys: list[str],
        stages: list[int],
        positions: list[float],
        first_id: int,
    ) -> list[tuple[object, ...]]:
        rows = zip(cells, emails, keys, stages, positions, strict=False)
        return [self.row(c, first_id + j, e, k, s, p) for j, (c, e, k, s, p) in enumerate(rows)]

    with tempfile.TemporaryDirectory() as folder:
        by_columns = stored(Path(folder), "columns")
        importer._LeadRows.block = block_row_by_row  # type: ignore[method-assign,assignment]
        try:
            by_rows = stored(Path(folder), "rows")
        finally:
            importer._LeadRows.block = by_column  # type: ignore[method-assign]
    assert by_columns == by_rows


@given(st.text())
def test_the_fast_printable_check_equals_isprintable(text: str) -> None:
    from nurturedesk.core.importer import _printable

    for value in (text, text.encode("ascii", "ignore").decode(), "".join(map(chr, range(130)))):
        assert _printable(value) == value.isprintable()


@pytest.mark.parametrize("policy", ["skip", "update", "merge"])
def test_blocks_taken_whole_give_what_row_by_row_gives(policy: str, tmp_path: Path) -> None:
    """Blocks of 1,024 rows that are all new, plain, valid addresses are taken whole; the
    workspace, the counts and the report must be what the row-by-row loop gives."""
    from nurturedesk.core import importer, leads

    domains = ["example.com", "Example.ORG", "ex.net", "sub.example.co.uk"]
    header = ["Email", "First Name", "Company", "Notes"]
    lines = []
    # Blocks: 1 whole (its domains new to the import), 2 whole, 3 a blank row and a bad
    # address, 4 an address whose domain the validator refuses, 5 duplicates (of rows in
    # block 2, of a lead already there), 6 whole with a domain new to the import.
    for i in range(6000):
        email = f"user{i}@{domains[i % 4]}"
        if i == 2700:
            email = "not an address"
        elif i == 3300:
            email = "user3300@mail.invalid"
        elif i == 5500:
            email = "user5500@brand-new.example.net"
        elif i == 4200:
            email = f"USER1500@{domains[1500 % 4]}"
        elif i == 4400:
            email = "old@example.com"
        elif i == 4500:
            email = f"user1800@{domains[1800 % 4]}"
        lines.append([email, f"N{i}", f"C{i % 7}", "" if i % 3 else "note"])
    lines.insert(2600, ["", "", "", ""])
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *lines])

    queued_build = importer._LeadRows.build
    queued_rows = []  # new leads read row by row (the rest were in blocks taken whole)

    def counting(
        self: importer._LeadRows, pending: list[tuple[object, ...]], first_id: int
    ) -> list[tuple[object, ...]]:
        queued_rows.append(len(pending))
        return queued_build(self, pending, first_id)

    def run(whole: bool) -> tuple[object, ...]:
        ws = open_workspace(tmp_path / f"{whole}.sqlite")
        leads.add_lead(ws, leads.LeadData(email="old@example.com", company="Old"))
        importer.WHOLE_BLOCKS = whole
        importer._LeadRows.build = counting  # type: ignore[method-assign,assignment]
        try:
            result = import_file(
                ws, path, ImportOptions(on_duplicate=policy, report_path=tmp_path / f"{whole}.csv")
            )
            with ws.engine.connect() as conn:
                stored = conn.exec_driver_sql(
                    "SELECT id, email, email_key, first_name, company, custom_fields,"
                    " search_text, stage_id, position FROM leads ORDER BY id"
                ).fetchall()
        finally:
            importer.WHOLE_BLOCKS = True
            importer._LeadRows.build = queued_build  # type: ignore[method-assign]
            ws.close()
        counts = (result.rows, result.imported, result.updated, result.skipped, result.rejected)
        report = (tmp_path / f"{whole}.csv").read_text(encoding="utf-8-sig")
        return counts, result.blank_rows, stored, report

    whole = run(True)
    assert sum(queued_rows) <= 3 * 1024  # only blocks 3, 4 and 5 went row by row
    assert whole == run(False)
    # imported, updated, skipped, rejected: 3 duplicates, 2 bad addresses
    expected = {"skip": (5995, 0, 3, 2), "update": (5995, 3, 0, 2), "merge": (5995, 1, 2, 2)}
    assert whole[0][1:] == expected[policy]


label = st.one_of(
    st.text(alphabet="aZ9-", min_size=0, max_size=6),
    st.sampled_from(["xn--bcher-kva", "ab--c", "a" * 63, "b" * 64, "x1", "-a", "a-"]),
)
hostname = st.one_of(
    st.lists(label, min_size=1, max_size=4).map(".".join),
    st.tuples(
        st.lists(label, min_size=0, max_size=2),
        st.sampled_from(
            ["test", "LOCAL", "Onion", "arpa", "localhost", "invalid", "com", "C0m", "123", "de."]
        ),
    ).map(lambda parts: ".".join([*parts[0], parts[1]])),
    st.text(alphabet="aZ9-.", max_size=20),
    st.integers(240, 260).map(
        lambda n: ("a" * 60 + ".") * (n // 61) + "b" * (n % 61 or 2) + ".com"
    ),
)


@settings(max_examples=400, deadline=None)
@given(domain=hostname, local=st.sampled_from(["a", "Jane.Doe", "x" * 64]))
def test_domains_checked_without_the_validator_get_its_verdict(domain: str, local: str) -> None:
    """Plain host names are checked by a pattern instead of email-validator (25 us each):
    a domain it takes must be one the validator accepts with any local part, normalised the
    same; anything else goes to the validator with the real address."""
    from nurturedesk.core.importer import _plain_domain, fast_normalize_email
    from nurturedesk.core.validation import normalize_email

    def verdict(check: object, address: str) -> str | None:
        try:
            return check(address)  # type: ignore[operator,no-any-return]
        except UserError:
            return None

    address = f"{local}@{domain}"
    plain = _plain_domain.__wrapped__(domain)
    if plain is not None and len(address) <= 254:
        assert verdict(normalize_email, address) == f"{local}@{plain}"
    assert verdict(fast_normalize_email, address) == verdict(normalize_email, address)


def _cleaned_alone(cell: str, limit: int) -> str:
    """What a cell holds once imported, spelled out from `validation.clean_text`: controls
    and tabs out, spaces trimmed and single, our export's formula quote off, cut to size."""
    from nurturedesk.core.validation import clean_text

    value = clean_text(cell)
    if value[:2] in ("'=", "'+", "'-", "'@"):
        value = value[1:]
    return value[:limit]


plain_cell = st.text(alphabet="ab Z-", max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    cells=st.one_of(
        st.lists(plain_cell, min_size=6, max_size=7),  # rows the whole-row checks take
        st.lists(
            st.one_of(
                plain_cell,
                messy,
                st.text(max_size=6),
                st.sampled_from(["a\nb", " 'x", "'=1", "\r\n", "x" * 2001]),
            ),
            min_size=6,
            max_size=7,
        ),
    )
)
def test_a_row_is_cleaned_as_each_cell_is_on_its_own(cells: list[str]) -> None:
    """A row is cleaned by whole-row checks when it can be; the result must be what cleaning
    each cell on its own gives (control characters, spaces, formula guard, limits)."""
    from nurturedesk.core import importer

    mapping = ["email", "first_name", "company", "phone", "custom:Notes", "custom:City"]
    rows = importer._LeadRows(mapping, "", None)
    fields, custom = rows.values(cells)
    texts = dict(zip(importer.TEXT_FIELDS, fields, strict=True))
    assert texts["first_name"] == _cleaned_alone(cells[1], 120)
    assert texts["company"] == _cleaned_alone(cells[2], 200)
    assert texts["phone"] == _cleaned_alone(cells[3], 60)
    expected = {
        name: value
        for name, cell in (("Notes", cells[4]), ("City", cells[5]))
        if (value := _cleaned_alone(cell, 2000))
    }
    assert custom == expected


address_part = st.text(alphabet="aZ09.-_+'@[]\" é", max_size=8)
host = st.one_of(
    address_part,
    st.sampled_from(["example.com", "Example.ORG", "x.co.uk", "-a.com", ".a.com", "a.com."]),
)
address = st.one_of(
    st.emails().map(str),
    st.builds(lambda local, domain: f"{local}@{domain}", address_part, host),
    address_part,
    st.sampled_from(["a" * 64 + "@example.com", "a" * 65 + "@example.com", "x@" + "b" * 260]),
)


@settings(max_examples=300)
@given(st.lists(address, min_size=1, max_size=4))
@example([".a@example.com"])
@example(["a.@example.com"])
@example(["a@example.com", ".b@example.com"])
@example(["a@x.com@example.com"])
@example(["a@example.com", "@example.com"])
def test_a_block_of_addresses_is_taken_whole_exactly_when_each_would_be(
    addresses: list[str],
) -> None:
    """The whole-block check of the addresses (one pass over the block's text) accepts a
    block exactly when the per-address pattern and the host name check accept every one,
    and hands back the same domains."""
    from nurturedesk.core.importer import _EMAIL_FAST, _plain_address_domains, _plain_domain

    matches = [_EMAIL_FAST.fullmatch(a) for a in addresses]
    by_pattern = (
        [m.group(2) for m in matches if m is not None]
        if all(matches) and max(map(len, addresses)) <= 254
        else None
    )
    got = _plain_address_domains(addresses)
    whole = got is not None and all(map(_plain_domain, got))
    assert whole == (by_pattern is not None and all(map(_plain_domain, by_pattern)))
    if whole:
        assert got == by_pattern


@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 99), max_size=4),
    st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=6),
)
def test_claiming_keys_enters_all_or_nothing(before: dict[str, int], keys: list[str]) -> None:
    from nurturedesk.core.importer import _claim

    seen = dict(before)
    all_new = len(set(keys)) == len(keys) and not set(keys) & set(before)
    assert _claim(seen, keys, 1000) == all_new
    assert seen == ({**before, **{k: 1000 + i for i, k in enumerate(keys)}} if all_new else before)
