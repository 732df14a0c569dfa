"""`smtp set|password|test|file|throttle|show`: how nurture mail leaves this computer."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

from nurturedesk.core import credentials, mailconfig
from nurturedesk.core.errors import UserError
from nurturedesk.core.mailer import send_test_email
from nurturedesk.core.settings import set_setting

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context


def set_(ctx: Context) -> int:
    a = ctx.args
    if a.timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(a.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"Unknown time zone {a.timezone!r} (e.g. Europe/Paris).") from None
    ws = ctx.workspace()
    mailconfig.configure_smtp(
        ws, host=a.host, port=a.port, security=a.security, user=a.user or "", from_=a.from_
    )
    if a.postal_address is not None:
        set_setting(ws, "mail_postal_address", a.postal_address)
    if a.signature is not None:
        set_setting(ws, "mail_signature", a.signature)
    if a.timezone is not None:
        set_setting(ws, "mail_timezone", a.timezone)
    cfg = mailconfig.load_config(ws)
    print(f"Sending through {cfg.host}:{cfg.port} ({cfg.security}) as {cfg.from_header}")
    if cfg.user and not credentials.has_password(cfg.user, cfg.host):
        print("Now store the password: nurturedesk smtp password")
    return 0


def password(ctx: Context) -> int:
    cfg = mailconfig.load_config(ctx.workspace())
    if not cfg.user or not cfg.host:
        raise UserError("Set the SMTP host and user first: nurturedesk smtp set ...")
    if sys.stdin.isatty():
        secret = getpass.getpass(f"SMTP password for {cfg.user} on {cfg.host}: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    credentials.store_password(cfg.user, cfg.host, secret)
    print(f"Password for {cfg.user} on {cfg.host} stored in the system keyring.")
    return 0


def test(ctx: Context) -> int:
    cfg = mailconfig.load_config(ctx.workspace())
    if not cfg.ready:
        raise UserError("Sending is not set up: nurturedesk smtp set ... (or smtp file DIR).")
    print(send_test_email(cfg, ctx.args.to))
    return 0


def file_(ctx: Context) -> int:
    ws = ctx.workspace()
    mailconfig.configure_file_transport(ws, ctx.args.folder or "", ctx.args.from_ or "")
    cfg = mailconfig.load_config(ws)
    if not cfg.from_address:
        raise UserError("Give a sender too: --from 'Name <addr>'.")
    print(f"Messages will be written as .eml files into {cfg.file_dir}")
    return 0


def throttle(ctx: Context) -> int:
    a = ctx.args
    ws = ctx.workspace()
    mailconfig.set_throttle(ws, a.preset, a.per_minute, a.per_hour, a.per_day)
    t = mailconfig.load_config(ws).throttle
    print(f"Throttle {t.preset}: per minute {t.per_minute}, hour {t.per_hour}, day {t.per_day}")
    return 0


def show(ctx: Context) -> int:
    from nurturedesk.core.dispatch import sending_status

    ws = ctx.workspace()
    cfg = mailconfig.load_config(ws)
    status = sending_status(ws)
    info = {
        "transport": cfg.transport,
        "host": cfg.host,
        "port": cfg.port,
        "security": cfg.security,
        "user": cfg.user,
        "from": str(cfg.from_header) if cfg.from_address else "",
        "password_stored": credentials.has_password(cfg.user, cfg.host) if cfg.user else False,
        "file_dir": str(cfg.file_dir) if cfg.transport == "file" else "",
        "throttle": cfg.throttle.__dict__,
        "status": status.text(),
    }
    if ctx.args.json:
        ctx.print_json(info)
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def register(cli: CommandLine) -> None:
    cli.group("smtp", "set up how nurture mail is sent")
    p = cli.command("set", set_, "set the SMTP server and sender", group="smtp")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=587)
    p.add_argument("--security", choices=mailconfig.SECURITIES, default="starttls")
    p.add_argument("--user", default="")
    p.add_argument("--from", dest="from_", required=True, metavar='"NAME <ADDR>"')
    p.add_argument("--postal-address", help="shown in every email's footer")
    p.add_argument("--signature")
    p.add_argument(
        "--timezone", help="send windows for leads without a zone (default: this computer's)"
    )
    cli.command(
        "password", password, "read the SMTP password (stdin) into the keyring", group="smtp"
    )
    p = cli.command("test", test, "send a test email now", group="smtp")
    p.add_argument("--to", required=True)
    p = cli.command(
        "file", file_, "write .eml files into a folder instead of sending", group="smtp"
    )
    p.add_argument("folder", nargs="?", help="folder (default: beside the workspace)")
    p.add_argument("--from", dest="from_", metavar='"NAME <ADDR>"')
    p = cli.command("throttle", throttle, "limit how fast mail goes out", group="smtp")
    p.add_argument("preset", choices=[*mailconfig.THROTTLE_PRESETS, "custom"])
    p.add_argument("--per-minute", type=int)
    p.add_argument("--per-hour", type=int)
    p.add_argument("--per-day", type=int)
    p = cli.command("show", show, "show the sending settings and status", group="smtp")
    p.add_argument("--json", action="store_true")
