"""`segment save|list|show|delete`: saved filters evaluated when used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nurturedesk.core import leads as lead_service
from nurturedesk.core import segments

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def save(ctx: Context) -> int:
    a = ctx.args
    conditions = [segments.parse_condition(c) for c in a.condition]
    info = segments.save_segment(ctx.workspace(), a.name, conditions, "any" if a.any else "all")
    count = segments.count_segment(ctx.workspace(), info.name)
    print(f"Segment {info.name!r}: {info.description} ({count:,} leads now)")
    return 0


def list_(ctx: Context) -> int:
    ws = ctx.workspace()
    found = segments.list_segments(ws)
    if ctx.args.json:
        ctx.print_json(
            [
                {
                    "name": s.name,
                    "match": s.match,
                    "conditions": [str(c) for c in s.conditions],
                    "leads": segments.count_segment(ws, s.name),
                }
                for s in found
            ]
        )
        return 0
    for s in found:
        print(f"{s.name}\t{segments.count_segment(ws, s.name):,} leads\t{s.description}")
    return 0


def show(ctx: Context) -> int:
    ws = ctx.workspace()
    ids = segments.segment_lead_ids(ws, ctx.args.name)
    cards = lead_service.cards_by_id(ws, ids)
    if ctx.args.json:
        ctx.print_json([{"id": c.id, "name": c.name, "email": c.email} for c in cards.values()])
        return 0
    for card in cards.values():
        print(f"#{card.id}\t{card.name} <{card.email}>")
    return 0


def delete(ctx: Context) -> int:
    info = segments.delete_segment(ctx.workspace(), ctx.args.name)
    print(f"Deleted segment {info.name!r}")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("segment", "saved segments: filters over fields, tags, stage, score, ...")
    p = cli.command("save", save, "create or replace a segment", group="segment")
    p.add_argument("name")
    p.add_argument(
        "condition",
        nargs="+",
        help="FIELD OP VALUE, e.g. 'score >= 50', 'grade = A,B', 'tag = webinar', "
        "'stage != Won', 'company ~ acme', 'custom.City = Paris', 'created within 30', "
        "'last_interaction < 2026-01-01', 'last_interaction = never'",
    )
    p.add_argument("--any", action="store_true", help="match any condition (default: all)")
    p = cli.command("list", list_, "list segments with their current size", group="segment")
    p.add_argument("--json", action="store_true")
    p = cli.command("show", show, "list the leads in a segment now", group="segment")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = cli.command("delete", delete, "delete a segment (its leads stay)", group="segment")
    p.add_argument("name")
