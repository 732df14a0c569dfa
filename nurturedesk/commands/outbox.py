"""`outbox list|retry|cancel|resend|mark-sent`, `send-due` and `run` (headless sending)."""

from __future__ import annotations

import signal
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING

from nurturedesk.core import outbox
from nurturedesk.core.dispatch import ensure_recovered, send_due, sending_status

if TYPE_CHECKING:
    from nurturedesk.cli import CommandLine, Context
    from nurturedesk.core.db import Workspace


def list_(ctx: Context) -> int:
    ws = ctx.workspace()
    ensure_recovered(ws)
    items = outbox.list_outbox(ws, ctx.args.state, limit=ctx.args.limit)
    if ctx.args.json:
        ctx.print_json([asdict(i) for i in items])
        return 0
    for i in items:
        when = i.sent_at or i.next_attempt_at
        error = f"\t{i.last_error}" if i.last_error else ""
        print(f"#{i.id}\t{i.state}\t{when:%Y-%m-%d %H:%M}\t{i.to_address}\t{i.subject}{error}")
    return 0


def _action(name: str):  # type: ignore[no-untyped-def]
    def handler(ctx: Context) -> int:
        ws = ctx.workspace()
        ensure_recovered(ws)
        changed = getattr(outbox, name.replace("-", "_"))(ws, ctx.args.ids)
        print(f"{name}: {changed} of {len(ctx.args.ids)} message(s) changed")
        return 0 if changed else 1

    return handler


def send_due_(ctx: Context) -> int:
    ws = ctx.workspace()
    report = send_due(ws, limit=ctx.args.limit, dry_run=ctx.args.dry_run)
    if ctx.args.dry_run:
        for line in report.dry_run:
            print(f"would send: {line}")
        print(
            f"dry run: {len(report.dry_run)} message(s) would be sent "
            f"({report.queue.queued} newly queued from sequences)"
            + (f". {report.error}" if report.error else "")
        )
        return 0
    print(report.summary())
    return 1 if (report.error or report.delivery.error) and not report.delivery.sent else 0


def run(ctx: Context) -> int:
    """The scheduler in the foreground until SIGINT/SIGTERM, then a clean stop; this process
    is the workspace's one sender meanwhile (a second `run` or `send-due` is refused)."""
    from nurturedesk.core import sender_lock

    ws = ctx.workspace()
    sender_lock.set_process_kind("run")
    lock = sender_lock.acquire_sender_lock(ws, "run")  # SenderBusyError: says who sends
    try:
        return _run_holding_lock(ctx, ws)
    finally:
        lock.release()


def _run_holding_lock(ctx: Context, ws: Workspace) -> int:
    from nurturedesk.core.scheduler import Scheduler

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(
        f"NurtureDesk running on {ctx.workspace_path} ({sending_status(ws).text()}); "
        "Ctrl+C to stop.",
        flush=True,
    )
    recovered = ensure_recovered(ws)  # before the first pass: we hold the sender lock
    if recovered:
        print(f"{recovered} interrupted message(s) marked uncertain: see `outbox list`", flush=True)
    scheduler = Scheduler(ws)
    scheduler.start()
    try:
        scheduler.run_now("nurture-dispatch")
        scheduler.run_now("daily-backup")  # the tick itself first fires 10 minutes in
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.shutdown(wait=True)  # lets a pass in progress finish its row
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Stopped.", flush=True)
    return 0


def register(cli: CommandLine) -> None:
    cli.group("outbox", "emails queued, sent, failed or to check")
    p = cli.command("list", list_, "list outbox messages (newest first)", group="outbox")
    p.add_argument("--state", choices=outbox.STATES)
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")
    for name, help_ in (
        ("retry", "queue failed messages again"),
        ("cancel", "never send these messages"),
        ("resend", "send uncertain messages again (you checked they did not arrive)"),
        ("mark-sent", "mark uncertain messages as sent (you found them in Sent)"),
    ):
        p = cli.command(name, _action(name), help_, group="outbox")
        p.add_argument("ids", nargs="+", type=int)
    p = cli.command("send-due", send_due_, "one dispatch pass: queue and send what is due")
    p.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
    p.add_argument("--limit", type=int, help="send at most this many")
    cli.command("run", run, "headless: send on schedule until Ctrl+C / SIGTERM")
