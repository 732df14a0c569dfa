"""`lead add|list|move`: leads from the command line."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from nurturedesk.core import leads as lead_service
from nurturedesk.core.stages import find_stage

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def lead_json(lead: lead_service.LeadDetail) -> dict[str, Any]:
    data = asdict(lead)
    data["stage"] = lead.stage_name
    data["tags"] = list(lead.tags)
    return data


def add(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    stage_id = find_stage(ws, a.stage).id if a.stage else None
    data = lead_service.LeadData(
        email=a.email,
        first_name=a.first_name or "",
        last_name=a.last_name or "",
        company=a.company or "",
        title=a.title or "",
        source=a.source or "",
        owner=a.owner or "",
        tags=tuple(a.tag or ()),
    )
    lead = lead_service.add_lead(ws, data, stage_id)
    if a.json:
        ctx.print_json(lead_json(lead))
    else:
        print(f"Added #{lead.id} {lead.name} <{lead.email}> to {lead.stage_name}")
    return 0


def list_(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    stage_id = find_stage(ws, a.stage).id if a.stage else None
    tag = lead_service.find_tag(ws, a.tag) if a.tag else ""
    flt = lead_service.LeadFilter(search=a.search or "", tag=tag)
    leads = lead_service.list_leads(ws, flt, stage_id)
    if a.json:
        ctx.print_json([lead_json(lead) for lead in leads])
        return 0
    for lead in leads:
        company = f" ({lead.company})" if lead.company else ""
        print(f"#{lead.id}\t{lead.stage_name}\t{lead.name} <{lead.email}>{company}")
    return 0


def move(ctx: Context) -> int:
    ws = ctx.workspace()
    lead = lead_service.find_lead(ws, ctx.args.email)
    stage = find_stage(ws, ctx.args.stage)
    lead_service.move_leads(ws, [lead.id], stage.id, reason=ctx.args.reason or "command line")
    print(f"Moved {lead.name} from {lead.stage_name} to {stage.name}")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("lead", "add, list and move leads")
    p = cli.command("add", add, "add a lead", group="lead")
    p.add_argument("--email", required=True)
    for name in ("first-name", "last-name", "company", "title", "source", "owner", "stage"):
        p.add_argument(f"--{name}")
    p.add_argument("--tag", action="append", help="tag (repeat for more)")
    p.add_argument("--json", action="store_true", help="print the lead as JSON")
    p = cli.command("list", list_, "list leads", group="lead")
    p.add_argument("--stage")
    p.add_argument("--tag")
    p.add_argument("--search", help="words to find in name, email or company")
    p.add_argument("--json", action="store_true")
    p = cli.command("move", move, "move a lead to a stage", group="lead")
    p.add_argument("email")
    p.add_argument("stage")
    p.add_argument("--reason", help="why (kept in the stage history)")
