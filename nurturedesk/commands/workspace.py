"""`gui`, `demo` and `selftest`: the workspace as a whole."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from nurturedesk.core.errors import UserError

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def run_gui(ctx: Context) -> int:
    from nurturedesk.app import run_app

    return run_app(ctx.workspace_path if ctx.workspace_given else None, demo=ctx.args.demo)


def demo(ctx: Context) -> int:
    from nurturedesk.core.demo import populate_demo

    if ctx.args.leads < 0:
        raise UserError("--leads must be 0 or more.")
    added = populate_demo(ctx.workspace(create_folders=True), leads=ctx.args.leads)
    print(f"Added {added} demo leads to {ctx.workspace_path}")
    return 0


def selftest(ctx: Context) -> int:
    """Build the main window offscreen on the workspace and report what was found."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from nurturedesk.app import selftest_report

    report = selftest_report(ctx.workspace())
    for key, value in report.items():
        print(f"{key}: {value}")
    sys.stdout.flush()
    return 0


def register(cli: CommandLine) -> None:
    gui = cli.command("gui", run_gui, "open the board (the default)")
    gui.add_argument(
        "--demo", action="store_true", help="open (creating if needed) a demo workspace"
    )
    cli.parser.add_argument("--demo", action="store_true", help="open a demo workspace")
    p = cli.command("demo", demo, "fill the workspace with a lived-in demo funnel")
    p.add_argument("--leads", type=int, default=300, help="how many leads (default 300)")
    cli.command("selftest", selftest, "open the workspace and build the main window offscreen")
