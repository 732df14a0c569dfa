"""`sender`: which process sends this workspace's mail (holds its sender lock), if any."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


class _Where:
    def __init__(self, ctx: Context) -> None:
        self.path = ctx.workspace_path.expanduser().resolve()
        self.url = f"sqlite:///{self.path}"


def sender(ctx: Context) -> int:
    from dataclasses import asdict

    from nurturedesk.core.sender_lock import current_holder

    holder = current_holder(_Where(ctx))
    if ctx.args.json:
        ctx.print_json(asdict(holder) if holder else None)
    elif holder is None:
        print("Nobody is sending mail for this workspace right now.")
    else:
        print(f"Mail is sent by {holder.describe()}.")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("sender", sender, "show which process sends this workspace's mail")
    p.add_argument("--json", action="store_true", help="print JSON")
