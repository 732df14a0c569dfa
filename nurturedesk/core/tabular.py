"""Reading the spreadsheets people actually get: CSV/TSV in any common encoding, and .xlsx.

`open_table(path)` looks at the file (encoding, delimiter, header row) without reading it
all, and gives a `Table` whose `rows()` streams the data rows as lists of strings, numbered
as a spreadsheet shows them (the header is row 1). Nothing here knows about leads.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice, pairwise
from pathlib import Path
from typing import Any, BinaryIO

from nurturedesk.core.codepages import decoded, latin_code_page
from nurturedesk.core.errors import UserError

log = logging.getLogger(__name__)

# A stray quote makes the rest of a file one field: let it through (the row is then
# rejected and reported) rather than stop the whole import with csv's 128 KiB limit.
csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 256 * 1024
HEADER_SEARCH = 10  # non-blank rows looked at for the header (title lines may come first)
SHEET_SAMPLE = 50  # rows of each sheet looked at for addresses, to find the one with leads
_EXCEL_SEP = re.compile(r"sep=(.)\r?\n", re.IGNORECASE)
# Looks like an email address (its shape only: the import validates them).
ADDRESS_SHAPE = re.compile(r"\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# How the files people pick by mistake begin (a renamed image, an archive, a database): said
# at once, instead of a table of garbage. Others are known by their control bytes.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
)
# Bytes text holds (but for tabs, line and page breaks, Ctrl-Z and escape) and a binary file
# holds plenty of (NUL above all).
_CONTROL_BYTES = bytes(sorted(set(range(32)) - set(b"\t\n\x0b\x0c\r\x1a\x1b") | {127}))


# The reader decodes as errors="replace" does (each undecodable sequence becomes U+FFFD) and
# counts them, on the table being read in this thread: the import can then say the encoding
# looks wrong. The handler runs only where a decoding error is, so reading costs nothing more.
_reading = threading.local()
_REPLACE = "nurturedesk.replace"


def _replace_counted(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    table = getattr(_reading, "table", None)
    if table is not None:
        table.replaced += 1
    return "\ufffd", exc.end


codecs.register_error(_REPLACE, _replace_counted)


class TableError(UserError):
    """The file cannot be read as a table (not a spreadsheet, damaged, empty)."""


def _not_a_table(path: Path, kind: str = "") -> TableError:
    what = f" (it is {kind})" if kind else ""
    return TableError(f"{path.name} is not a text (CSV/TSV) or .xlsx file{what}.")


@dataclass
class Table:
    """An opened table file: its header and a stream of its data rows."""

    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    encoding: str = ""
    delimiter: str = ""
    size: int = 0
    header_row: int = 1  # spreadsheet number of the header row (0: the file has none)
    sheet: str | None = None  # the worksheet read (xlsx; None: the first)
    passed_sheets: tuple[str, ...] = ()  # sheets before it that hold no leads
    _position: Any = field(default=None, repr=False)  # callable -> bytes read / rows read
    _total_rows: int | None = field(default=None, repr=False)
    _raw: Any = field(default=None, repr=False)
    _reader: Any = field(default=None, repr=False)  # the csv reader of records()
    replaced: int = 0  # characters the last reading could not decode (now U+FFFD)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) for every data row, blank rows included."""
        if self.kind == "xlsx":
            yield from self._xlsx_rows()
        else:
            yield from self._csv_rows()

    def records(self) -> Iterator[list[str]]:
        """The cells of each data row, in order (the row after the header first): the
        fast path for readers that number rows themselves from `header_row`."""
        if self.kind == "xlsx":
            self.close()
            rows = self._xlsx_rows()
            self._raw = rows  # closing the generator closes the workbook
            return (cells for _n, cells in rows)
        return self._csv_records()

    def _csv_records(self) -> Iterator[list[str]]:
        # The csv reader itself, not a generator around it (a tenth of the import's time);
        # `close()` closes the file.
        self.close()
        raw = self.path.open("rb")
        text = self._raw = self._decoded(raw)
        self._position = raw.tell
        reader = self._reader = csv.reader(text, delimiter=self.delimiter)
        for _ in range(self.header_row):
            next(reader, None)
        return reader

    def _decoded(self, raw: BinaryIO) -> io.TextIOWrapper:
        """The file as text, what cannot be decoded counted in `replaced` (from 0 again)."""
        self.replaced = 0
        _reading.table = self
        return io.TextIOWrapper(raw, encoding=self.encoding, errors=_REPLACE, newline="")

    def lines_read(self) -> int | None:
        """Lines of the file that records() has gone through so far (CSV only): more than
        the records when a quoted cell holds line breaks."""
        return None if self._reader is None else int(self._reader.line_num)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def fraction_read(self) -> float:
        if self._position is None:
            return 0.0
        done = self._position()
        total = self._total_rows if self.kind == "xlsx" else self.size
        return min(1.0, done / total) if total else 0.0

    # --- CSV ---------------------------------------------------------------------------

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open("rb") as raw:
            text = self._decoded(raw)
            self._position = raw.tell
            reader = csv.reader(text, delimiter=self.delimiter)
            number = 0
            for cells in reader:
                number += 1
                if number <= self.header_row:
                    continue
                yield number, cells

    # --- XLSX --------------------------------------------------------------------------

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        number = 0

        def done() -> int:
            return number

        self._position = done
        for cells in _xlsx_iter(self.path, self, self.sheet):
            number += 1
            if number > self.header_row:
                yield number, cells


def open_table(
    path: str | Path,
    encoding: str | None = None,
    delimiter: str | None = None,
    is_header: Callable[[list[str]], bool] | None = None,
) -> Table:
    """Look at a file and get ready to read it. Raises TableError with what is wrong.

    The header is the first row that is not blank or, if `is_header` accepts one of the
    first HEADER_SEARCH non-blank rows, that one (title lines above the header are passed
    over). A file whose first row holds an address has no header (see _find_header)."""
    path = Path(path)
    if encoding:
        check_encoding(encoding)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(16)
    except FileNotFoundError as exc:
        raise TableError(f"There is no file {path}.") from exc
    except IsADirectoryError as exc:
        raise TableError(f"{path} is a folder, not a file.") from exc
    except OSError as exc:
        raise TableError(f"Cannot read {path}: {exc.strerror}.") from exc
    if size == 0:
        raise TableError(f"{path.name} is empty.")
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            raise _not_a_table(path, kind)
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(path, size, is_header)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if _is_encrypted_office_file(path):
            raise TableError(
                f"{path.name} is password-protected: open it in Excel, remove the password"
                " (File > Info > Protect Workbook > Encrypt with Password) and save it."
            )
        raise TableError(
            f"{path.name} is an old Excel (.xls) file: save it as .xlsx or CSV and import that."
        )
    return _open_csv(path, size, encoding, delimiter, is_header)


def _find_header(
    rows: Iterable[list[str]], is_header: Callable[[list[str]], bool] | None
) -> tuple[list[str], int] | None:
    """The header row and its number among `rows` (see open_table), or None if all blank.

    When no row is one `is_header` accepts and the first row holds an address, the file has
    no header (a list of addresses, one a line): the columns are then named by position and
    the number is that of the row before it, so that the row is read as data. (A title line
    with an address above a real header is passed over like any title line.)"""
    rows = iter(rows)
    candidates: list[tuple[list[str], int]] = []  # the first non-blank rows, numbered
    for number, cells in enumerate(rows, 1):
        if any(c.strip() for c in cells):
            if is_header is not None and is_header(cells):
                return cells, number
            candidates.append((cells, number))
            if is_header is None or len(candidates) > HEADER_SEARCH:
                break
    if not candidates:
        return None
    first, number = candidates[0]
    if any(map(ADDRESS_SHAPE.fullmatch, first)):
        sample = [cells for cells, _n in candidates]
        if is_header is None:  # (only the first row was read)
            sample += islice(rows, HEADER_SEARCH)
        return _headerless(sample), number - 1
    if is_header is None:
        return first, number
    # No row is named like a header we know: the row above the first one holding an address
    # (a title line, then a header in another language), else the first row as it is.
    for (cells, number), (below, _n) in pairwise(candidates):
        if not any(map(ADDRESS_SHAPE.fullmatch, cells)) and any(
            map(ADDRESS_SHAPE.fullmatch, below)
        ):
            return cells, number
    return candidates[0]


def _headerless(sample: Iterable[list[str]]) -> list[str]:
    """Column names by position for a file without a header, as wide as its first rows
    (up to their last non-blank cell: an Excel sheet's formatted empty columns do not count)."""
    width = 0
    for cells in sample:
        filled = [i for i, c in enumerate(cells) if c.strip()]
        width = max(width, filled[-1] + 1 if filled else 0)
    return [column_name(i) for i in range(width)]


def _open_csv(
    path: Path,
    size: int,
    encoding: str | None,
    delimiter: str | None,
    is_header: Callable[[list[str]], bool] | None,
) -> Table:
    if not encoding:
        encoding = detect_encoding(path)
    with path.open("rb") as raw:
        sample = raw.read(SAMPLE_BYTES)
    if _looks_binary(sample) and not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        raise _not_a_table(path)
    try:
        # As the reader will: its incremental decoder (UTF-16 and UTF-32 want their BOM).
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
            sample, final=len(sample) >= size
        )
    except UnicodeError as exc:
        raise TableError(f"{path.name} cannot be read as {encoding}: {exc}.") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    # Excel's "sep=;" first line names the delimiter; it is a row of the file, not the header.
    excel_sep = _EXCEL_SEP.match(text)
    if excel_sep is not None:
        text = text[excel_sep.end() :]
        delimiter = delimiter or excel_sep.group(1)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else sniff_delimiter(text)
    elif delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1:
        raise TableError(f"The delimiter must be one character, not {delimiter!r}.")
    found = _find_header(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), is_header)
    if found is None:
        raise TableError(f"{path.name} has no header row (the first lines are blank).")
    header, header_row = found
    if excel_sep is not None:
        header_row += 1
    return Table(
        path=path,
        kind="csv",
        header=unique_headers(header),
        encoding=encoding,
        delimiter=delimiter,
        size=size,
        header_row=header_row,
    )


def _load_workbook(path: Path) -> Any:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise TableError(f"{path.name} is not a readable Excel (.xlsx) file: {exc}.") from exc


def _xlsx_iter(
    path: Path, table: Table | None = None, sheet: str | None = None
) -> Iterator[list[str]]:
    """The rows of a sheet (the first unless named) as text: the fast reader, or openpyxl
    where it gives up (it carries on after the rows already read, so none is read twice or
    lost)."""
    from nurturedesk.core.xlsx_reader import XlsxRows

    fast = XlsxRows(path, cell_text, sheet)
    done = 0
    try:
        for cells in fast:
            if table is not None:
                table._total_rows = fast.total_rows
            done += 1
            yield cells
        return
    except Exception as exc:
        log.info("fast xlsx reader stopped at row %d of %s (%r); using openpyxl", done, path, exc)
    book = _load_workbook(path)
    try:
        if not book.worksheets:
            raise TableError(f"{path.name} has no sheets.")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        if table is not None:
            table._total_rows = worksheet.max_row or None
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if number > done:
                yield [cell_text(v) for v in values]
    finally:
        book.close()


def check_encoding(name: str) -> None:
    """A UserError unless `name` is an encoding text files are written in."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError) as exc:
        raise TableError(f"Unknown encoding {name!r}.") from exc
    # rot13, base64, zlib, ... turn bytes into bytes; punycode and idna encode domain names.
    if not getattr(info, "_is_text_encoding", True) or info.name in ("punycode", "idna"):
        raise TableError(f"{name!r} is not a text encoding.")


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes, and control bytes in more than 1 % of the sample: no CSV holds that many
    (a stray NUL or two in a text export does not count). UTF-16 and UTF-32 do: the caller
    asks for the others only."""
    if b"\x00" not in sample or _looks_utf16(sample):  # (UTF-16 read as another encoding)
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls * 100 > len(sample)


# Excel saves a workbook with a password as an OLE2 file (as an old .xls) holding the
# encrypted .xlsx in a stream of this name (UTF-16 in the file's directory).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _is_encrypted_office_file(path: Path) -> bool:
    """Whether an OLE2 file is an encrypted .xlsx (its directory may be anywhere in it)."""
    overlap = len(_ENCRYPTED_PACKAGE)
    with path.open("rb") as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            if _ENCRYPTED_PACKAGE in tail + chunk:
                return True
            tail = chunk[-overlap:]
    return False


def _open_xlsx(path: Path, size: int, is_header: Callable[[list[str]], bool] | None) -> Table:
    # A zip without Excel's xl/ folder is an archive or another office document (a damaged
    # one is left to the readers below, which say it is damaged).
    with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(path) as book:
        names = book.namelist()
        if not any(name.startswith("xl/") for name in names):
            if "mimetype" in names and book.read("mimetype").startswith(_ODS_MIMETYPE):
                raise TableError(
                    f"{path.name} is an OpenDocument spreadsheet (.ods): save it as .xlsx or"
                    " CSV and import that."
                )
            raise _not_a_table(path, "a zip archive or another kind of document")
    # The leads are on the first sheet that has them: a workbook may open on an empty sheet
    # or one of instructions. Its header names the email, else its first rows hold an
    # address, else it is the first sheet that is not empty.
    names = _worksheet_names(path)
    best: tuple[int, str, list[str], int] | None = None  # (rank, sheet, header, header row)
    sheets: list[str | None] = [*names] or [None]  # (None: the first)
    for name in sheets:
        rows = _xlsx_iter(path, sheet=name)
        try:
            sample = list(islice(rows, SHEET_SAMPLE))
            found = _find_header(chain(sample, rows), is_header)
            if found is not None:
                rank = _leads_rank(found[0], sample, is_header)
                if best is None or rank < best[0]:
                    best = (rank, name or "", *found)
        finally:
            rows.close()  # type: ignore[attr-defined]
        if best is not None and best[0] == 0:
            break
    if best is None:
        raise TableError(f"{path.name} has no rows: every sheet is empty.")
    _rank, sheet, header, header_row = best
    while header and not header[-1].strip():  # formatted but empty trailing columns
        header.pop()
    passed = tuple(names[: names.index(sheet)]) if sheet in names else ()
    return Table(
        path=path,
        kind="xlsx",
        header=unique_headers(header),
        size=size,
        header_row=header_row,
        sheet=sheet or None,
        passed_sheets=passed,
    )


def _leads_rank(
    header: list[str], sample: list[list[str]], is_header: Callable[[list[str]], bool] | None
) -> int:
    """How surely a sheet holds the leads, from its header and first rows: 0 its header
    names the email (or any header will do), 1 an address is in its first rows, 2 neither."""
    if is_header is None or is_header(header):
        return 0
    return 1 if any(ADDRESS_SHAPE.fullmatch(c) for cells in sample for c in cells) else 2


def _worksheet_names(path: Path) -> list[str]:
    """The visible worksheets of a workbook, in tab order ([] if it cannot be told: the
    reader then reads the first sheet and says what is wrong)."""
    from nurturedesk.core.xlsx_reader import worksheet_names

    try:
        return worksheet_names(path)
    except Exception as exc:  # an odd layout: ask openpyxl
        log.info("listing the sheets of %s with openpyxl (%r)", path, exc)
    try:
        book = _load_workbook(path)
    except TableError:
        return []
    try:
        return [ws.title for ws in book.worksheets if ws.sheet_state == "visible"]
    finally:
        book.close()


def cell_text(value: object) -> str:
    """An Excel cell as the text a user sees (a phone stored as a number keeps no '.0')."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def column_name(index: int) -> str:
    """The name of a column that has none (0 -> "Column 1")."""
    return f"Column {index + 1}"


def unique_headers(cells: list[str]) -> list[str]:
    """Header names made usable: trimmed, blanks named by position, repeats numbered."""
    result: list[str] = []
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        name = " ".join(str(cell).split()) or column_name(i)
        candidate, n = name, 2
        while candidate.casefold() in seen:
            candidate = f"{name} ({n})"
            n += 1
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


_ASCII_BYTES = bytes(range(128))
FEW_LETTERS = 32  # non-ASCII bytes in the sample below which the detector is not asked


def detect_encoding(path: Path) -> str:
    """BOM first; then UTF-16 without BOM (NUL bytes); then UTF-8 if the whole file is valid;
    else the Latin code page the words say (codepages.py), else charset-normalizer's best
    guess, falling back to cp1252 (Excel's 'CSV' on Windows). What cannot be told apart
    (a few Hungarian names read as Portuguese) the user picks in the import dialog's
    Encoding or with `--encoding`."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        for bom, name in _BOMS:
            if sample.startswith(bom):
                return name
        if _looks_utf16(sample):
            return "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
        fh.seek(0)
        bad = _not_utf8_at(fh)
        if bad is None:
            return "utf-8"
        if sample.isascii():
            # The letters that decide come later (a list whose first rows have no accent):
            # the detector looks there, not at ASCII that every encoding reads the same.
            fh.seek(max(0, bad - 1024))
            sample = fh.read(65536)
    sample = sample[:65536]
    if (page := latin_code_page(sample)) is not None:
        return page
    western = decoded(sample, "cp1252")
    if len(sample.translate(None, _ASCII_BYTES)) < FEW_LETTERS and western is not None:
        # A few accented letters are too little for the detector (it took a name with an
        # e-acute and a u-umlaut for Baltic cp775): Excel's cp1252 it is.
        return "cp1252"
    with contextlib.suppress(Exception):  # charset-normalizer must never stop an import
        from charset_normalizer import from_bytes

        matches = from_bytes(sample)
        # Single-byte Western code pages decode the same bytes to different letters and the
        # detector cannot always tell them apart on a short sample: prefer Excel's cp1252,
        # also when it names another code page that reads this file as cp1252 does (it
        # lists one of them only: "Café Olé" once came back as Baltic cp775, not cp1252).
        if western is not None and (
            not matches or any(decoded(sample, m.encoding) == western for m in matches)
        ):
            return "cp1252"
        best = matches.best()
        if best is not None:
            return str(best.encoding)
    return "cp1252"


def _looks_utf16(sample: bytes) -> bool:
    if len(sample) < 4:
        return False
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) / 2
    return max(even, odd) > 0.3 * half and min(even, odd) < 0.05 * half


def _not_utf8_at(fh: BinaryIO) -> int | None:
    """Where (about) the file stops being valid UTF-8, or None if it is UTF-8 throughout."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while chunk := fh.read(1 << 20):
            # ASCII is UTF-8: no need to decode it (most of a typical file; 8 -> 2 ms for
            # 13 MB), unless the decoder holds the start of a letter cut off at the end of
            # the previous block.
            if not (chunk.isascii() and not decoder.getstate()[0]):
                decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + max(0, exc.start - len(decoder.getstate()[0]))
    return None


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into the same number (> 1) of columns."""
    best, best_score = ",", -1.0
    lines = text[:65536]
    for delim in DELIMITERS:
        widths = []
        reader = csv.reader(io.StringIO(lines, newline=""), delimiter=delim)
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    widths.append(len(cells))
                if len(widths) >= 30:
                    break
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0]) / len(widths)
        score = consistent * 1000 + widths[0]
        if score > best_score:
            best, best_score = delim, score
    return best
