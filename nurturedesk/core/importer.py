"""Importing leads from a file: mapping, validation, dedupe, one transaction, undo.

Every data row ends in exactly one of four counts: imported (a new lead), updated (an
existing lead changed), skipped (a duplicate under the chosen policy, nothing new, or a
suppressed address) or rejected (no or invalid email, bad value). Skipped and rejected rows
go to a report file with their row number and the reason.

The whole import is one SQLite transaction: cancelled, failed or killed, nothing of it is
in the workspace. Speed comes from doing the per-row work in plain Python against
in-memory sets, and writing with `executemany` in chunks of the same transaction; the
leads created get consecutive ids so the batch (kept for undo) only stores their range.
Rows are read in blocks of 1,024: a block of plain new leads is taken whole and built
column by column (C-level maps), any other block row by row, with the same results
(tested both ways). A big file is read in a forked child while this process writes what
it built, when a CPU is free (forked_reader; the same results, tested both ways). Read in
one process, a big import into a small workspace drops the leads' secondary indexes and
creates them again before the commit, in the same transaction. The cyclic garbage
collector is paused while the rows are read (the loop makes no cycles).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import json
import operator
import re
import sqlite3
import string
import tempfile
import time
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import accumulate, chain, islice, repeat
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from nurturedesk.core import forked_reader
from nurturedesk.core.db import Workspace, storage_error
from nurturedesk.core.errors import NotFoundError, UserError, ValidationError
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.leads import TEXT_FIELDS
from nurturedesk.core.models import (
    Base,
    Enrollment,
    ImportBatch,
    ImportBatchUpdate,
    Interaction,
    Lead,
    Stage,
    StageHistory,
    SuppressedHash,
    Tag,
    lead_tags,
)
from nurturedesk.core.tabular import ADDRESS_SHAPE, Table, open_table
from nurturedesk.core.timestamps import Timestamp, to_micros
from nurturedesk.core.validation import clean_text, normalize_email, tag_names

POLICIES = ("skip", "update", "merge")
T = TypeVar("T")
IGNORE = "ignore"
CUSTOM = "custom:"
# Targets a column can be mapped to (besides "ignore" and "custom:<name>").
FIELDS = ("email", *TEXT_FIELDS, "full_name", "tags", "stage")
CHUNK = 5000
CUSTOM_LIMIT = 2000  # characters a custom field's value keeps (as leads.py cleans them)
# A big import into a workspace with few leads builds the leads' secondary indexes once, at
# the end and inside the same transaction (one sort each), instead of updating them row by
# row. The unique email index is checked again when it is rebuilt.
BULK_MIN_ROWS = 20_000
# Page cache of the import's connection while it runs (KiB; the previous size is restored):
# fewer dirty pages spilled to the WAL and written again before the commit. Memory only.
IMPORT_CACHE_KIB = 65_536
EMAIL_SAMPLE_ROWS = 20  # rows looked at to find the email column by its values
COLUMNS_SHOWN, COLUMN_NAME_SHOWN = 10, 30  # of the column names a message quotes
REPORT_COLUMNS = ("status", "row", "reason")  # before the file's own, in the report
# Why rows were skipped, as the result counts them.
SKIPPED_REPEATED = "repeated in the file"
SKIPPED_KNOWN = "already in NurtureDesk"
SKIPPED_SUPPRESSED = "on the suppression list"
FIRST_PROBLEMS = 3  # rejected rows an import result names (all are in the report)
EVENT_IDS_LIMIT = 1000  # an import of more leads publishes its change without their ids
LEADS = cast(SqlTable, Lead.__table__)

# Normalised header (lower case, letters and digits only) -> field. Headers seen in exports
# of Mailchimp, HubSpot, Salesforce, Pipedrive, Google and Outlook contacts, LinkedIn, ...,
# and the same headers in the languages of Europe ("Vorname", "Apellidos", "Imię", ...).
HEADER_GUESSES: dict[str, str] = {}
for _field, _names in {
    "email": "email emailaddress e-mail mail emailid primaryemail workemail businessemail "
    "email1value e-mailaddress emailaddr courriel emailadresse adresseemail adressemail "
    "correo correoelectronico postaelettronica indirizzoemail adresemail emailadres epost "
    "epostadress sahkoposti",
    "first_name": "firstname first givenname forename fname prenom vorname voornaam fornamn "
    "fornavn etunimi imie jmeno nombre nome",
    "last_name": "lastname last surname familyname lname nom nachname familienname apellido "
    "apellidos cognome sobrenome achternaam efternamn etternavn efternavn sukunimi nazwisko "
    "prijmeni",
    "full_name": "name fullname contactname displayname contact nomcomplet nombrecompleto "
    "nomecompleto volledigenaam naam vorundnachname nombreyapellidos nomeecognome prenometnom "
    "imieinazwisko jmenoaprijmeni",
    "company": "company companyname organization organisation organizationname account "
    "accountname employer business firma societe entreprise empresa azienda unternehmen "
    "firmenname bedrijf foretag bedrift yritys nazwafirmy ragionesociale",
    "title": "title jobtitle position role function poste fonction cargo puesto ruolo funktion "
    "stanowisko functie titel befattning",
    "phone": "phone phonenumber mobile mobilephone telephone tel workphone businessphone "
    "phone1value cell cellphone telefon telefono telefone telefoonnummer telefonnummer handy "
    "mobil movil cellulare portable celular puhelin",
    "source": "source leadsource origin quelle herkunft origine fuente fonte bron",
    "owner": "owner leadowner contactowner assignedto accountowner",
    "timezone": "timezone tz",
    "tags": "tags tag labels label",
    "stage": "stage leadstage lifecyclestage funnelstage",
    # What our own export writes but an import must not take back.
    IGNORE: "score createdat updatedat id leadid",
}.items():
    for _name in _names.split():
        HEADER_GUESSES[re.sub(r"[^0-9a-z]", "", _name)] = _field
# "Nombre", "Nome": the first name beside a surname column, else the whole name (a Brazilian
# list's "Nome" alone holds "Maria Silva").
_FIRST_OR_WHOLE_NAME = {"nombre", "nome"}

_SPACES = re.compile(r" {2,}")
_LOCAL_ASCII = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_FORMULA_GUARD = ("'=", "'+", "'-", "'@")  # what our export puts before a formula-like cell


class ImportCancelled(UserError):
    def __init__(self) -> None:
        super().__init__("The import was cancelled; nothing was imported.")


@dataclass(frozen=True)
class ImportOptions:
    # Column name -> field, "ignore" or "custom:<name>"; overrides the guesses.
    mapping: dict[str, str] = field(default_factory=dict)
    unknown_columns: str = "custom"  # or "ignore": what to do with columns not recognised
    on_duplicate: str = "skip"
    tags: tuple[str, ...] = ()
    source: str = ""  # for new leads whose row gives none
    stage: str | None = None  # stage name for new leads (default: the first stage)
    dry_run: bool = False
    encoding: str | None = None
    delimiter: str | None = None
    report_path: Path | None = None  # where skipped/rejected rows go (default: beside the file)


@dataclass(frozen=True)
class ImportProgress:
    rows: int
    fraction: float  # of the file read, 0..1
    rows_per_second: float
    phase: str  # "reading" or "saving"


@dataclass(frozen=True)
class ImportResult:
    rows: int
    imported: int
    updated: int
    skipped: int
    rejected: int
    blank_rows: int
    rejected_file: str | None
    batch_id: int | None
    dry_run: bool
    seconds: float
    encoding: str
    delimiter: str
    mapping: tuple[tuple[str, str], ...]
    lead_ids: tuple[int, int] | None = None  # first and last id of the leads created
    # The first rejected rows, "row N: reason", to show where the report is not at hand.
    problems: tuple[str, ...] = ()
    # What the user should check although the import went through (a wrong encoding).
    warnings: tuple[str, ...] = ()
    # Why rows were skipped (SKIPPED_*) and how many, most first.
    skipped_why: tuple[tuple[str, int], ...] = ()

    def skipped_summary(self) -> str:
        """'3 repeated in the file, 2 already in NurtureDesk' ('' if none was skipped)."""
        return ", ".join(f"{n:,} {why}" for why, n in self.skipped_why)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "blank_rows": self.blank_rows,
            "rejected_file": self.rejected_file,
            "batch_id": self.batch_id,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": {column: target for column, target in self.mapping},
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "skipped_why": dict(self.skipped_why),
        }


@dataclass(frozen=True)
class ImportPreview:
    header: list[str]
    mapping: list[str]  # target per column
    rows: list[list[str]]
    encoding: str
    delimiter: str
    kind: str
    row_numbers: list[int] = field(default_factory=list)  # each sample row's, in the file
    sheet: str | None = None  # the worksheet read, when a workbook's first holds no leads


@dataclass(frozen=True)
class BatchInfo:
    id: int
    file_name: str
    finished_at: datetime | None
    rows: int
    imported: int
    updated: int
    skipped: int
    rejected: int
    undone_at: datetime | None


# --- Mapping ------------------------------------------------------------------------------


def normalise_header(name: str) -> str:
    """'Prénom' -> 'prenom', 'E-mail Address' -> 'emailaddress'."""
    plain = unicodedata.normalize("NFKD", name.casefold())
    return re.sub(r"[^0-9a-z]", "", plain)


def guess_target(column: str, unknown_columns: str = "custom") -> str:
    if column.casefold().startswith("custom.") and len(column) > 7:
        return CUSTOM + column[7:]  # what our own export writes for custom fields
    guess = HEADER_GUESSES.get(normalise_header(column))
    if guess is not None:
        return guess
    return CUSTOM + column if unknown_columns == "custom" else IGNORE


def check_target(target: str) -> str:
    target = target.strip()
    if target.casefold() in (IGNORE, "skip", "none", ""):
        return IGNORE
    if target.startswith(CUSTOM) and clean_text(target[len(CUSTOM) :], 80):
        return CUSTOM + clean_text(target[len(CUSTOM) :], 80)
    if target in FIELDS:
        return target
    choices = ", ".join((*FIELDS, IGNORE, "custom:NAME"))
    raise UserError(f"Unknown field {target!r}; choose one of {choices}.")


def columns_text(header: Sequence[str]) -> str:
    """Column names for a one-line message: the first few, each cut short, printable (a
    file read the wrong way can have a header of garbage)."""
    shown = [
        "".join(c if c.isprintable() else "?" for c in name[:COLUMN_NAME_SHOWN])
        + ("…" if len(name) > COLUMN_NAME_SHOWN else "")
        for name in header[:COLUMNS_SHOWN]
    ]
    more = len(header) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def build_mapping(header: Sequence[str], options: ImportOptions) -> list[str]:
    """Target per column: the user's choices over the guesses. Each field is taken once."""
    if options.unknown_columns not in ("custom", IGNORE):
        raise UserError("Unknown columns are either kept as custom fields or ignored.")
    wanted = {k.strip().casefold(): check_target(v) for k, v in options.mapping.items()}
    missing = [
        k for k in options.mapping if k.strip().casefold() not in {h.casefold() for h in header}
    ]
    if missing:
        raise UserError(
            f"No column named {missing[0]!r} in the file; its columns are: {columns_text(header)}."
        )
    targets = []
    # Our own report of rows not imported, fixed and imported again: its first three columns
    # say what happened to each row, they are nothing about the lead.
    ours = [h.strip().casefold() for h in header[: len(REPORT_COLUMNS)]] == list(REPORT_COLUMNS)
    for i, column in enumerate(header):
        target = wanted.get(column.casefold()) or (
            IGNORE
            if ours and i < len(REPORT_COLUMNS)
            else guess_target(column, options.unknown_columns)
        )
        targets.append(target)
    explicit = {c.casefold() for c in wanted}
    if "last_name" not in targets and "full_name" not in targets:
        targets = [
            "full_name"
            if t == "first_name"
            and column.casefold() not in explicit
            and normalise_header(column) in _FIRST_OR_WHOLE_NAME
            else t
            for t, column in zip(targets, header, strict=True)
        ]
    taken: set[str] = set()
    # An explicit choice wins over a guess for the same field; then the leftmost guess.
    order = sorted(range(len(header)), key=lambda i: (header[i].casefold() not in explicit, i))
    for i in order:
        target = targets[i]
        if target == IGNORE:
            continue
        if target in taken:
            if header[i].casefold() in explicit:
                raise UserError(f"Two columns are mapped to {target!r}.")
            targets[i] = CUSTOM + header[i] if options.unknown_columns == "custom" else IGNORE
            if targets[i] in taken:
                targets[i] = IGNORE
        taken.add(targets[i])
    return targets


def table_mapping(
    table: Table, options: ImportOptions, sample: list[list[str]] | None = None
) -> list[str]:
    """build_mapping, and when no column is named like an address (nor chosen for one) the
    one column whose first values all look like addresses goes to email: the wizard shows
    it, and the import does not stop for a header in another language. `sample`: the first
    rows, if the caller has read them already."""
    mapping = build_mapping(table.header, options)
    if "email" in mapping:
        return mapping
    chosen = {k.strip().casefold() for k in options.mapping}
    if sample is None:
        sample = [cells for _n, cells in islice(table.rows(), EMAIL_SAMPLE_ROWS)]

    def all_addresses(i: int) -> bool:
        values = [cells[i].strip() for cells in sample if i < len(cells) and cells[i].strip()]
        return bool(values) and all(map(ADDRESS_SHAPE.fullmatch, values))

    shaped = [
        i
        for i, column in enumerate(table.header)
        if column.casefold() not in chosen and all_addresses(i)
    ]
    if len(shaped) == 1:
        mapping[shaped[0]] = "email"
    return mapping


def names_the_email(options: ImportOptions) -> Callable[[list[str]], bool]:
    """Whether a row is the header: one of its cells is a column the email goes to."""
    chosen = {
        k.strip().casefold() for k, v in options.mapping.items() if check_target(v) == "email"
    }

    def is_header(cells: list[str]) -> bool:
        return any(
            c.strip().casefold() in chosen or guess_target(c.strip()) == "email" for c in cells
        )

    return is_header


def preview_import(
    path: str | Path, options: ImportOptions | None = None, rows: int = 20
) -> ImportPreview:
    """The first rows and the guessed mapping, for the wizard (nothing is written)."""
    options = options or ImportOptions()
    table = open_table(path, options.encoding, options.delimiter, names_the_email(options))
    sample = []
    for number, cells in table.rows():
        if any(c.strip() for c in cells):
            sample.append((number, cells))
        if len(sample) >= rows:
            break
    sample_rows = [cells for _n, cells in sample]
    return ImportPreview(
        header=table.header,
        mapping=table_mapping(table, options, sample_rows),
        rows=sample_rows,
        encoding=table.encoding,
        delimiter=table.delimiter,
        kind=table.kind,
        row_numbers=[n for n, _cells in sample],
        sheet=table.sheet if table.passed_sheets else None,
    )


# --- Fast row hygiene (same results as validation.py, without its per-call cost) ---------


# An ASCII host name email-validator is sure to accept as it is, but for letter case: dot-
# separated labels of letters, digits and inner hyphens (1-63 characters), a top-level
# domain of letters. Anything else (IDNA, "--", special-use names, ...) goes to it.
_PLAIN_HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUFFIXES = tuple(f".{name}" for name in _SPECIAL_USE)


@lru_cache(maxsize=65536)
def _plain_domain(domain: str) -> str | None:
    """The domain lower-cased if it is a plain host name, which email-validator accepts
    whatever the local part and normalises to just that; else None (the whole address then
    goes to the validator: an IDNA domain's limits depend on the local part too). The
    validator takes some 25 us an address: a list where every lead had a company domain of
    its own imported four times slower. Cached, as lists repeat domains."""
    # (252: "a@" and the domain within an address's 254 characters, as the validator sees it)
    if len(domain) <= 252 and "--" not in domain and _PLAIN_HOSTNAME.fullmatch(domain):
        lower = domain.lower()
        if lower not in _SPECIAL_USE and not lower.endswith(_SPECIAL_USE_SUFFIXES):
            return lower
    return None


def fast_normalize_email(value: str) -> str:
    """`validation.normalize_email` with a fast path for plain ASCII addresses."""
    raw = value.strip()
    local, at, domain = raw.rpartition("@")
    if (
        at
        and len(local) <= 64
        and len(raw) <= 254
        and local.isascii()
        and _LOCAL_ASCII.fullmatch(local)
        and (plain := _plain_domain(domain)) is not None
    ):
        return f"{local}@{plain}"
    return normalize_email(value)


# An address as mail programs write it, with a display name: Jane Doe <jane@example.com>.
_NAMED_ADDRESS = re.compile(r"[^<>]*<\s*([^<>\s]+)\s*>\s*")
# What follows a comma in a full name that is not a first name: "Jane Doe, PhD".
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "md", "mba", "esq"})


def _bare_address(value: str) -> str:
    """The address in "Name <address>" or "mailto:address"; else the value as it is."""
    if m := _NAMED_ADDRESS.fullmatch(value):
        return m.group(1)
    if value[:7].lower() == "mailto:":
        return value[7:].split("?", 1)[0]
    return value


def split_full_name(name: str) -> tuple[str, str]:
    """(first, last) of a full name: "Jane Doe", or "Doe, Jane" as address books write it."""
    before, comma, after = name.partition(",")
    if comma and after.strip() and after.strip().casefold() not in _NAME_SUFFIXES:
        return after.strip(), before.strip()
    first, _, last = name.partition(" ")
    return first, last.strip()


def _single_spaced(value: str) -> str:
    return _SPACES.sub(" ", value) if "  " in value else value


def _unguarded(value: str) -> str:
    """Without the quote our export puts before a formula-like cell."""
    return value[1:] if value[:2] in _FORMULA_GUARD else value


def _clean(value: str, limit: int | None) -> str:
    """`validation.clean_text` (plus our export's formula guard taken off), fast when the
    value has no control characters, which is nearly always. Cut to `limit` if given."""
    value = _single_spaced(value.strip()) if value.isprintable() else clean_text(value)
    return _unguarded(value)[:limit]


# The columns the import builds per new lead (the rest are the same for all of them, and
# `_LeadRows.constant` takes out those that are the same for all of one import).
_ROW = (
    "id",
    "email",
    "email_key",
    *TEXT_FIELDS,
    "custom_fields",
    "search_text",
    "stage_id",
    "position",
)


def _sql_literal(value: int | str) -> str:
    """A constant written into SQL text: an int, or a text quoted as SQLite quotes it."""
    if isinstance(value, int):
        return str(int(value))
    if "\x00" in value:  # (cleaned texts hold no control characters)
        raise ValueError("a NUL cannot be written into SQL text")
    return "'" + value.replace("'", "''") + "'"


# What the dot-atom addresses of _EMAIL_FAST are made of, and the "@".
_DOT_ATOM_BYTES = (string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-" + ".@").encode()


def _plain_address_domains(addresses: list[str]) -> list[str] | None:
    """The part after the "@" of every address, if each is what _EMAIL_FAST matches with
    a domain of dot-atom characters (a plain host name is one); else None. A few passes over
    the block's text instead of a regular expression per address: 38 -> 27 ms a 100,000."""
    text = "@".join(addresses)
    if (
        not text.isascii()
        or text.encode("ascii").translate(None, _DOT_ATOM_BYTES)
        or text.count("@") != 2 * len(addresses) - 1
        # dots: none first or last in a local part, no two in a row (a domain with those
        # is no host name either)
        or text.startswith(".")
        or ".." in text
        or ".@" in text
        or "@." in text
    ):
        return None
    # Each has an "@" after 1 to 64 characters: with the count above, exactly one.
    ats = list(map(str.find, addresses, repeat("@")))
    if min(ats) < 1 or max(ats) > 64 or max(map(len, addresses)) > 254:
        return None
    return text.split("@")[1::2]


_LINE_BREAK = re.compile(r"\r\n?|\n")


def _unclosed_quotes(
    block: list[list[str]], number: int, table: Table, email_idx: int
) -> dict[int, str]:
    """Rows of the block (numbered from number + 1) with a cell that holds lines which look
    like rows of their own (as many cells as the header, an address in the email column):
    a quote opened in that row and never closed swallowed them. Imported as it is, the
    rest of a file can vanish into one note without a word."""
    found: dict[int, str] = {}
    # (the rows with a line break first: one join a row, not a step per cell)
    broken = [i for i, text in enumerate(map("".join, block)) if _LINE_BREAK.search(text)]
    for offset in broken:
        for cell in block[offset]:
            if not _LINE_BREAK.search(cell):
                continue
            # Lines as the file reader cut them: at CR LF, LF or a lone CR.
            lines = [line for line in _LINE_BREAK.split(cell)[1:] if line.strip()]
            rows_inside = sum(1 for line in lines if _looks_like_a_row(line, table, email_idx))
            if rows_inside:
                found[number + 1 + offset] = (
                    f"a quote in this row is not closed: the {len(lines)} lines after it were"
                    f" read as one cell, {rows_inside} of them look like rows of their own;"
                    " close the quote and import the file again"
                )
                break
    return found


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _values_past_the_header(block: list[list[str]], number: int, table: Table) -> dict[int, str]:
    """Rows of the block (numbered from number + 1) with values in cells the header has no
    column for: nearly always a delimiter inside a value that was not quoted ("Acme, Inc"),
    which shifts the rest of the row. Imported, its company would be "Acme" and its title
    "Inc"; rejected, the user can quote it and import the row again. (Empty cells after the
    last column, which some tools write, are fine.)"""
    columns = len(table.header)
    delimiter = _DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))
    if table.header_row:
        why = (
            f"values where the header has {columns} columns: a value with a {delimiter} in it"
            " that is not in quotes? Quote it and import the file again"
        )
    else:  # (columns named by position, counted on the first rows: see tabular._headerless)
        why = (
            f"values where the file's first rows have {columns}: the file has no header row,"
            " so its columns are counted on its first rows; add a header naming every column"
            " and import the file again"
        )
    found: dict[int, str] = {}
    for offset, cells in enumerate(block):
        if len(cells) > columns and any(cell.strip() for cell in cells[columns:]):
            found[number + 1 + offset] = f"{len(cells)} {why}"
    return found


def _looks_like_a_row(line: str, table: Table, email_idx: int) -> bool:
    cells = next(csv.reader([line], delimiter=table.delimiter), [])
    return len(cells) == len(table.header) and bool(ADDRESS_SHAPE.fullmatch(cells[email_idx]))


def _claim(seen: dict[str, int], keys: list[str], first_id: int) -> bool:
    """Enter keys[i] -> first_id + i into the address index if every key is new and they are
    all different; else leave the index as it was and return False. One pass over the keys
    (setdefault hands back the id a key had), not a check and then an update."""
    ids = range(first_id, first_id + len(keys))
    had = list(map(seen.setdefault, keys, ids))
    if had == list(ids):
        return True
    for key, lead_id, was in zip(keys, ids, had, strict=True):
        if was == lead_id:  # entered by this call
            del seen[key]
    return False


def _search_text(lead: dict[str, Any]) -> str:
    return f"{lead['first_name']} {lead['last_name']} {lead['email']} {lead['company']}".lower()


# A plain ASCII address whose local part (1 to 64 characters, checked by the lookahead) is
# dot-atoms: group 1 the local part, group 2 the domain as written.
_EMAIL_FAST = re.compile(
    r"(?=[^@]{1,64}@)"
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([!-?A-~]{1,252})"
)
# json.dumps(d, ensure_ascii=False) without its per-call set-up (a tenth of the import's
# time): the C encoder json itself uses for a one-shot dump.
_C_ENCODER = json.encoder.c_make_encoder  # type: ignore[attr-defined]
_encode_object = (
    _C_ENCODER(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)  # type: ignore[attr-defined]
    if _C_ENCODER is not None
    else None
)


_second = operator.itemgetter(1)
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _printable(text: str) -> bool:
    """str.isprintable(), five times faster on ASCII text (deleting the printable bytes)."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    return text.isprintable()


_starts_with_quote = operator.methodcaller("startswith", "'")


def _getter(indexes: list[int]) -> Callable[[Sequence[T]], tuple[T, ...]]:
    """itemgetter that always returns a tuple (itemgetter(i) alone returns the item)."""
    if not indexes:
        return lambda _cells: ()
    if len(indexes) == 1:
        only = indexes[0]
        return lambda cells: (cells[only],)
    return operator.itemgetter(*indexes)


def _json_object(values: dict[str, str]) -> str:
    if _encode_object is None:
        return json.dumps(values, ensure_ascii=False)
    return "".join(_encode_object(values, 0))


def suppression_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


@lru_cache(maxsize=1024)
def _valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# --- The import ---------------------------------------------------------------------------

_OWNER_INDEX = "ix_leads_owner"  # holds only leads with an owner (migration 0007)
# New leads written by one INSERT statement (a VALUES list of that many rows): each
# statement run opens the table and checks the stage anew, so executing one per lead cost
# a fifth of the INSERT (100,000 rows: 182 -> 149 ms). Fewer where SQLite allows fewer
# parameters than 200 rows need (before 3.32 it allowed 999: `_rows_per_insert`).
ROWS_PER_INSERT = 200
BLOCK = 1024  # rows read, and new leads built column by column, this many at a time
WHOLE_BLOCKS = True  # take blocks of plain new leads whole (off: row by row, for tests)


class _LeadRows:
    """Turns data rows into INSERT tuples for `leads` (`_ROW` without `constant`).

    `values()` does one row. `build()` does a list of new leads column by column (each
    step one C-level `map` over the column): where a block's rows hold no control
    character, no double space and every mapped cell, this gives the same values as
    `values()` (tested on both paths) at a fraction of the cost per row.
    """

    def __init__(self, mapping: list[str], default_source: str, stage_id: int | None) -> None:
        """`stage_id`: the stage of every new lead, or None when the file says per row."""
        self.text_cols = [(i, TEXT_FIELDS[f]) for i, f in enumerate(mapping) if f in TEXT_FIELDS]
        mapped_text = [f for f in mapping if f in TEXT_FIELDS]
        self.custom_cols = [
            (f[len(CUSTOM) :], i) for i, f in enumerate(mapping) if f.startswith(CUSTOM)
        ]
        self.width = max(i for i, f in enumerate(mapping) if f != IGNORE) + 1
        self.text_limits = [lim for _i, lim in self.text_cols]
        self.cut = 0  # values longer than their field holds, cut to fit (the user is told)
        self.text_get = _getter([i for i, _lim in self.text_cols])
        # Mapped texts (+ a trailing "") -> the lead's 8 text fields in TEXT_FIELDS order.
        self.canonical = _getter(
            [mapped_text.index(f) if f in mapped_text else len(mapped_text) for f in TEXT_FIELDS]
        )
        # Column of each of the 8 text fields, or None where nothing maps to it.
        self.field_cols = [
            self.text_cols[mapped_text.index(f)] if f in mapped_text else None for f in TEXT_FIELDS
        ]
        self.custom_names = [k for k, _i in self.custom_cols]
        self.custom_get = _getter([i for _k, i in self.custom_cols])
        self.default_source = default_source
        # JSON of the custom fields when every one has a value that needs no escaping:
        # these texts with the values between them ('{"City": "', '", "Notes": "', '"}').
        self.custom_parts: list[str] = []
        prefix = "{"
        for name in self.custom_names:
            self.custom_parts.append(prefix + _json_object({name: ""})[1:-2])
            prefix = '", '
        self.custom_parts.append('"}')
        # Columns with the same value for every new lead of this import (a field no column
        # maps to, the stage when the file names none) go into the INSERT's SQL once instead
        # of being bound for each row: a tenth of the INSERT when three are.
        constant: dict[str, int | str] = {
            field: default_source if field == "source" else ""
            for field, spec in zip(TEXT_FIELDS, self.field_cols, strict=True)
            if spec is None
            and not (field in ("first_name", "last_name") and "full_name" in mapping)
        }
        if not self.custom_cols:
            constant["custom_fields"] = "{}"
        if stage_id is not None:
            constant["stage_id"] = stage_id
        self.constant = constant
        self.columns = tuple(c for c in _ROW if c not in constant)  # each row's, in order
        self._kept = [i for i, c in enumerate(_ROW) if c not in constant]
        self.project = _getter(self._kept)  # a whole _ROW tuple -> the row's own columns

    def insert_sql(self, now: datetime, rows: int = 1) -> str:
        """The INSERT of `rows` of this import's leads, their tuples (in `columns` order)
        one after the other in its parameters."""
        names = [*self.columns, *self.constant, "stage_entered_at", "score", "created_at"]
        stamp = _sql_literal(to_micros(now))  # as the ORM stores it (timestamps.py)
        values = [
            *("?" * len(self.columns)),
            *map(_sql_literal, self.constant.values()),
            *(stamp, "0", stamp, stamp, "NULL"),
        ]
        one = f"({', '.join(values)})"
        return (
            f"INSERT INTO leads ({', '.join(names)}, updated_at, deleted_at)"
            f" VALUES {', '.join([one] * rows)}"
        )

    def values(self, cells: list[str]) -> tuple[tuple[str, ...], dict[str, str]]:
        """One row: the 8 text fields (before the default source) and the custom fields."""
        n = len(cells)
        joined = "".join(cells)
        if n >= self.width and joined.isprintable() and "  " not in joined and "'" not in joined:
            # Nothing to clean but surrounding spaces; lengths checked at C speed.
            strip = str.strip
            texts = list(map(strip, self.text_get(cells)))
            if not all(map(operator.le, map(len, texts), self.text_limits)):
                texts = [self._fit(v, lim) for v, lim in zip(texts, self.text_limits, strict=True)]
            custom = dict(
                filter(
                    _second, zip(self.custom_names, map(strip, self.custom_get(cells)), strict=True)
                )
            )
            if len(joined) > CUSTOM_LIMIT:
                custom = {k: self._fit(v, CUSTOM_LIMIT) for k, v in custom.items()}
        else:
            texts = [
                self._fit(_clean(cells[i], None), lim) if i < n else "" for i, lim in self.text_cols
            ]
            custom = {
                k: self._fit(v, CUSTOM_LIMIT)
                for k, i in self.custom_cols
                if i < n and (v := _clean(cells[i], None))
            }
        texts.append("")
        return self.canonical(texts), custom

    def _fit(self, value: str, limit: int) -> str:
        if len(value) <= limit:
            return value
        self.cut += 1
        return value[:limit]

    def row(
        self, cells: list[str], lead_id: int, email: str, key: str, stage_id: int, position: float
    ) -> tuple[Any, ...]:
        fields, custom = self.values(cells)
        return self.whole(lead_id, email, key, fields, custom, stage_id, position)

    def whole(
        self,
        lead_id: int,
        email: str,
        key: str,
        fields: tuple[str, ...],
        custom: dict[str, str],
        stage_id: int,
        position: float,
    ) -> tuple[Any, ...]:
        """The INSERT tuple of one new lead from its 8 text fields and custom fields."""
        if self.default_source and not fields[5]:
            fields = (*fields[:5], self.default_source, *fields[6:])
        return self.project(
            (
                lead_id,
                email,
                key,
                *fields,
                _json_object(custom) if custom else "{}",
                f"{fields[0]} {fields[1]} {email} {fields[2]}".lower(),
                stage_id,
                position,
            )
        )

    def build(self, pending: list[tuple[Any, ...]], first_id: int) -> list[tuple[Any, ...]]:
        """INSERT tuples for new leads given as (cells, email, key, stage id, position),
        with consecutive ids from first_id, in the same order."""
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(pending), BLOCK):
            cells, emails, keys, stages, positions = zip(
                *pending[start : start + BLOCK], strict=True
            )
            out.extend(self.block(cells, emails, keys, stages, positions, first_id + start))
        return out

    def block(
        self,
        cells: Sequence[list[str]],
        emails: Sequence[str],
        keys: Sequence[str],
        stages: Iterable[int],
        positions: Sequence[float],
        first_id: int,
    ) -> Iterable[tuple[Any, ...]]:
        """INSERT tuples for a block of new leads given column by column (one row's cells,
        address, key, stage id and position at each index), ids from first_id."""
        joined = list(map("".join, cells))
        ids = range(first_id, first_id + len(cells))
        # One scan of the block's text decides (a double space across two cells only sends
        # the block the slower way).
        text = "".join(joined)
        if min(map(len, cells)) >= self.width and _printable(text) and "  " not in text:
            longest = max(map(len, joined))  # no cell is longer than its row
            return self._columns(cells, emails, keys, stages, positions, ids, text, longest)
        # Some rows need cleaning: those row by row, the others column by column as above (a
        # line break in one note no longer sends 1,023 plain rows the slow way, at ~6 us each).
        width = self.width
        plain = [
            len(c) >= width and j.isprintable() and "  " not in j
            for c, j in zip(cells, joined, strict=True)
        ]
        stages = list(islice(stages, len(cells)))  # (may be an endless repeat())
        rows: list[tuple[Any, ...]] = [()] * len(cells)
        taken = [i for i, ok in enumerate(plain) if ok]
        if taken:

            def pick(values: Sequence[T]) -> list[T]:
                return list(map(values.__getitem__, taken))

            picked = pick(joined)
            built = self._columns(
                pick(cells),
                pick(emails),
                pick(keys),
                pick(stages),
                pick(positions),
                pick(ids),
                "".join(picked),
                max(map(len, picked)),
            )
            for i, row in zip(taken, built, strict=False):
                rows[i] = row
        for i, ok in enumerate(plain):
            if not ok:
                rows[i] = self.row(cells[i], ids[i], emails[i], keys[i], stages[i], positions[i])
        return rows

    def _columns(
        self,
        cells: Sequence[list[str]],
        emails: Sequence[str],
        keys: Sequence[str],
        stages: Iterable[int],
        positions: Sequence[float],
        ids: Sequence[int],
        text: str,
        longest: int,
    ) -> Iterable[tuple[Any, ...]]:
        strip = str.strip
        quoted = "'" in text  # a formula guard to take off, maybe
        by_column = list(zip(*cells, strict=False))  # every row has `width` cells or more
        columns: list[Iterable[str]] = []
        for spec in self.field_cols:
            if spec is None:
                columns.append(repeat(""))
                continue
            i, limit = spec
            column = list(map(strip, by_column[i]))
            if quoted and any(map(_starts_with_quote, column)):
                column = list(map(_unguarded, column))
            if longest > limit and max(map(len, column)) > limit:
                column = [self._fit(v, limit) for v in column]
            columns.append(column)
        if self.default_source:
            source = columns[5]
            columns[5] = (
                repeat(self.default_source)
                if isinstance(source, repeat)
                else [v or self.default_source for v in source]
            )
        custom_columns = []
        for _name, i in self.custom_cols:
            column = list(map(strip, by_column[i]))
            if quoted and any(map(_starts_with_quote, column)):
                column = list(map(_unguarded, column))
            if longest > CUSTOM_LIMIT and max(map(len, column)) > CUSTOM_LIMIT:
                column = [self._fit(v, CUSTOM_LIMIT) for v in column]
            custom_columns.append(column)
        custom_json: Iterable[str]
        if not custom_columns:
            custom_json = repeat("{}")
        elif all(map(all, custom_columns)) and '"' not in text and "\\" not in text:
            pieces: list[Iterable[str]] = [repeat(self.custom_parts[0])]
            for column, part in zip(custom_columns, self.custom_parts[1:], strict=True):
                pieces += (column, repeat(part))
            custom_json = map("".join, zip(*pieces, strict=False))  # repeat() is endless
        else:
            names = self.custom_names
            custom_json = [
                _json_object(custom)
                if (custom := dict(filter(_second, zip(names, values, strict=True))))
                else "{}"
                for values in zip(*custom_columns, strict=True)
            ]
        first, last, company = columns[0], columns[1], columns[2]
        search = map(str.lower, map(" ".join, zip(first, last, emails, company, strict=False)))
        every = (ids, emails, keys, *columns, custom_json, search, stages, positions)
        # strict=False: the repeat() columns are endless (constant ones are left out here).
        return zip(*map(every.__getitem__, self._kept), strict=False)


@dataclass
class _PendingUpdate:
    row: int
    cells: list[str]
    lead_id: int
    values: dict[str, str]
    custom: dict[str, str]
    tags: set[int]
    existing: bool  # a lead that was in the workspace before (needs a before-image)
    first_row: int | None


# A chunk of new leads as the INSERTs take them: tuples of ROWS_PER_INSERT leads' values,
# and the rest one lead a tuple.
_Statements = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


class _Totals(NamedTuple):
    """What reading the rows counted (a tuple: it comes back from a child through a pipe)."""

    counts: tuple[int, int, int, int]  # imported, updated, skipped, rejected
    rows: int
    blank: int
    next_id: int
    cut: int  # values cut to fit (_LeadRows.cut)
    replaced: int  # characters that could not be decoded (Table.replaced)


class _WriteHere:
    """Where the rows read go in this process: the import's own connection and transaction."""

    def __init__(self, run: _ImportRun, conn: Connection, batch_id: int) -> None:
        self.run, self.conn, self.batch_id = run, conn, batch_id
        self.report = run.report
        self.last_progress = time.perf_counter()

    def flush(
        self,
        chunk: _Statements,
        chunk_tags: dict[int, set[int]],
        updates: list[_PendingUpdate],
        rows: int,
        next_id: int,
        fraction: float | None = None,
    ) -> None:
        run = self.run
        if fraction is None:
            fraction = run.table.fraction_read()
        run.next_id = next_id
        if run.dropped_indexes is None:
            run._maybe_defer_indexes(self.conn, rows, fraction)
        run._flush(self.conn, self.batch_id, chunk, chunk_tags, updates, next_id)
        run._report_progress(rows, "saving", fraction)

    def tag_id(self, name: str) -> int:
        return self.run._tag_id(self.conn, name)

    def progress(self, rows: int, fraction: float | None = None) -> None:
        self.check()
        tick = time.perf_counter()
        if tick - self.last_progress > 0.1:
            self.last_progress = tick
            self.run._report_progress(rows, "reading", fraction)

    def check(self) -> None:
        if self.run.should_cancel():
            raise ImportCancelled()


class _Report:
    """Skipped and rejected rows, written lazily to a CSV beside the imported file."""

    def __init__(self, path: Path, header: list[str], fallback_dir: Path | None) -> None:
        self.path = path
        self.header = header
        self.fallback_dir = fallback_dir
        self._fh: Any = None
        self._writer: Any = None
        self.problems: list[str] = []
        self.skipped: dict[str, int] = {}  # why (SKIPPED_*) -> rows

    def _open(self) -> None:
        # Beside the imported file if we may write there (a USB stick, a read-only share
        # may refuse), else beside the workspace, else in the temporary folder.
        candidates = [self.path]
        for folder in (self.fallback_dir, Path(tempfile.gettempdir())):
            if folder is not None:
                candidates.append(folder / self.path.name)
        for i, candidate in enumerate(candidates):
            try:
                self._fh = candidate.open("w", encoding="utf-8-sig", newline="")
            except OSError as exc:
                if i == len(candidates) - 1:
                    raise UserError(
                        f"Cannot write the list of rejected rows ({exc.strerror}); "
                        "nothing was imported."
                    ) from exc
                continue
            self.path = candidate
            break
        self._writer = csv.writer(self._fh)
        self._writer.writerow([*REPORT_COLUMNS, *self.header])

    def add(self, status: str, row: int, reason: str, cells: list[str]) -> None:
        if self._writer is None:
            self._open()
        self._writer.writerow([status, row, reason, *cells])
        if status == "rejected" and len(self.problems) < FIRST_PROBLEMS:
            self.problems.append(f"row {row}: {reason}")

    def skip(
        self, row: int, why: str, where: str, cells: list[str], nothing_new: bool = False
    ) -> None:
        """A skipped row: `why` one of SKIPPED_*, `where` the row or lead it repeats."""
        self.skipped[why] = self.skipped.get(why, 0) + 1
        if why == SKIPPED_SUPPRESSED:
            reason = "address on the suppression list (forgotten)"
        else:
            reason = f"duplicate of {where}" + (", nothing new" if nothing_new else "")
        self.add("skipped", row, reason, cells)

    def close(self) -> str | None:
        if self._fh is None:
            return None
        self._fh.close()
        return str(self.path)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the import holds 100,000s of young objects
    (rows, tuples, the address index): each collection would walk them all again, a
    sixth of a 100k-row import. The loop makes no reference cycles, so nothing piles up;
    reference counting frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rows_per_insert(conn: Connection, columns: int) -> int:
    """ROWS_PER_INSERT, or fewer if this SQLite takes fewer parameters in one statement."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        return 1
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(ROWS_PER_INSERT, limit // columns))


@contextlib.contextmanager
def _import_cache(conn: Connection) -> Iterator[None]:
    """A bigger page cache on this connection while the import writes, then the old one
    (on the raw sqlite3 connection: it works whatever state the transaction is in)."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name != "sqlite" or raw is None:
        yield
        return
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        # (SQLAlchemy closes a connection that Ctrl+C hit in a statement: nothing to put
        # back then, and an error here would hide the interrupt)
        with contextlib.suppress(sqlite3.ProgrammingError):
            raw.execute(f"PRAGMA cache_size={int(before)}")


def _report_path(source: Path, options: ImportOptions, now: datetime) -> Path:
    if options.report_path is not None:
        return Path(options.report_path)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return source.with_name(f"{source.stem}.not-imported-{stamp}.csv")


def import_file(
    workspace: Workspace,
    path: str | Path,
    options: ImportOptions | None = None,
    *,
    progress: Callable[[ImportProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ImportResult:
    """Import a CSV/TSV/XLSX file of leads as one transaction. See the module docstring."""
    options = options or ImportOptions()
    if options.on_duplicate not in POLICIES:
        raise UserError(
            f"On duplicate: choose skip, update or merge, not {options.on_duplicate!r}."
        )
    path = Path(path)
    table = open_table(path, options.encoding, options.delimiter, names_the_email(options))
    mapping = table_mapping(table, options)
    if "email" not in mapping:
        raise UserError(
            "No column holds the email address; choose one with --map COLUMN=email "
            f"(columns: {columns_text(table.header)})."
        )
    run = _ImportRun(workspace, table, mapping, options, progress, should_cancel)
    try:
        return run.execute()
    except OperationalError as exc:
        raise storage_error(exc, workspace.path) from exc


class _ImportRun:
    def __init__(
        self,
        workspace: Workspace,
        table: Table,
        mapping: list[str],
        options: ImportOptions,
        progress: Callable[[ImportProgress], None] | None,
        should_cancel: Callable[[], bool] | None,
    ) -> None:
        self.ws = workspace
        self.table = table
        self.mapping = mapping
        self.options = options
        self.progress = progress
        self.should_cancel = should_cancel or (lambda: False)
        self.now = workspace.clock.now()
        self.counts = {"imported": 0, "updated": 0, "skipped": 0, "rejected": 0}
        self.rows = 0
        self.blank = 0
        self.started = time.perf_counter()
        self.report = _Report(
            _report_path(table.path, options, self.now),
            table.header,
            workspace.path.parent if workspace.path is not None else None,
        )
        self.created_tags: list[int] = []
        self.imaged: set[int] = set()  # existing leads whose before-image is kept
        self.dropped_indexes: list[str] | None = None  # to create again before the commit
        self.lead_rows: _LeadRows | None = None

    def execute(self) -> ImportResult:
        ws = self.ws
        batch_id: int | None = None
        first_id = last_id = None
        try:
            with ws.session() as session:
                conn = session.connection()
                # Writing first takes SQLite's write lock for the whole import: the ids and
                # the snapshot of existing addresses below cannot change under us.
                batch = ImportBatch(
                    file_name=str(self.table.path)[:400],
                    policy=self.options.on_duplicate,
                    started_at=self.now,
                    rows=0,
                    imported=0,
                    updated=0,
                    skipped=0,
                    rejected=0,
                    created_tag_ids=[],
                )
                session.add(batch)
                session.flush()
                batch_id = batch.id
                self._prepare(conn)
                first_id = self.next_id
                with _import_cache(conn), _collector_paused():
                    self._consume(conn, batch_id)
                    # Let go of the address index while the collector is still off: back
                    # on, it would walk each of its 100,000s of entries once more.
                    self.seen.clear()
                if self.imaged:
                    self._keep_after_images(conn, batch_id)
                last_id = self.next_id - 1
                batch.finished_at = ws.clock.now()
                batch.rows = self.rows
                for name, value in self.counts.items():
                    setattr(batch, name, value)
                if last_id >= first_id:
                    batch.first_lead_id, batch.last_lead_id = first_id, last_id
                batch.created_tag_ids = list(self.created_tags)
                session.flush()
                if self.options.dry_run:
                    session.rollback()
                    batch_id = None
        finally:
            self.table.close()
            rejected_file = self.report.close()
        assert sum(self.counts.values()) == self.rows, (self.counts, self.rows)
        result = ImportResult(
            rows=self.rows,
            blank_rows=self.blank,
            rejected_file=rejected_file,
            problems=tuple(self.report.problems),
            warnings=self._warnings(),
            skipped_why=tuple(sorted(self.report.skipped.items(), key=lambda kv: -kv[1])),
            batch_id=batch_id,
            dry_run=self.options.dry_run,
            seconds=time.perf_counter() - self.started,
            encoding=self.table.encoding,
            delimiter=self.table.delimiter,
            mapping=tuple(zip(self.table.header, self.mapping, strict=True)),
            lead_ids=(first_id, last_id)
            if first_id is not None
            and last_id is not None
            and last_id >= first_id
            and not self.options.dry_run
            else None,
            **self.counts,
        )
        if not self.options.dry_run and (result.imported or result.updated):
            # Small imports name their leads (so listeners such as the enrolment rules act at
            # once); a big one would not fit an SQL IN (...): listeners then work on all leads.
            ids: tuple[int, ...] = ()
            if result.lead_ids is not None or self.imaged:
                first, last = result.lead_ids or (1, 0)
                if last - first + 1 + len(self.imaged) <= EVENT_IDS_LIMIT:
                    ids = (*range(first, last + 1), *sorted(self.imaged))
            ws.events.publish(LeadsChanged(ids, tuple(self.stage_ids.values()), "imported"))
        return result

    def _warnings(self) -> tuple[str, ...]:
        warnings = []
        if self.table.passed_sheets:
            passed = ", ".join(map(repr, self.table.passed_sheets))
            warnings.append(
                f"Read the sheet {self.table.sheet!r}: the sheets before it ({passed}) hold no"
                " leads"
            )
        if cut := self.lead_rows.cut if self.lead_rows is not None else 0:
            what = "value was" if cut == 1 else "values were"
            warnings.append(
                f"{cut:,} {what} longer than the field holds and cut to fit (custom fields"
                f" keep {CUSTOM_LIMIT:,} characters, the others {min(TEXT_FIELDS.values())}"
                f" to {max(TEXT_FIELDS.values())})"
            )
        if replaced := self.table.replaced:
            what = "character" if replaced == 1 else "characters"
            warnings.append(
                f"{replaced:,} {what} could not be read as {self.table.encoding}; check the"
                " encoding"
            )
        return tuple(warnings)

    def _prepare(self, conn: Connection) -> None:
        opts = self.options
        stages = {name.casefold(): sid for sid, name in conn.execute(select(Stage.id, Stage.name))}
        self.stage_ids = stages
        if opts.stage:
            stage_id = stages.get(opts.stage.strip().casefold())
            if stage_id is None:
                raise NotFoundError(f"No stage named {opts.stage!r}.")
            self.default_stage = stage_id
        else:
            first = conn.scalar(select(Stage.id).order_by(Stage.position).limit(1))
            if first is None:
                raise NotFoundError("The workspace has no stages.")
            self.default_stage = first
        self.end_position: dict[int, float] = {
            sid: (top or 0.0)
            for sid, top in conn.execute(
                select(Lead.stage_id, func.max(Lead.position))
                .where(Lead.deleted_at.is_(None))
                .group_by(Lead.stage_id)
            )
        }
        self.next_id = (conn.scalar(select(func.max(Lead.id))) or 0) + 1
        self.first_id = self.history_from = self.next_id
        self.domains: dict[str, str] = {}  # plain host name as written -> lower-cased
        # email key -> lead id, for the workspace's leads and the file's new ones so far
        self.seen: dict[str, int] = {
            key: lead_id
            for key, lead_id in conn.execute(
                select(Lead.email_key, Lead.id).where(Lead.deleted_at.is_(None))
            )
        }
        # The spreadsheet row of each new lead, at [id - first_id] (ids are handed out one
        # by one, in file order): ints in an array, not a tuple per lead in `seen`.
        self.rows_of = array("q")
        self.suppressed = set(conn.scalars(select(SuppressedHash.hash)))
        self.tag_ids = {
            name.casefold(): tid for tid, name in conn.execute(select(Tag.id, Tag.name))
        }
        self.import_tags = {self._tag_id(conn, t) for t in tag_names(opts.tags, self.tag_ids)}
        self.source_tag = clean_text(f"imported from {self.table.path.name}", 200)

    def _tag_id(self, conn: Connection, name: str) -> int:
        name = clean_text(name, 80)
        tag_id = self.tag_ids.get(name.casefold())
        if tag_id is None:
            tag_id = int(conn.scalar(insert(Tag).values(name=name).returning(Tag.id)) or 0)
            self.tag_ids[name.casefold()] = tag_id
            self.created_tags.append(tag_id)
        return tag_id

    def _consume(self, conn: Connection, batch_id: int) -> None:
        default_source = clean_text(self.options.source, 120)
        stage_idx = self.mapping.index("stage") if "stage" in self.mapping else None
        lead_rows = self.lead_rows = _LeadRows(
            self.mapping, default_source, self.default_stage if stage_idx is None else None
        )
        self.insert_sql = lead_rows.insert_sql(self.now)
        self.rows_per_insert = _rows_per_insert(conn, len(lead_rows.columns))
        self.insert_many_sql = lead_rows.insert_sql(self.now, self.rows_per_insert)
        self.owner_constant = lead_rows.constant.get("owner")
        here = _WriteHere(self, conn, batch_id)
        if forked_reader.worth_it(self.table.path):
            # The leads' indexes are kept: their upkeep overlaps the reading in the child.
            self.dropped_indexes = []
            totals = forked_reader.read_apart(self._read_rows, here, self.table.fraction_read)
        else:
            totals = self._read_rows(here)
        for name, count in zip(self.counts, totals.counts, strict=True):
            self.counts[name] += count
        self.rows, self.blank, self.next_id = totals.rows, totals.blank, totals.next_id
        lead_rows.cut, self.table.replaced = totals.cut, totals.replaced
        for sql in self.dropped_indexes or ():
            self._report_progress(self.rows, "saving", 1.0)
            conn.exec_driver_sql(sql)
        if self.should_cancel():
            raise ImportCancelled()
        self._report_progress(self.rows, "saving", 1.0)

    def _read_rows(self, out: forked_reader.Sink) -> _Totals:
        """The rows of the file, read and built into new leads and updates that go to `out`
        a chunk at a time (this process's connection, or the parent's through a pipe)."""
        opts = self.options
        policy = opts.on_duplicate
        mapping = self.mapping
        email_idx = mapping.index("email")
        full_idx = mapping.index("full_name") if "full_name" in mapping else None
        tags_idx = mapping.index("tags") if "tags" in mapping else None
        stage_idx = mapping.index("stage") if "stage" in mapping else None
        has_first = "first_name" in mapping
        has_last = "last_name" in mapping
        tz_mapped = "timezone" in mapping
        lead_rows = cast(_LeadRows, self.lead_rows)
        row_values = lead_rows.values
        # New leads are built column by column when a file
        # maps no full name or time zone (they are checked on the cleaned row values).
        deferred = full_idx is None and not tz_mapped
        seen = self.seen
        rows_of = self.rows_of
        first_id = self.first_id
        suppressed = self.suppressed
        report = out.report
        end_position = self.end_position
        default_stage = self.default_stage
        import_tags = frozenset(self.import_tags)
        domains = self.domains
        email_match = _EMAIL_FAST.fullmatch
        chunk: list[tuple[Any, ...]] = []  # INSERT tuples (lead_rows.columns)
        # New leads not built yet (cells, email, key, stage id, position): they follow chunk.
        pending: list[tuple[Any, ...]] = []
        in_chunk: dict[str, int] = {}  # email key -> index in chunk (+ pending)
        chunk_tags: dict[int, set[int]] = {}  # lead id -> tag ids, for leads in chunk
        updates: list[_PendingUpdate] = []
        rows = blank = imported = updated = skipped = rejected = 0
        next_id = self.next_id

        records = self.table.records()
        number = self.table.header_row  # spreadsheet row number of the current row
        # Blocks where every row is a new lead with a plain, valid, unseen address are taken
        # whole (C-level maps over the block, no Python step per row).
        whole_blocks = (
            WHOLE_BLOCKS and deferred and stage_idx is None and tags_idx is None and not suppressed
        )
        get_email = operator.itemgetter(email_idx)
        lines_read = self.table.lines_read()
        columns = len(self.table.header)
        # The hot loop: locals only, and no Python-level step per cell when a row needs no
        # cleaning (the common case); each new lead goes straight to its INSERT tuple.
        while block := list(islice(records, BLOCK)):
            out.progress(rows)
            refused: dict[int, str] = {}  # row number -> why the row is rejected
            if lines_read is not None:  # (a CSV file)
                before, lines_read = lines_read, self.table.lines_read() or 0
                if lines_read - before > len(block):  # some cells hold line breaks
                    refused = _unclosed_quotes(block, number, self.table, email_idx)
                if max(map(len, block)) > columns:
                    refused = {**_values_past_the_header(block, number, self.table), **refused}
            if whole_blocks and not refused and min(map(len, block)) > email_idx:
                taken = len(block)
                raws = list(map(str.strip, map(get_email, block)))
                if "'" in "".join(raws):  # maybe our export's guard before "+x@..."
                    raws = list(map(_unguarded, raws))
                writtens = _plain_address_domains(raws)
                emails: list[str] = []
                if writtens is not None:
                    normal = list(map(domains.get, writtens))
                    if None in normal:  # domains new to this import: plain host names?
                        for written in set(writtens).difference(domains):
                            if (plain := _plain_domain(written)) is None:
                                break  # row by row: the validator judges those addresses
                            domains[written] = plain
                        else:
                            normal = list(map(domains.get, writtens))
                    if None not in normal:
                        emails = (
                            raws
                            if normal == writtens
                            else [
                                r if d == w else r[: len(r) - len(w)] + cast(str, d)
                                for r, w, d in zip(raws, writtens, normal, strict=True)
                            ]
                        )
                keys = list(map(str.lower, emails))
                if emails and _claim(seen, keys, next_id):
                    queued = len(chunk) + len(pending)
                    rows_of.extend(range(number + 1, number + 1 + taken))
                    # The same float additions as one lead at a time.
                    positions = list(
                        accumulate(repeat(1.0, taken), initial=end_position.get(default_stage, 0.0))
                    )[1:]
                    end_position[default_stage] = positions[-1]
                    if policy != "skip":
                        in_chunk.update(zip(keys, range(queued, queued + taken), strict=True))
                    if pending:  # new leads read row by row go first
                        chunk += lead_rows.build(pending, next_id - len(pending))
                        pending = []
                    chunk.extend(
                        lead_rows.block(
                            block, emails, keys, repeat(default_stage), positions, next_id
                        )
                    )
                    if import_tags:
                        chunk_tags.update(
                            (lead_id, set(import_tags))
                            for lead_id in range(next_id, next_id + taken)
                        )
                    number += taken
                    rows += taken
                    imported += taken
                    next_id += taken
                    if len(chunk) >= CHUNK:
                        out.flush(self._statements(chunk), chunk_tags, updates, rows, next_id)
                        chunk, in_chunk, chunk_tags, updates = [], {}, {}, []
                    continue
            for cells in block:
                number += 1
                n = len(cells)
                raw_email = _unguarded(cells[email_idx].strip()) if email_idx < n else ""
                if not raw_email:
                    if not any(c.strip() for c in cells):
                        blank += 1
                        continue
                    rows += 1
                    rejected += 1
                    report.add("rejected", number, "no email address", cells)
                    continue
                rows += 1
                if refused and number in refused:
                    rejected += 1
                    report.add("rejected", number, refused[number], cells)
                    continue
                m = email_match(raw_email)
                domain = None
                if m is not None and len(raw_email) <= 254:
                    written = m.group(2)
                    domain = domains.get(written)
                    if domain is not None:
                        email = raw_email if domain == written else raw_email[: m.start(2)] + domain
                if domain is None:
                    try:
                        email = fast_normalize_email(raw_email)
                    except ValidationError as exc:
                        try:  # "Jane Doe <jane@example.com>", "mailto:jane@example.com"
                            email = fast_normalize_email(_bare_address(raw_email))
                        except ValidationError:
                            rejected += 1
                            report.add("rejected", number, str(exc), cells)
                            continue
                    # Remembered only if any local part would do (see _plain_domain).
                    if m is not None and (plain := _plain_domain(m.group(2))) is not None:
                        domains[m.group(2)] = plain
                key = email.lower()
                if suppressed and suppression_hash(key) in suppressed:
                    skipped += 1
                    report.skip(number, SKIPPED_SUPPRESSED, "", cells)
                    continue
                if not deferred:
                    # first, last, company, title, phone, source, owner, tz
                    fields, custom = row_values(cells)
                    if (
                        full_idx is not None
                        and full_idx < n
                        and not ((has_first and fields[0]) or (has_last and fields[1]))
                    ):
                        first, last = split_full_name(_clean(cells[full_idx], 240))
                        fields = (first[:120], last[:120], *fields[2:])
                    if tz_mapped and fields[7] and not _valid_timezone(fields[7]):
                        rejected += 1
                        report.add("rejected", number, f"unknown time zone {fields[7]!r}", cells)
                        continue
                stage_id = default_stage
                if stage_idx is not None and stage_idx < n and cells[stage_idx].strip():
                    found = self.stage_ids.get(_clean(cells[stage_idx], 80).casefold())
                    if found is None:
                        rejected += 1
                        report.add(
                            "rejected", number, f"no stage named {cells[stage_idx]!r}", cells
                        )
                        continue
                    stage_id = found
                tags = import_tags
                if tags_idx is not None and tags_idx < n and cells[tags_idx].strip():
                    tags = import_tags | {
                        out.tag_id(name)
                        for name in tag_names([_unguarded(cells[tags_idx].strip())], self.tag_ids)
                    }

                lead_id = seen.get(key)
                if lead_id is None:
                    seen[key] = next_id
                    rows_of.append(number)
                    position = end_position.get(stage_id, 0.0) + 1.0
                    end_position[stage_id] = position
                    if policy != "skip":  # only update and merge look a pending lead up
                        in_chunk[key] = len(chunk) + len(pending)
                    if deferred:
                        pending.append((cells, email, key, stage_id, position))
                    else:
                        chunk.append(
                            lead_rows.whole(next_id, email, key, fields, custom, stage_id, position)
                        )
                    if tags:
                        chunk_tags[next_id] = set(tags)
                    next_id += 1
                    imported += 1
                    if len(chunk) + len(pending) >= CHUNK:
                        if pending:
                            chunk += lead_rows.build(pending, next_id - len(pending))
                            pending = []
                        out.flush(self._statements(chunk), chunk_tags, updates, rows, next_id)
                        chunk, in_chunk, chunk_tags, updates = [], {}, {}, []
                    continue
                first_row = rows_of[lead_id - first_id] if lead_id >= first_id else None
                where = f"row {first_row}" if first_row is not None else f"lead #{lead_id}"
                why = SKIPPED_REPEATED if first_row is not None else SKIPPED_KNOWN
                if policy == "skip":
                    skipped += 1
                    report.skip(number, why, where, cells)
                    continue
                if deferred:
                    fields, custom = row_values(cells)
                values = dict(zip(TEXT_FIELDS, fields, strict=True))
                index = in_chunk.get(key)
                if index is not None:  # the lead is not written yet: combine in memory
                    if pending:
                        chunk += lead_rows.build(pending, next_id - len(pending))
                        pending = []
                    lead = {
                        **lead_rows.constant,
                        **dict(zip(lead_rows.columns, chunk[index], strict=True)),
                    }
                    lead["custom_fields"] = json.loads(lead["custom_fields"])
                    have = chunk_tags.get(lead_id, set())
                    if _combine(lead, values, custom, policy) or not tags <= have:
                        lead["custom_fields"] = _json_object(lead["custom_fields"])
                        lead["search_text"] = _search_text(lead)
                        chunk[index] = tuple(lead[c] for c in lead_rows.columns)
                        # (a file's blank cells change nothing, so the constants hold)
                        assert all(lead[c] == v for c, v in lead_rows.constant.items())
                        if tags:
                            chunk_tags[lead_id] = have | tags
                        updated += 1
                    else:
                        skipped += 1
                        report.skip(number, why, where, cells, nothing_new=True)
                    continue
                updates.append(
                    _PendingUpdate(
                        number,
                        cells,
                        lead_id,
                        values,
                        custom,
                        set(tags),
                        first_row is None,
                        first_row,
                    )
                )
        if pending:
            chunk += lead_rows.build(pending, next_id - len(pending))
        out.flush(self._statements(chunk), chunk_tags, updates, rows, next_id)
        return _Totals(
            (imported, updated, skipped, rejected),
            rows,
            blank,
            next_id,
            lead_rows.cut,
            self.table.replaced,
        )

    def _statements(self, chunk: list[tuple[Any, ...]]) -> _Statements:
        """The chunk's INSERT parameters: rows_per_insert leads a tuple, the rest one each."""
        many = self.rows_per_insert
        whole = len(chunk) - len(chunk) % many
        groups = zip(*[iter(chunk[:whole])] * many, strict=True)
        return list(map(tuple, map(chain.from_iterable, groups))), chunk[whole:]

    def _keep_after_images(self, conn: Connection, batch_id: int) -> None:
        """Beside each updated lead's before-image, the lead as this import left it: undone
        later, the import puts back only what is still as it left it, not what someone
        changed since."""
        images = conn.execute(
            select(ImportBatchUpdate.id, ImportBatchUpdate.lead_id, ImportBatchUpdate.before).where(
                ImportBatchUpdate.batch_id == batch_id
            )
        ).all()
        now = _lead_images(conn, [lead_id for _id, lead_id, _before in images])
        conn.execute(
            update(ImportBatchUpdate).where(ImportBatchUpdate.id == _bind("b_id")),
            [
                {"b_id": image_id, "before": {**before, "after": now[lead_id]}}
                for image_id, lead_id, before in images
            ],
        )

    def _maybe_defer_indexes(self, conn: Connection, rows: int, fraction: float) -> None:
        """Decided once, at the first full chunk: if the file holds many more new leads than
        the workspace has rows, drop the leads' secondary indexes now and create them again
        (same SQL) before the commit. A rollback or a crash brings them back untouched."""
        self.dropped_indexes = []
        expected = rows / fraction if fraction > 0 else 0.0
        existing = self.first_id - 1  # leads' rows (ids only grow): an upper bound
        if conn.dialect.name != "sqlite" or expected < max(BULK_MIN_ROWS, 2 * existing):
            return
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'leads' AND sql IS NOT NULL"
        ).fetchall()
        for name, sql in indexes:
            if self.owner_constant == "" and name == _OWNER_INDEX:
                continue  # no new lead enters it: kept, it costs the insert nothing
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
            self.dropped_indexes.append(sql)

    def _report_progress(self, rows: int, phase: str, fraction: float | None = None) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        if fraction is None:
            fraction = self.table.fraction_read()
        self.progress(ImportProgress(rows, fraction, rows / elapsed if elapsed else 0.0, phase))
        if self.should_cancel():
            raise ImportCancelled()

    def _flush(
        self,
        conn: Connection,
        batch_id: int,
        chunk: _Statements,
        chunk_tags: dict[int, set[int]],
        updates: list[_PendingUpdate],
        next_id: int,
    ) -> None:
        groups, singles = chunk
        if groups:
            conn.exec_driver_sql(self.insert_many_sql, groups)  # type: ignore[arg-type]
        if singles:
            conn.exec_driver_sql(self.insert_sql, singles)  # type: ignore[arg-type]
        if groups or singles:
            links = [(lead_id, t) for lead_id, tags in chunk_tags.items() for t in tags]
            if links:
                conn.exec_driver_sql(
                    "INSERT INTO lead_tags (lead_id, tag_id) VALUES (?, ?)",
                    links,  # type: ignore[arg-type]
                )
        if next_id > self.history_from:  # the new leads entered their stage: say so
            stage = cast(_LeadRows, self.lead_rows).constant.get("stage_id")
            conn.execute(
                insert(StageHistory).from_select(
                    ["lead_id", "from_stage_id", "to_stage_id", "moved_at", "reason"],
                    select(
                        Lead.id,
                        literal(None, Integer),
                        # (the stage every new lead went to, when the file names none)
                        literal(stage, Integer) if stage is not None else Lead.stage_id,
                        literal(self.now, Timestamp()),
                        literal(self.source_tag, String),
                    ).where(Lead.id.between(self.history_from, next_id - 1)),
                )
            )
            self.history_from = next_id
        if updates:
            self._apply_updates(conn, batch_id, updates)

    def _apply_updates(
        self, conn: Connection, batch_id: int, updates: list[_PendingUpdate]
    ) -> None:
        ids = list({u.lead_id for u in updates})
        current: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 900):
            for row in conn.execute(select(*_IMAGED).where(Lead.id.in_(ids[start : start + 900]))):
                data = dict(row._mapping)
                data["custom_fields"] = dict(data["custom_fields"] or {})
                current[data["id"]] = data
        tags_now: dict[int, set[int]] = {}
        for start in range(0, len(ids), 900):
            for lead_id, tag_id in conn.execute(
                select(lead_tags.c.lead_id, lead_tags.c.tag_id).where(
                    lead_tags.c.lead_id.in_(ids[start : start + 900])
                )
            ):
                tags_now.setdefault(lead_id, set()).add(tag_id)
        before_rows = []
        changed: dict[int, dict[str, Any]] = {}
        new_links: list[tuple[int, int]] = []
        policy = self.options.on_duplicate
        for u in updates:
            lead = current.get(u.lead_id)
            if lead is None:  # cannot happen under the write lock; never lose count of it
                self.counts["rejected"] += 1
                self.report.add(
                    "rejected", u.row, "the lead disappeared during the import", u.cells
                )
                continue
            have = tags_now.setdefault(u.lead_id, set())
            needs_image = u.existing and u.lead_id not in self.imaged
            if needs_image:
                before = _undo_image(lead, have)
            fields_changed = _combine(lead, u.values, u.custom, policy)
            added = u.tags - have
            if fields_changed or added:
                if needs_image:
                    before_rows.append(
                        {"batch_id": batch_id, "lead_id": u.lead_id, "before": before}
                    )
                    self.imaged.add(u.lead_id)
                have |= added
                new_links.extend((u.lead_id, t) for t in added)
                if fields_changed:
                    changed[u.lead_id] = lead
                self.counts["updated"] += 1
            else:
                self.counts["skipped"] += 1
                repeated = u.first_row is not None
                self.report.skip(
                    u.row,
                    SKIPPED_REPEATED if repeated else SKIPPED_KNOWN,
                    f"row {u.first_row}" if repeated else f"lead #{u.lead_id}",
                    u.cells,
                    nothing_new=True,
                )
        if before_rows:
            conn.execute(insert(ImportBatchUpdate), before_rows)
        if changed:
            stmt = (
                update(LEADS)
                .where(LEADS.c.id == _bind("b_id"))
                .values(
                    **{f: _bind(f"b_{f}") for f in TEXT_FIELDS},
                    custom_fields=_bind("b_custom_fields", LEADS.c.custom_fields.type),
                    search_text=_bind("b_search_text"),
                    updated_at=_bind("b_updated_at", LEADS.c.updated_at.type),
                )
            )
            params = []
            for lead_id, lead in changed.items():
                p = {f"b_{f}": lead[f] for f in TEXT_FIELDS}
                p.update(
                    b_id=lead_id,
                    b_custom_fields=lead["custom_fields"],
                    b_search_text=_search_text(lead),
                    b_updated_at=self.now,
                )
                params.append(p)
            conn.execute(stmt, params)
        if new_links:
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO lead_tags (lead_id, tag_id) VALUES (?, ?)",
                new_links,  # type: ignore[arg-type]
            )


# The columns of a lead an update by an import may change, and its undo puts back.
_IMAGED = (
    Lead.id,
    Lead.email,
    *(getattr(Lead, f) for f in TEXT_FIELDS),
    Lead.custom_fields,
    Lead.updated_at,
)


def _undo_image(lead: dict[str, Any], tag_ids: Iterable[int]) -> dict[str, Any]:
    """What an import's undo compares and puts back of a lead (columns `_IMAGED` and its tag
    ids), as JSON holds it."""
    image = {k: v for k, v in lead.items() if k not in ("id", "updated_at")}
    image["custom_fields"] = dict(lead["custom_fields"] or {})
    image["updated_at"] = lead["updated_at"].isoformat()
    image["tag_ids"] = sorted(tag_ids)
    return image


def _lead_images(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The undo images of these leads as they are now."""
    rows: dict[int, dict[str, Any]] = {}
    tags: dict[int, set[int]] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        for row in conn.execute(select(*_IMAGED).where(Lead.id.in_(part))):
            rows[row.id] = dict(row._mapping)
        for lead_id, tag_id in conn.execute(
            select(lead_tags.c.lead_id, lead_tags.c.tag_id).where(lead_tags.c.lead_id.in_(part))
        ):
            tags.setdefault(lead_id, set()).add(tag_id)
    return {lead_id: _undo_image(row, tags.get(lead_id, ())) for lead_id, row in rows.items()}


def _bind(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_)


def _combine(
    target: dict[str, Any], values: dict[str, str], custom: dict[str, str], policy: str
) -> bool:
    """Apply a duplicate row's values to a lead's: "update" lets non-blank file values win,
    "merge" only fills what the lead lacks. Returns whether anything changed."""
    changed = False
    for name, value in values.items():
        if name not in TEXT_FIELDS or not value:
            continue
        old = target.get(name, "")
        if old != value and (policy == "update" or not old):
            target[name] = value
            changed = True
    fields_ = target.setdefault("custom_fields", {})
    for name, value in custom.items():
        old = fields_.get(name, "")
        if old != value and (policy == "update" or not old):
            fields_[name] = value
            changed = True
    return changed


# --- Batches and undo ---------------------------------------------------------------------


def list_batches(workspace: Workspace, limit: int = 50) -> list[BatchInfo]:
    with workspace.session() as session:
        batches = session.scalars(
            select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
        ).all()
        return [
            BatchInfo(
                b.id,
                b.file_name,
                b.finished_at,
                b.rows,
                b.imported,
                b.updated,
                b.skipped,
                b.rejected,
                b.undone_at,
            )
            for b in batches
        ]


@dataclass(frozen=True)
class UndoImportResult:
    removed: int  # leads the import had created
    restored: int  # leads it had updated, put back as they were
    kept: int = 0  # of those, leads changed again since: what changed since was kept

    def summary(self, batch_id: int) -> str:
        kept = f", {self.kept:,} of them keeping later changes" if self.kept else ""
        return (
            f"Import #{batch_id} undone: {self.removed:,} leads removed,"
            f" {self.restored:,} put back{kept}."
        )


def added_by(batch: ImportBatch) -> ColumnElement[bool]:
    """The leads a finished import added: its id range, less any lead made after it. SQLite
    gives a new lead the highest id erased last (a forget, a purge of the trash), so a lead
    added later can take an id in the range; undoing the import must not erase it."""
    in_range = Lead.id.between(batch.first_lead_id, batch.last_lead_id)
    if batch.finished_at is None:
        return in_range
    return and_(in_range, Lead.created_at <= batch.finished_at)


def worked_on_since(workspace: Workspace, batch_id: int) -> int:
    """Leads an import added that have a life of their own since: edited or tagged, moved
    to another stage, enrolled by hand, or with an interaction (an email opened, a call
    logged). Undoing the import removes them, and that with them: the CLI and the window ask
    first, with `worked_on_warning`."""
    with workspace.session() as session:
        batch = session.get(ImportBatch, batch_id)
        if batch is None or batch.first_lead_id is None or batch.last_lead_id is None:
            return 0
        since = batch.finished_at or batch.started_at
        return int(
            session.scalar(
                select(func.count()).where(
                    added_by(batch),
                    or_(
                        Lead.updated_at > since,  # (tagging too: bulk._touch)
                        Lead.stage_entered_at > since,
                        exists().where(Interaction.lead_id == Lead.id),
                        # (enrolment rules enrol new leads by themselves: that is no work)
                        exists().where(Enrollment.lead_id == Lead.id, Enrollment.how == "by hand"),
                    ),
                )
            )
            or 0
        )


def worked_on_warning(count: int, batch_id: int) -> str:
    """What undoing the import would take with it (count from `worked_on_since`)."""
    return (
        f"{count:,} of the leads import #{batch_id} added were edited, tagged, moved, enrolled"
        " or had an interaction since; undoing the import removes them, and that with them."
    )


def _undo_changes(
    now: dict[str, Any], was: dict[str, Any], became: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """`now` with each key the import changed (from `was` to `became`) and nobody changed
    since put back; and whether a key the import changed was changed again since (kept)."""
    result, kept = dict(now), False
    for key in set(was) | set(became):
        if now.get(key) == became.get(key):
            if key in was:
                result[key] = was[key]
            else:
                result.pop(key, None)
        elif was.get(key) != became.get(key):
            kept = True
    return result, kept


def _put_back(lead: Lead, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Undo one lead's update where it is still as the import left it (each field, each
    custom field); what was changed since stays. True if anything was kept that way."""
    fields, kept_fields = _undo_changes(
        {name: getattr(lead, name) for name in TEXT_FIELDS},
        {name: before.get(name, "") for name in TEXT_FIELDS},
        {name: after.get(name, "") for name in TEXT_FIELDS},
    )
    for name, value in fields.items():
        setattr(lead, name, value)
    lead.custom_fields, kept_custom = _undo_changes(
        dict(lead.custom_fields or {}),
        before.get("custom_fields", {}),
        after.get("custom_fields", {}),
    )
    kept = kept_fields or kept_custom
    if not kept and lead.updated_at.isoformat() == after.get("updated_at"):
        lead.updated_at = datetime.fromisoformat(before["updated_at"])
    return kept


def undo_import(workspace: Workspace, batch_id: int) -> UndoImportResult:
    """Take a finished import back as a whole: its new leads are erased, the leads it
    updated get back the values and tags it changed (unless changed again since), the
    tags it created go if unused."""
    with workspace.session() as session:
        batch = session.get(ImportBatch, batch_id)
        if batch is None:
            raise NotFoundError(f"No import #{batch_id}.")
        if batch.undone_at is not None:
            raise UserError(f"Import #{batch_id} was already undone.")
        removed = 0
        stage_ids = set()
        if batch.first_lead_id is not None and batch.last_lead_id is not None:
            in_batch = added_by(batch)
            stage_ids |= set(session.scalars(select(Lead.stage_id).where(in_batch).distinct()))
            # Rows other capabilities keep about these leads (enrolments, interactions, ...)
            # go with them, whatever their foreign key says.
            ids = select(Lead.id).where(in_batch).scalar_subquery()
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "leads" and "lead_id" in table.c:
                    session.execute(delete(table).where(table.c.lead_id.in_(ids)))
            result = session.execute(delete(Lead).where(in_batch))
            removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
        restored = kept = 0
        befores = session.scalars(
            select(ImportBatchUpdate).where(ImportBatchUpdate.batch_id == batch_id)
        ).all()
        for item in befores:
            before = dict(item.before)
            after = before.pop("after", None)  # (imports before this was kept: none)
            tag_ids = set(before.pop("tag_ids", []))
            lead = session.get(Lead, item.lead_id)
            if lead is None:
                continue
            if after is not None:
                kept += _put_back(lead, before, after)
                # Only the tags the import added (and the lead still has) come off.
                added = set(after.get("tag_ids", [])) - tag_ids
                session.execute(
                    delete(lead_tags).where(
                        lead_tags.c.lead_id == lead.id, lead_tags.c.tag_id.in_(added)
                    )
                )
            else:
                for name in TEXT_FIELDS:
                    setattr(lead, name, before.get(name, ""))
                lead.custom_fields = before.get("custom_fields", {})
                lead.updated_at = datetime.fromisoformat(before["updated_at"])
                session.execute(delete(lead_tags).where(lead_tags.c.lead_id == lead.id))
                existing_tags = set(session.scalars(select(Tag.id).where(Tag.id.in_(tag_ids))))
                if existing_tags:
                    session.execute(
                        lead_tags.insert(),
                        [{"lead_id": lead.id, "tag_id": t} for t in existing_tags],
                    )
            lead.search_text = (
                f"{lead.first_name} {lead.last_name} {lead.email} {lead.company}".lower()
            )
            stage_ids.add(lead.stage_id)
            restored += 1
        for tag_id in batch.created_tag_ids or []:
            used = session.scalar(select(func.count()).where(lead_tags.c.tag_id == tag_id))
            if not used:
                session.execute(delete(Tag).where(Tag.id == tag_id))
        session.execute(delete(ImportBatchUpdate).where(ImportBatchUpdate.batch_id == batch_id))
        batch.undone_at = workspace.clock.now()
    workspace.events.publish(LeadsChanged((), tuple(stage_ids), "import undone"))
    return UndoImportResult(removed, restored, kept)
