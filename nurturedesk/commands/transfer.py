"""`import`, `export`, `imports list|undo`: leads in and out of the workspace by file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nurturedesk.cli import on_interrupt
from nurturedesk.core import exporter, importer
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import LeadFilter

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def _parse_map(items: list[str] | None) -> dict[str, str]:
    mapping = {}
    for item in items or []:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip():
            raise UserError(f"Write --map as COLUMN=FIELD, not {item!r}.")
        mapping[column.strip()] = target.strip()
    return mapping


def import_(ctx: Context) -> int:
    a = ctx.args
    options = importer.ImportOptions(
        mapping=_parse_map(a.map),
        unknown_columns=a.unknown,
        on_duplicate=a.on_duplicate,
        tags=tuple(a.tag or ()),
        source=a.source or "",
        stage=a.stage,
        dry_run=a.dry_run,
        encoding=a.encoding,
        delimiter=a.delimiter,
        report_path=Path(a.report) if a.report else None,
    )
    ws = ctx.workspace()
    show_progress = not a.json and sys.stderr.isatty()

    def progress(p: importer.ImportProgress) -> None:
        print(
            f"\r{p.rows:>10,} rows  {p.fraction:>4.0%}  {p.rows_per_second:>8,.0f} rows/s",
            end="",
            file=sys.stderr,
            flush=True,
        )

    try:
        # The import is one transaction: Ctrl+C rolls all of it back.
        with on_interrupt("Import cancelled; nothing was imported."):
            result = importer.import_file(
                ws, a.file, options, progress=progress if show_progress else None
            )
    finally:
        if show_progress:
            print(file=sys.stderr)  # end the progress line
    if a.json:
        ctx.print_json(result.as_json())
        return 0
    verb = "Would import" if result.dry_run else "Imported"
    print(
        f"{verb} {result.rows:,} rows from {Path(a.file).name}: {result.imported:,} new, "
        f"{result.updated:,} updated, {result.skipped:,} skipped, {result.rejected:,} rejected "
        f"({result.rows_per_second:,.0f} rows/s)."
    )
    if result.skipped_why:
        print(f"  skipped: {result.skipped_summary()}")
    for problem in result.problems:
        print(f"  rejected {problem}")
    more = result.rejected - len(result.problems)  # the result holds the first few only
    if more > 0:
        where = f" (see {result.rejected_file})" if result.rejected_file else ""
        print(f"  ... and {more:,} more{where}")
    for warning in result.warnings:
        print(f"Warning: {warning}.")
    if result.rejected_file:
        print(f"Skipped and rejected rows, with the reason: {result.rejected_file}")
    if result.batch_id is not None:
        print(f"Undo this import with: nurturedesk imports undo {result.batch_id}")
    return 0


def export(ctx: Context) -> int:
    a = ctx.args
    flt = LeadFilter(tag=a.tag or "", search=a.search or "")
    result = exporter.export_leads(
        ctx.workspace(), a.file, flt=flt, stage=a.stage, segment=a.segment, fmt=a.format
    )
    if a.json:
        ctx.print_json({"file": result.path, "leads": result.leads, "columns": result.columns})
    else:
        print(f"Exported {result.leads:,} leads to {result.path}")
    return 0


def list_imports(ctx: Context) -> int:
    batches = importer.list_batches(ctx.workspace())
    if ctx.args.json:
        ctx.print_json([b.__dict__ for b in batches])
        return 0
    for b in batches:
        state = f"undone {b.undone_at:%Y-%m-%d %H:%M}" if b.undone_at else "kept"
        when = f"{b.finished_at:%Y-%m-%d %H:%M}" if b.finished_at else "?"
        print(
            f"#{b.id}\t{when}\t{Path(b.file_name).name}\t{b.rows} rows: {b.imported} new, "
            f"{b.updated} updated, {b.skipped} skipped, {b.rejected} rejected\t{state}"
        )
    return 0


def undo(ctx: Context) -> int:
    ws, batch = ctx.workspace(), ctx.args.batch
    busy = importer.worked_on_since(ws, batch)
    if busy and not ctx.args.force:
        raise UserError(
            f"{importer.worked_on_warning(busy, batch)} Run again with --force to undo it anyway."
        )
    print(importer.undo_import(ws, batch).summary(batch))
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("import", import_, "import leads from a CSV, TSV or XLSX file")
    p.add_argument("file")
    p.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help=f"map a column to a field ({', '.join(importer.FIELDS)}), ignore, or custom:NAME",
    )
    p.add_argument("--on-duplicate", choices=importer.POLICIES, default="skip")
    p.add_argument(
        "--unknown",
        choices=("custom", "ignore"),
        default="custom",
        help="columns not recognised become custom fields (default) or are ignored",
    )
    p.add_argument("--tag", action="append", help="tag every imported lead (repeat for more)")
    p.add_argument("--source", help="source for new leads whose row gives none")
    p.add_argument("--stage", help="stage for new leads (default: the first)")
    p.add_argument("--dry-run", action="store_true", help="check and count, change nothing")
    p.add_argument("--encoding", help="file encoding (default: detected)")
    p.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    p.add_argument("--report", metavar="FILE", help="where skipped/rejected rows are written")
    p.add_argument("--json", action="store_true")

    p = cli.command("export", export, "export leads to a CSV or XLSX file")
    p.add_argument("file")
    p.add_argument("--stage")
    p.add_argument("--tag")
    p.add_argument("--search")
    p.add_argument("--segment")
    p.add_argument("--format", choices=exporter.FORMATS, help="default: from the file name")
    p.add_argument("--json", action="store_true")

    cli.group("imports", "earlier imports: list them, undo one")
    p = cli.command("list", list_imports, "list imports", group="imports")
    p.add_argument("--json", action="store_true")
    p = cli.command("undo", undo, "take an import back as a whole", group="imports")
    p.add_argument("batch", type=int, help="import number (see `imports list`)")
    p.add_argument(
        "--force",
        action="store_true",
        help="undo even if leads it added were worked on since (they go too)",
    )
