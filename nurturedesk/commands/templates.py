"""`template add|list|preview`: email templates from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nurturedesk.core import templates
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import find_lead

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def add(ctx: Context) -> int:
    a = ctx.args
    if a.body_file:
        try:
            body = Path(a.body_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"Cannot read {a.body_file}: {exc.strerror}.") from None
    elif a.body is not None:
        body = a.body
    else:
        body = sys.stdin.read()
    ws = ctx.workspace()
    existing = {t.name: t.id for t in templates.list_templates(ws)}
    info = templates.save_template(ws, a.name, a.subject, body, existing.get(a.name.strip()))
    print(f"Saved template #{info.id} {info.name!r}")
    return 0


def list_(ctx: Context) -> int:
    items = templates.list_templates(ctx.workspace())
    if ctx.args.json:
        ctx.print_json([t.__dict__ for t in items])
        return 0
    for t in items:
        print(f"#{t.id}\t{t.name}\t{t.subject}")
    return 0


def preview(ctx: Context) -> int:
    from nurturedesk.core.preview import preview_for_lead

    ws = ctx.workspace()
    t = templates.find_template(ws, ctx.args.name)
    lead_id = find_lead(ws, ctx.args.lead).id if ctx.args.lead else None
    rendered = preview_for_lead(ws, t.subject, t.body, lead_id)
    print(f"Subject: {rendered.subject}\n")
    print(rendered.html if ctx.args.html else rendered.text)
    return 0


def register(cli: CommandLine) -> None:
    cli.group("template", "email templates (Markdown + {{ tokens }})")
    p = cli.command(
        "add", add, "add or replace a template (checked before saving)", group="template"
    )
    p.add_argument("name")
    p.add_argument("--subject", required=True)
    p.add_argument("--body", help="Markdown body (default: read from stdin)")
    p.add_argument("--body-file", help="read the Markdown body from this file")
    p = cli.command("list", list_, "list templates", group="template")
    p.add_argument("--json", action="store_true")
    p = cli.command("preview", preview, "render a template for a lead", group="template")
    p.add_argument("name")
    p.add_argument("--lead", help="lead email (default: a sample lead)")
    p.add_argument("--html", action="store_true", help="print the HTML part")
