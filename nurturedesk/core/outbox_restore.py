"""After a backup is restored: never send twice what was sent after the backup was taken.

A backup holds the outbox as it was then. Messages sent since are `queued` again in the
restored file, and enrolment steps taken since would be queued anew. The workspace as it was
just before the restore is kept aside by `backups.restore_from`; from it we carry over, by
Message-ID and by enrolment, everything that had moved on:

- a row that had been sent (or failed, or was uncertain or in flight) takes that state back
  (`sending` becomes `uncertain`);
- a row that exists only in the newer file and had gone out is added, as it was, so the
  history (and the frequency cap) knows about it;
- an enrolment that had advanced further (same round) takes its progress back.

Rows that were only queued after the backup are not brought back: the restore chose the older
content, and nothing of them has left the computer.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from nurturedesk.core.db import Workspace
from nurturedesk.core.models import Enrollment, OutboxMessage
from nurturedesk.core.timestamps import from_micros

log = logging.getLogger(__name__)

MOVED_ON = ("sending", "sent", "failed", "uncertain", "cancelled")
OUTBOX_COLUMNS = [c.name for c in OutboxMessage.__table__.columns if c.name != "id"]


@dataclass(frozen=True)
class RestoreReconciliation:
    rows_updated: int = 0
    rows_added: int = 0
    enrolments_advanced: int = 0
    held: int = 0  # queued mail put on hold (uncertain): the previous file could not be read


def _dt(value: Any) -> datetime | None:
    """A time read straight from the file: microseconds, or text from before 0008."""
    if isinstance(value, int):
        return from_micros(value)
    return datetime.fromisoformat(value) if isinstance(value, str) and value else value


def reconcile_after_restore(workspace: Workspace, previous: Path) -> RestoreReconciliation:
    """Carry over from `previous` (the workspace as it was before the restore) what mail
    already did. Safe to run twice. A previous file without an outbox changes nothing."""
    try:
        read = _read_previous(previous)
    except sqlite3.Error as exc:  # too damaged to read (its schema page, say)
        log.warning("cannot read %s to reconcile the outbox: %s", previous, exc)
        return RestoreReconciliation(held=_hold_queued_mail(workspace))
    if read is None:
        return RestoreReconciliation()
    old_rows, old_enrolments = read
    updated = added = advanced = 0
    with workspace.session() as session:
        current = {
            r.message_id: r
            for r in session.execute(select(OutboxMessage.message_id, OutboxMessage.state))
        }
        for old in old_rows:
            state = "uncertain" if old["state"] == "sending" else old["state"]
            mine = current.get(old["message_id"])
            if mine is not None:
                if mine.state in ("queued", "retry"):
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.message_id == old["message_id"])
                        .values(
                            state=state,
                            sent_at=_dt(old["sent_at"]),
                            attempts=old["attempts"],
                            last_error=old["last_error"] or "",
                        )
                    )
                    updated += 1
                continue
            if state == "cancelled":
                continue
            values = {k: old[k] for k in OUTBOX_COLUMNS if k in old}
            values["state"] = state
            for key in ("next_attempt_at", "created_at", "sent_at"):
                values[key] = _dt(values.get(key))
            for key in ("lead_id", "enrollment_id"):  # may not exist in the older file
                values[key] = None if values.get(key) is None else values[key]
            values["enrollment_id"] = _existing(session, Enrollment, values["enrollment_id"])
            from nurturedesk.core.models import Lead

            values["lead_id"] = _existing(session, Lead, values["lead_id"])
            if values["enrollment_id"] is None:
                values["round"] = values["step_position"] = None
            else:
                twin = session.scalar(
                    select(OutboxMessage).where(
                        OutboxMessage.enrollment_id == values["enrollment_id"],
                        OutboxMessage.round == values["round"],
                        OutboxMessage.step_position == values["step_position"],
                    )
                )
                if twin is not None:  # the same step queued again since the restore
                    if twin.state in ("queued", "retry"):
                        twin.state = "cancelled"
                        twin.last_error = (
                            f"not sent: this step went out before the restore as "
                            f"{old['message_id']}"
                        )
                    values["enrollment_id"] = values["round"] = values["step_position"] = None
            session.execute(insert(OutboxMessage).values(**values))
            added += 1
        for old in old_enrolments:
            enr = session.get(Enrollment, old["id"])
            if (
                enr is None
                or enr.lead_id != old["lead_id"]
                or enr.sequence_id != old["sequence_id"]
            ):
                continue
            if (old["round"], old["next_step"]) > (enr.round, enr.next_step):
                enr.round, enr.next_step = old["round"], old["next_step"]
                enr.state, enr.next_send_at = old["state"], _dt(old["next_send_at"])
                enr.stopped_reason = old["stopped_reason"] or ""
                advanced += 1
    if updated or added or advanced:
        log.warning(
            "after the restore: %d outbox row(s) put back as they were, %d added, %d "
            "enrolment(s) advanced, so nothing sent since the backup goes out again",
            updated,
            added,
            advanced,
        )
    return RestoreReconciliation(updated, added, advanced)


def _read_previous(previous: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The outbox rows that had moved on, and the enrolments, of the file as it was before
    the restore (None: it has no outbox). Raises sqlite3.Error when it cannot be read."""
    src = sqlite3.connect(f"file:{previous}?mode=ro", uri=True)
    try:
        src.row_factory = sqlite3.Row
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "outbox" not in tables:
            return None
        marks = ",".join("?" * len(MOVED_ON))
        old_rows = [
            dict(r) for r in src.execute(f"SELECT * FROM outbox WHERE state IN ({marks})", MOVED_ON)
        ]
        return old_rows, [dict(r) for r in src.execute("SELECT * FROM enrollments")]
    finally:
        src.close()


def _hold_queued_mail(workspace: Workspace) -> int:
    """Nothing tells what went out after the backup: rather than send it blindly a second
    time, every message still waiting becomes `uncertain`, for the user to resend or mark
    sent from the outbox."""
    with workspace.session() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state.in_(("queued", "retry")))
            .values(
                state="uncertain",
                last_error=(
                    "held after a restore: the workspace as it was before could not be read, "
                    "so this may have gone out after the backup; resend it or mark it sent"
                ),
            )
        )
        held = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if held:
        log.warning("after the restore: %d queued message(s) held as uncertain", held)
    return held


def _existing(session: Any, model: Any, key: Any) -> Any:
    return key if key is not None and session.get(model, key) is not None else None
