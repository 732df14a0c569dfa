"""`bulk tag|untag|owner|move|enrol|unenrol|delete`: one action on many leads, chosen by segment, stage,
tag or email addresses (what the GUI does on multi-selected cards)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nurturedesk.core import bulk
from nurturedesk.core import leads as lead_service
from nurturedesk.core.errors import UserError
from nurturedesk.core.segments import get_segment
from nurturedesk.core.stages import find_stage

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def selected_ids(ctx: Context) -> list[int]:
    a = ctx.args
    ws = ctx.workspace()
    if a.email:
        return [lead_service.find_lead(ws, email).id for email in a.email]
    if not (a.segment or a.stage or a.tag):
        raise UserError("Choose the leads: --segment NAME, --stage NAME, --tag TAG or --email.")
    flt = lead_service.LeadFilter(
        tag=lead_service.find_tag(ws, a.tag) if a.tag else "",
        segment=get_segment(ws, a.segment) if a.segment else None,
    )
    stage_id = find_stage(ws, a.stage).id if a.stage else None
    return [lead.id for lead in lead_service.list_leads(ws, flt, stage_id)]


def tag(ctx: Context) -> int:
    change = bulk.tag_leads(ctx.workspace(), selected_ids(ctx), ctx.args.name)
    print(f"Tagged {len(change.lead_ids)} leads “{change.tag}”")
    return 0


def untag(ctx: Context) -> int:
    change = bulk.untag_leads(ctx.workspace(), selected_ids(ctx), ctx.args.name)
    print(f"Took “{ctx.args.name}” off {len(change.lead_ids)} leads")
    return 0


def owner(ctx: Context) -> int:
    change = bulk.assign_owner(ctx.workspace(), selected_ids(ctx), ctx.args.name)
    print(f"Assigned {len(change.previous)} leads to {change.owner or 'nobody'}")
    return 0


def move(ctx: Context) -> int:
    ws = ctx.workspace()
    stage = find_stage(ws, ctx.args.name)
    records = bulk.move_leads(ws, selected_ids(ctx), stage.id, reason="bulk move")
    print(f"Moved {len(records)} leads to {stage.name}")
    return 0


def enrol(ctx: Context) -> int:
    change = bulk.enrol_leads(ctx.workspace(), selected_ids(ctx), ctx.args.name)
    text = f"Enrolled {len(change.before)} leads in {change.sequence_name}"
    if change.suppressed:
        text += f"; {len(change.suppressed)} left out (on the suppression list)"
    print(text)
    return 0


def unenrol(ctx: Context) -> int:
    change = bulk.unenrol_leads(ctx.workspace(), selected_ids(ctx), ctx.args.name)
    print(f"Stopped {len(change.before)} enrolments in {change.sequence_name}")
    return 0


def delete(ctx: Context) -> int:
    ids = bulk.delete_leads(ctx.workspace(), selected_ids(ctx))
    # The GUI's undo covers only its own deletions, and no command brings soft-deleted
    # leads back: say what does, and what else it brings back.
    print(
        f"Deleted {len(ids)} leads. There is no undo from the command line: restoring a "
        "backup taken before (`nurturedesk backups`) brings them back, and the rest of "
        "the workspace as it was then."
    )
    return 0


def register(cli: CommandLine) -> None:
    cli.group("bulk", "one action on many leads (by segment, stage, tag or email)")
    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument("--segment")
    selection.add_argument("--stage")
    selection.add_argument("--tag", help="leads that have this tag")
    selection.add_argument("--email", action="append", help="a lead's address (repeat)")
    for name, handler, help_, arg in (
        ("tag", tag, "add a tag", "tag to add"),
        ("untag", untag, "remove a tag", "tag to remove"),
        ("owner", owner, "assign an owner", "owner ('' for nobody)"),
        ("move", move, "move to a stage", "stage"),
        ("enrol", enrol, "enrol in a nurture sequence", "sequence name or number"),
        ("unenrol", unenrol, "stop their enrolment in a sequence", "sequence name or number"),
    ):
        p = cli.command(name, handler, help_, group="bulk")
        p._add_container_actions(selection)
        p.add_argument("name", help=arg)
    p = cli.command("delete", delete, "delete leads (soft)", group="bulk")
    p._add_container_actions(selection)
