"""`backup PATH`, `restore PATH` and `backups`: copies of the workspace, and getting one back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def backup(ctx: Context) -> int:
    from nurturedesk.core.backups import backup_to

    info = backup_to(ctx.workspace(), Path(ctx.args.path), overwrite=ctx.args.force)
    print(f"Backed up {ctx.workspace_path} to {info.path} ({info.size_bytes / 1e6:.1f} MB)")
    return 0


def restore(ctx: Context) -> int:
    from nurturedesk.core.backups import restore_from
    from nurturedesk.core.sender_lock import hold_sender_lock

    # Hold the sender lock while restoring: no window or `run` may be sending mail from the
    # workspace as it is replaced (its outbox would change underneath it).
    target = _Where(ctx.workspace_path)
    with hold_sender_lock(target, "restore"):
        result = restore_from(
            Path(ctx.args.path), ctx.workspace_path, now=datetime.now(UTC).replace(tzinfo=None)
        )
    print(f"Restored {ctx.workspace_path} from {result.restored_from}.")
    if result.previous_kept_at is not None:
        print(f"The workspace as it was is kept at {result.previous_kept_at}")
    if result.held_mail:
        print(result.held_mail_advice() + " (`nurturedesk outbox resend|mark-sent`)")
    if result.forgotten_again:
        print(result.forgotten_advice())
    return 0


def list_backups(ctx: Context) -> int:
    from nurturedesk.core.backups import backups_dir, check_backup
    from nurturedesk.core.backups import list_backups as automatic_backups

    backups = automatic_backups(ctx.workspace_path)
    rows: list[dict[str, object]] = []
    for b in backups:
        problem = check_backup(b.path)
        rows.append(
            {
                "path": str(b.path),
                "taken_at": b.taken_at.isoformat(timespec="seconds"),
                "size_bytes": b.size_bytes,
                "good": problem is None,
                "problem": problem or "",
            }
        )
    if ctx.args.json:
        ctx.print_json(rows)
        return 0
    if not rows:
        print(f"No automatic backups yet (they go to {backups_dir(ctx.workspace_path)}).")
    for row in rows:
        state = "ok" if row["good"] else f"DAMAGED: {row['problem']}"
        print(
            f"{row['taken_at']}  {float(str(row['size_bytes'])) / 1e6:7.1f} MB  {row['path']}  {state}"
        )
    return 0


class _Where:
    """Just enough of a workspace (path, url) for the sender lock, without opening it:
    a workspace being restored may be too damaged to open."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        self.url = f"sqlite:///{self.path}"


def register(cli: CommandLine) -> None:
    # Start-at-login launches `nurturedesk --background`: the GUI goes straight to the tray.
    cli.parser.add_argument(
        "--background", action="store_true", help="start in the tray, without the window"
    )
    p = cli.command("backup", backup, "write a consistent copy of the workspace to PATH")
    p.add_argument("path", metavar="PATH", help="a file to create, or a folder to put it in")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p = cli.command(
        "restore",
        restore,
        "replace the workspace with the backup at PATH (checked first; the current file is kept aside)",
    )
    p.add_argument("path", metavar="PATH", help="a backup file")
    p = cli.command("backups", list_backups, "list the automatic daily backups and check each")
    p.add_argument("--json", action="store_true", help="print JSON")
