"""`stage list`: the funnel's stages and how many leads each holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nurturedesk.core.leads import count_by_stage
from nurturedesk.core.stages import list_stages

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def list_(ctx: Context) -> int:
    ws = ctx.workspace()
    counts = count_by_stage(ws)
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "position": s.position,
            "colour": s.colour,
            "kind": s.kind.value,
            "count": counts.get(s.id, 0),
        }
        for s in list_stages(ws)
    ]
    if ctx.args.json:
        ctx.print_json(rows)
    else:
        for row in rows:
            print(f"{row['position']}\t{row['name']}\t{row['count']}\t{row['kind']}")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("stage", "the funnel's stages")
    p = cli.command("list", list_, "list stages with their lead counts", group="stage")
    p.add_argument("--json", action="store_true")
