"""Nurture sending: SMTP throughput over one connection, and finding due enrolments.

`python -m benchmarks.run nurture`
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from benchmarks.common import Result, median, timed_ms
from nurturedesk.core.db import open_workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.mailconfig import (
    configure_file_transport,
    configure_smtp,
    load_config,
    set_throttle,
)
from nurturedesk.core.mailer import SmtpTransport
from nurturedesk.core.models import Enrollment, Lead, OutboxMessage, Stage
from nurturedesk.core.outbox import deliver
from nurturedesk.core.sequences import due_enrollment_ids, find_sequence, queue_due_steps


def _leads(ws: Any, count: int, stage_id: int, now: Any = None) -> list[int]:
    now = now or ws.clock.now()
    rows = [
        dict(
            id=i + 1,
            email=f"lead{i}@example.org",
            email_key=f"lead{i}@example.org",
            first_name=f"Lead{i}",
            last_name="",
            company="Acme",
            title="",
            phone="",
            source="",
            owner="",
            timezone="",
            custom_fields={},
            search_text="",
            stage_id=stage_id,
            position=float(i),
            stage_entered_at=now,
            score=0,
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]
    with ws.session() as s:
        s.execute(insert(Lead), rows)
    return [r["id"] for r in rows]


SERVER = """
import sys, tempfile
from pathlib import Path
from tests.integration.smtp_server import SmtpServer
server = SmtpServer(Path(tempfile.mkdtemp())).start()
print(server.port, server.ca_file, flush=True)
sys.stdin.readline()
print(len(server.messages), flush=True)
server.stop()
"""


def bench_smtp_throughput(tmp: Path, count: int = 1000) -> Result:
    """aiosmtpd runs in its own process (as a real local server would), so the figure is the
    client's: claim + build + SMTP + record, per message, over one connection."""
    import subprocess
    import sys

    from tests.integration.smtp_server import PASSWORD, USER

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert server.stdout is not None and server.stdin is not None
    port_text, ca_file = server.stdout.readline().split()
    os.environ["SSL_CERT_FILE"] = ca_file
    ws = open_workspace(tmp / "smtp.sqlite")
    try:
        configure_smtp(
            ws,
            host="localhost",
            port=int(port_text),
            security="starttls",
            user=USER,
            from_="Bench <bench@example.com>",
        )
        set_throttle(ws, "unlimited")
        cfg = load_config(ws)
        ids = _leads(ws, count, stage_id=1)
        now = ws.clock.now()
        body = "Hello,\n\nA reasonably sized nurture email body.\n" * 20
        with ws.session() as s:
            s.execute(
                insert(OutboxMessage),
                [
                    dict(
                        lead_id=lead_id,
                        kind="nurture",
                        to_address=f"lead{lead_id - 1}@example.org",
                        to_name=f"Lead {lead_id}",
                        subject="Your weekly briefing",
                        body_text=body,
                        body_html=f"<p>{body}</p>",
                        message_id=make_msgid(domain="example.com"),
                        state="queued",
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                        created_at=now,
                    )
                    for lead_id in ids
                ],
            )
        start = time.perf_counter()
        report = deliver(ws, cfg, SmtpTransport(cfg, PASSWORD))
        elapsed = time.perf_counter() - start
        assert len(report.sent) == count, report
        rate = count / elapsed
        server.stdin.write("count\n")
        server.stdin.flush()
        received = int(server.stdout.readline())
        assert received == count, received
    finally:
        ws.close()
        server.stdin.close()
        server.wait(30)
    return Result(
        "nurture",
        f"{count} messages to local aiosmtpd, one STARTTLS+AUTH connection",
        rate,
        "msg/s",
        ">= 100 msg/s",
        rate >= 100,
    )


def bench_due_selection(tmp: Path, total: int = 100_000, due: int = 1000) -> list[Result]:
    from datetime import datetime

    from nurturedesk.core.clock import FakeClock
    from nurturedesk.core.settings import set_setting

    ws = open_workspace(tmp / "due.sqlite", clock=FakeClock(datetime(2026, 3, 2, 10, 0)))
    try:
        now = ws.clock.now()
        ids = _leads(ws, total, stage_id=1, now=now)
        seq = find_sequence(ws, "Default nurture track").id
        rows: list[dict[str, Any]] = [
            dict(
                lead_id=lead_id,
                sequence_id=seq,
                state="active" if i % 10 else "completed",
                next_step=1,
                next_send_at=(now - timedelta(minutes=i % 600))
                if i < due * 10 and i % 10
                else now + timedelta(days=1 + i % 30),
                round=0,
                enrolled_at=now,
                how="bench",
                stopped_reason="",
            )
            for i, lead_id in enumerate(ids)
        ]
        # i < 10,000 with i % 10 != 0: 9,000 candidates... keep exactly `due` due ones.
        due_left = due
        for row in rows:
            if row["next_send_at"] <= now:
                if due_left:
                    due_left -= 1
                else:
                    row["next_send_at"] = now + timedelta(days=2)
        with ws.session() as s:
            s.execute(insert(Enrollment), rows)
        with ws.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        found = due_enrollment_ids(ws, now, limit=due)
        assert len(found) == due, len(found)
        ms = median(timed_ms(lambda: due_enrollment_ids(ws, now, limit=due), repeat=7))
        # Catch-up after a sleep: render and queue the 1,000 due steps in one pass.
        configure_file_transport(ws, tmp / "eml", "Bench <bench@example.com>")
        set_setting(ws, "mail_timezone", "UTC")
        cfg = load_config(ws)
        start = time.perf_counter()
        queued = queue_due_steps(ws, cfg, limit=due).queued
        queue_ms = (time.perf_counter() - start) * 1000
        assert queued == due, queued
        # The tick's fixed cost: enrolment rules over 100k leads in Nurturing, nothing due.
        with ws.session() as s:
            s.execute(update(Enrollment).values(next_send_at=now + timedelta(days=3)))
            nurturing = s.scalar(select(Stage.id).where(Stage.name == "Nurturing"))
            s.execute(update(Lead).values(stage_id=nurturing))
        send_due(ws, limit=0)
        idle_ms = median(timed_ms(lambda: send_due(ws, limit=0), repeat=5))
    finally:
        ws.close()
    return [
        Result(
            "nurture",
            f"select the {due} due among {total:,} enrolments",
            ms,
            "ms",
            "<= 100 ms",
            ms <= 100,
        ),
        Result(
            "nurture",
            f"catch-up: render and queue {due} due steps in one pass",
            queue_ms,
            "ms",
            "<= 10000 ms",
            queue_ms <= 10000,
        ),
        Result(
            "nurture",
            f"idle dispatch tick, {total:,} leads in Nurturing (rules + due check)",
            idle_ms,
            "ms",
            "<= 1000 ms",
            idle_ms <= 1000,
        ),
    ]


def bench_stage_enrolment(tmp: Path, total: int = 100_000) -> Result:
    """A big import straight into Nurturing: the first dispatch tick enrols every lead.

    The import names no ids above 1,000 leads (issue 5), so the whole cost lands on the
    scheduler's tick, inside one write transaction: the GUI's own writes wait for it."""
    from datetime import datetime

    from nurturedesk.core.clock import FakeClock
    from nurturedesk.core.importer import ImportOptions, import_file
    from nurturedesk.core.sequences import apply_enrolment_rules

    source = tmp / "fair.csv"
    with source.open("w", encoding="utf-8") as out:
        out.write("Email,First name,Company,Time zone\n")
        zones = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "")
        for i in range(total):
            out.write(f"visitor{i}@domain{i % 1000}.example,Visitor{i},Acme,{zones[i % 4]}\n")
    ws = open_workspace(tmp / "enrol.sqlite", clock=FakeClock(datetime(2026, 3, 2, 10, 0)))
    try:
        imported = import_file(ws, source, ImportOptions(stage="Nurturing")).imported
        assert imported == total, imported
        start = time.perf_counter()
        started = apply_enrolment_rules(ws)
        seconds = time.perf_counter() - start
        assert started == total, started
        assert apply_enrolment_rules(ws) == 0  # idempotent: the next tick enrols nobody again
    finally:
        ws.close()
    # Target: the tick holds the write lock for its whole transaction, so a card dragged
    # meanwhile waits for it and gives up after busy_timeout (10 s; the per-lead code took 52 s,
    # 85 s under more load, so such a write would fail). Enrolling the leads should
    # not cost more than importing them did (1.6-3 s for 100k, issue 5): <= 3 s.
    ms = seconds * 1000
    return Result(
        "nurture",
        f"enrol {total:,} imported leads by stage rule (one tick)",
        ms,
        "ms",
        "<= 3000 ms",
        ms <= 3000,
    )


def bench_segment_enrolment(tmp: Path, total: int = 100_000) -> list[Result]:
    """`sequence enroll --segment` / Lead > Enrol in Sequence on a whole segment, and its undo.
    The GUI runs both as undo-stack commands on the GUI thread, so they must stay short."""
    from datetime import datetime

    from nurturedesk.core.bulk import enrol_leads, undo_enrolment_change
    from nurturedesk.core.clock import FakeClock
    from nurturedesk.core.segments import parse_condition, save_segment, segment_lead_ids

    ws = open_workspace(tmp / "segment.sqlite", clock=FakeClock(datetime(2026, 3, 2, 10, 0)))
    try:
        _leads(ws, total, stage_id=1)
        save_segment(ws, "Acme", [parse_condition("company ~ acme")])
        start = time.perf_counter()
        change = enrol_leads(ws, segment_lead_ids(ws, "Acme"), "Recycle track")
        enrol_ms = (time.perf_counter() - start) * 1000
        assert len(change.before) == total, len(change.before)
        start = time.perf_counter()
        undo_enrolment_change(ws, change)
        undo_ms = (time.perf_counter() - start) * 1000
        with ws.session() as s:
            assert s.scalar(select(func.count()).select_from(Enrollment)) == 0
    finally:
        ws.close()
    # Target: no more than importing those leads costs (1.6-3 s for 100k, issue 5).
    return [
        Result(
            "nurture",
            f"enrol a {total:,}-lead segment in a sequence (bulk enrol)",
            enrol_ms,
            "ms",
            "<= 3000 ms",
            enrol_ms <= 3000,
        ),
        Result(
            "nurture",
            f"undo that {total:,}-lead enrolment",
            undo_ms,
            "ms",
            "<= 3000 ms",
            undo_ms <= 3000,
        ),
    ]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        return [
            bench_smtp_throughput(Path(tmp)),
            *bench_due_selection(Path(tmp)),
            bench_stage_enrolment(Path(tmp)),
            *bench_segment_enrolment(Path(tmp)),
        ]
