"""Exporting leads to CSV or XLSX, in a shape our importer reads back to the same leads.

Columns: the lead's fields by their field names, its stage and tags, score and creation
date (informational: the importer ignores them) and one `custom.<name>` column per custom
field. The file is written aside and renamed into place, so a failed export never leaves
half a file. Cells a spreadsheet would run as a formula get a leading apostrophe in CSV
(the importer takes it off); in XLSX they are stored as plain text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select

from nurturedesk.core.atomic import write_atomically
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import TEXT_FIELDS, LeadFilter, _filtered, find_tag
from nurturedesk.core.models import Lead, Stage, Tag, lead_tags
from nurturedesk.core.segments import segment_clause
from nurturedesk.core.stages import find_stage

BASE_COLUMNS = ("email", *TEXT_FIELDS, "stage", "tags", "score", "created_at")
FORMATS = ("csv", "xlsx")
_PHONE_LIKE = re.compile(r"[+-][\d\s().-]*")
# A cell (each preceded by NUL in the joined row) that guard_formula would change.
_RISKY_CELL = re.compile(r"\x00(?:[=@]|[+-](?![\d\s().-]*(?:\x00|\Z)))")


@dataclass(frozen=True)
class ExportResult:
    path: str
    leads: int
    columns: tuple[str, ...]


def guard_formula(value: str) -> str:
    """A leading apostrophe on cells a spreadsheet would evaluate (CSV injection), but not on
    phone numbers and negative numbers, which are common and harmless."""
    if value[:1] in ("=", "@") or (value[:1] in ("+", "-") and not _PHONE_LIKE.fullmatch(value)):
        return "'" + value
    return value


def _rows(
    workspace: Workspace, flt: LeadFilter | None, stage: str | None, segment: str | None
) -> tuple[list[dict[str, Any]], list[str]]:
    conditions: list[ColumnElement[bool]] = []
    if stage:
        conditions.append(Lead.stage_id == find_stage(workspace, stage).id)
    if segment:
        conditions.append(segment_clause(workspace, segment))
    if flt is not None and flt.tag:
        find_tag(workspace, flt.tag)  # an unknown tag is a typo, as an unknown stage is
    columns = [getattr(Lead, name) for name in ("id", "email", *TEXT_FIELDS)]
    query = _filtered(
        select(*columns, Lead.custom_fields, Lead.score, Lead.created_at, Stage.name.label("stage"))
        .join(Stage, Stage.id == Lead.stage_id)
        .where(*conditions),
        flt,
    ).order_by(Stage.position, Lead.position, Lead.id)
    with workspace.session() as session:
        rows = [dict(r._mapping) for r in session.execute(query)]
        tags: dict[int, list[str]] = {}
        tag_query = select(lead_tags.c.lead_id, Tag.name).join(Tag, Tag.id == lead_tags.c.tag_id)
        for lead_id, name in session.execute(tag_query.order_by(Tag.name)):
            tags.setdefault(lead_id, []).append(name)
    custom_names: dict[str, None] = {}
    for row in rows:
        row["tags"] = ", ".join(tags.get(row["id"], ()))
        row["created_at"] = row["created_at"].isoformat(sep=" ", timespec="seconds")
        for name in row["custom_fields"] or {}:
            custom_names.setdefault(name, None)
    return rows, sorted(custom_names, key=str.casefold)


def _records(rows: list[dict[str, Any]], custom: list[str]) -> Iterator[list[Any]]:
    for row in rows:
        fields = row["custom_fields"] or {}
        yield [
            *(row[c] for c in BASE_COLUMNS),
            *(fields.get(name, "") for name in custom),
        ]


def export_leads(
    workspace: Workspace,
    path: str | Path,
    *,
    flt: LeadFilter | None = None,
    stage: str | None = None,
    segment: str | None = None,
    fmt: str | None = None,
) -> ExportResult:
    """Write the matching live leads (board order) to `path`; format from `fmt` or suffix."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise UserError(f"Export as csv or xlsx, not {fmt!r}.")
    rows, custom = _rows(workspace, flt, stage, segment)
    header = [*BASE_COLUMNS, *(f"custom.{name}" for name in custom)]
    write = _write_csv if fmt == "csv" else _write_xlsx
    write_atomically(path, lambda tmp: write(tmp, header, _records(rows, custom)))
    return ExportResult(str(path), len(rows), tuple(header))


def _write_csv(path: Path, header: list[str], records: Iterator[list[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # the BOM tells Excel: UTF-8
        writer = csv.writer(fh)
        writer.writerow(header)
        for record in records:
            # One regex search per row finds the rare cell that needs the guard.
            if _RISKY_CELL.search("\x00" + "\x00".join(map(str, record))):
                record = [guard_formula(v) if isinstance(v, str) else v for v in record]
            writer.writerow(record)


def _text_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _write_xlsx(path: Path, header: list[str], records: Iterator[list[Any]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(header)
    for record in records:
        # Only text that openpyxl would take for a formula needs a cell of its own ("s": text
        # stays text); building one per cell made a 100k-lead export take half a minute.
        sheet.append(
            [_text_cell(sheet, v) if isinstance(v, str) and v[:1] == "=" else v for v in record]
        )
    book.save(path)
