"""`lead export-data EMAIL`, `lead forget EMAIL`: personal data requests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nurturedesk.core import privacy

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def export_data(ctx: Context) -> int:
    a = ctx.args
    if a.out:
        path = privacy.write_personal_data(ctx.workspace(), a.email, a.out)
        print(f"Wrote everything stored about {a.email.strip()} to {path}")
    else:
        data = privacy.export_personal_data(ctx.workspace(), a.email)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def forget(ctx: Context) -> int:
    result = privacy.forget_lead(ctx.workspace(), ctx.args.email)
    rows = sum(n for t, n in result.rows_by_table.items() if t != "leads")
    if result.leads:
        erased = f"{result.leads} lead(s) and {rows} related rows erased"
    else:  # e.g. an address only on the suppression list
        tables = ", ".join(sorted(t for t in result.rows_by_table if t != "leads"))
        erased = f"no lead had this address; {rows} row(s) holding it erased ({tables})"
    if result.mail_files:
        erased += f", {result.mail_files} sent-mail file(s) deleted"
    print(
        f"Forgot {ctx.args.email.strip()}: {erased}; "
        "only a hash remains in the workspace, so the address is never imported or mailed again."
    )
    if result.copies:
        print(result.copies_advice())
    return 0


def register(cli: CommandLine) -> None:
    cli.group("lead", "add, list and move leads")
    p = cli.command(
        "export-data", export_data, "export all data about a person (JSON)", group="lead"
    )
    p.add_argument("email")
    p.add_argument("--out", metavar="FILE", help="write to FILE (default: print)")
    p = cli.command("forget", forget, "erase a person and their history for good", group="lead")
    p.add_argument("email")
