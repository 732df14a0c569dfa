"""`newsletter add|list` and `suppress add|list|remove`: broadcasts and the do-not-mail list."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from nurturedesk.core import suppression
from nurturedesk.core.dispatch import RECURRENCES, list_newsletters, schedule_newsletter
from nurturedesk.core.errors import UserError
from nurturedesk.core.stages import find_stage
from nurturedesk.core.templates import find_template

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def newsletter_add(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    template = find_template(ws, a.template)
    stage_id = find_stage(ws, a.stage).id if a.stage else None
    first = None
    if a.at:
        try:
            first = datetime.fromisoformat(a.at)
        except ValueError:
            raise UserError(
                f"--at is a UTC date and time like 2026-04-01T09:00, not {a.at!r}."
            ) from None
    schedule_newsletter(
        ws,
        a.name,
        template.id,
        stage_id=stage_id,
        tag=a.tag or "",
        segment=a.segment or "",
        recurrence=a.every,
        first_run=first,
    )
    print(
        f"Newsletter {a.name!r} scheduled ({a.every}); it goes out with the next dispatch pass due."
    )
    return 0


def newsletter_list(ctx: Context) -> int:
    for n in list_newsletters(ctx.workspace()):
        when = f"{n.next_run_at:%Y-%m-%d %H:%M}" if n.next_run_at else "done"
        print(f"#{n.id}\t{n.name}\t{n.audience}\t{n.recurrence}\tnext {when}\truns {n.runs}")
    return 0


def suppress_add(ctx: Context) -> int:
    suppression.suppress(ctx.workspace(), ctx.args.email, ctx.args.reason, ctx.args.note or "")
    print(f"{ctx.args.email} will never be mailed ({ctx.args.reason}).")
    return 0


def suppress_list(ctx: Context) -> int:
    for s in suppression.list_suppressed(ctx.workspace()):
        print(f"{s.email}\t{s.reason}\t{s.created_at:%Y-%m-%d}\t{s.detail}")
    return 0


def suppress_remove(ctx: Context) -> int:
    suppression.unsuppress(ctx.workspace(), ctx.args.email)
    print(f"{ctx.args.email.strip()} removed from the suppression list.")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("newsletter", "broadcasts to a stage, a tag or a segment, once or recurring")
    p = cli.command("add", newsletter_add, "schedule a newsletter", group="newsletter")
    p.add_argument("name")
    p.add_argument("--template", required=True)
    p.add_argument("--stage")
    p.add_argument("--tag")
    p.add_argument(
        "--segment", metavar="NAME", help="a saved segment; its members are taken at each run"
    )
    p.add_argument("--every", choices=list(RECURRENCES), default="once")
    p.add_argument("--at", help="first run, UTC (default: now)")
    cli.command("list", newsletter_list, "list newsletters", group="newsletter")
    cli.group("suppress", "addresses never mailed")
    p = cli.command("add", suppress_add, "never mail this address", group="suppress")
    p.add_argument("email")
    p.add_argument("--reason", choices=suppression.REASONS, default="do-not-contact")
    p.add_argument("--note")
    cli.command("list", suppress_list, "list suppressed addresses", group="suppress")
    p = cli.command("remove", suppress_remove, "allow mail to this address again", group="suppress")
    p.add_argument("email")
