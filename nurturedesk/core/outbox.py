"""The outbox: every email to send is a row, and a row is sent at most once.

States: queued -> sending -> sent | retry | failed | uncertain; cancelled by the user or
because the address was suppressed. The Message-ID is fixed when the row is queued, so it is
in the database before the SMTP DATA command. A row is claimed (queued/retry -> sending) in a
committed transaction of its own before it is handed to the transport, so a crash leaves it in
`sending`; `recover_interrupted` turns such rows into `uncertain` at start-up, and an uncertain
row is only re-sent when the user says so (`resend`), or marked sent (`mark_sent`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError
from nurturedesk.core.events import Event
from nurturedesk.core.mailconfig import MailConfig
from nurturedesk.core.mailer import (
    Outgoing,
    PermanentError,
    SetupError,
    TransientError,
    Transport,
    UncertainError,
    build_message,
)
from nurturedesk.core.models import Bounce, Lead, OutboxMessage, Suppression
from nurturedesk.core.sequences import stop_enrolments_for_lead
from nurturedesk.core.suppression import suppress_in
from nurturedesk.core.validation import clean_text, email_key

log = logging.getLogger(__name__)

STATES = ("queued", "sending", "sent", "retry", "failed", "uncertain", "cancelled")
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600


@dataclass(frozen=True)
class OutboxChanged(Event):
    """Outbox rows changed state (sent, failed, retried, cancelled, ...)."""

    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutboxItem:
    id: int
    lead_id: int | None
    kind: str
    to_address: str
    to_name: str
    subject: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    message_id: str


def _item(r: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        r.id,
        r.lead_id,
        r.kind,
        r.to_address,
        r.to_name,
        r.subject,
        r.state,
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.created_at,
        r.sent_at,
        r.message_id,
    )


def list_outbox(
    workspace: Workspace, state: str | None = None, limit: int = 1000, lead_id: int | None = None
) -> list[OutboxItem]:
    if state is not None and state not in STATES:
        raise UserError(f"Unknown state {state!r}; choose one of {', '.join(STATES)}.")
    with workspace.session() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if state is not None:
            query = query.where(OutboxMessage.state == state)
        if lead_id is not None:
            query = query.where(OutboxMessage.lead_id == lead_id)
        return [_item(r) for r in session.scalars(query)]


def get_message(workspace: Workspace, outbox_id: int) -> tuple[OutboxItem, str, str]:
    """A row with its plain-text and HTML bodies (for the outbox view's preview)."""
    with workspace.session() as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None:
            raise NotFoundError(f"No outbox message #{outbox_id}.")
        return _item(row), row.body_text, row.body_html


def counts_by_state(workspace: Workspace) -> dict[str, int]:
    with workspace.session() as session:
        rows = session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: int(n) for state, n in rows})
    return counts


# --- what the user can do with a row ------------------------------------------------------


def _change(
    workspace: Workspace, ids: Sequence[int], allowed: tuple[str, ...], **values: object
) -> int:
    with workspace.session() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.state.in_(allowed))
            .values(**values)
        )
        changed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    workspace.events.publish(OutboxChanged(tuple(ids)))
    return changed


def retry(workspace: Workspace, ids: Sequence[int]) -> int:
    """Queue failed or waiting rows again now (not uncertain ones: see `resend`)."""
    return _change(
        workspace,
        ids,
        ("failed", "retry", "cancelled"),
        state="queued",
        next_attempt_at=workspace.clock.now(),
    )


def cancel(workspace: Workspace, ids: Sequence[int]) -> int:
    return _change(
        workspace,
        ids,
        ("queued", "retry", "failed", "uncertain"),
        state="cancelled",
        last_error="cancelled by the user",
    )


def resend(workspace: Workspace, ids: Sequence[int]) -> int:
    """The user decided an uncertain message did not arrive: send it again (same Message-ID,
    so a mail client that did get it shows it once)."""
    return _change(
        workspace, ids, ("uncertain",), state="queued", next_attempt_at=workspace.clock.now()
    )


def mark_sent(workspace: Workspace, ids: Sequence[int]) -> int:
    """The user checked their Sent folder: an uncertain message did go out."""
    now = workspace.clock.now()
    return _change(workspace, ids, ("uncertain",), state="sent", sent_at=now, last_error="")


def recover_interrupted(workspace: Workspace) -> int:
    """At start-up: rows left in `sending` by a crash become `uncertain`, never re-sent blindly."""
    with workspace.session() as session:
        ids = list(
            session.scalars(select(OutboxMessage.id).where(OutboxMessage.state == "sending"))
        )
        if ids:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(
                    state="uncertain",
                    last_error="NurtureDesk stopped while sending this message; check your "
                    "Sent folder, then resend it or mark it as sent.",
                )
            )
    if ids:
        log.warning("%d message(s) interrupted while sending are now uncertain", len(ids))
        workspace.events.publish(OutboxChanged(tuple(ids)))
    return len(ids)


# --- throttle ---------------------------------------------------------------------------


def sent_since(workspace: Workspace, since: datetime) -> int:
    with workspace.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at >= since, OutboxMessage.state == "sent")
            )
            or 0
        )


def remaining_quota(workspace: Workspace, cfg: MailConfig) -> int | None:
    """How many more messages the throttle allows right now (None: no limit)."""
    if cfg.transport == "file":
        return None
    now = workspace.clock.now()
    remaining: int | None = None
    t = cfg.throttle
    for limit, window in (
        (t.per_minute, timedelta(minutes=1)),
        (t.per_hour, timedelta(hours=1)),
        (t.per_day, timedelta(days=1)),
    ):
        if limit is None:
            continue
        left = max(0, int(limit) - sent_since(workspace, now - window))
        remaining = left if remaining is None else min(remaining, left)
    return remaining


# --- delivery ---------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    bounced: list[int] = field(default_factory=list)  # failed rows whose recipient was refused
    throttled: bool = False
    error: str = ""


def due_outbox_ids(workspace: Workspace, limit: int | None) -> list[int]:
    now = workspace.clock.now()
    with workspace.session() as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state.in_(("queued", "retry")), OutboxMessage.next_attempt_at <= now
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))


def _backoff(attempts: int) -> timedelta:
    seconds = BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, BACKOFF_MAX_SECONDS))


def _claim(
    workspace: Workspace, outbox_id: int, sent: tuple[int, datetime] | None = None
) -> Outgoing | None:
    """queued/retry -> sending, committed, before anything is handed to the transport.

    One conditional UPDATE: exclusive even between processes, and it skips an address
    suppressed since the batch was chosen. `sent` (the previous message of the batch and when
    the server accepted it) is recorded in the same transaction: one commit per message."""
    suppressed = exists().where(Suppression.email_key == func.lower(OutboxMessage.to_address))
    with workspace.session() as session:
        if sent is not None:
            _mark_sent(session, *sent)
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == outbox_id,
                OutboxMessage.state.in_(("queued", "retry")),
                ~suppressed,
            )
            .values(state="sending", attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = session.execute(
            select(
                OutboxMessage.to_address,
                OutboxMessage.to_name,
                OutboxMessage.subject,
                OutboxMessage.body_text,
                OutboxMessage.body_html,
                OutboxMessage.message_id,
                OutboxMessage.list_unsubscribe,
            ).where(OutboxMessage.id == outbox_id)
        ).one()
        return Outgoing(
            to_address=row.to_address,
            to_name=row.to_name,
            subject=row.subject,
            text=row.body_text,
            html=row.body_html,
            message_id=row.message_id,
            unsubscribe=row.list_unsubscribe,
            date=workspace.clock.now(),
        )


def _mark_sent(session: Session, outbox_id: int, when: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(state="sent", sent_at=when, last_error="")
        .execution_options(synchronize_session=False)
    )


def _finish(workspace: Workspace, outbox_id: int, **values: object) -> None:
    with workspace.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _drop_unwanted(
    workspace: Workspace, cfg: MailConfig, ids: list[int], report: DeliveryReport
) -> list[int]:
    """Cancel rows that must not go out any more: the address is suppressed, the lead was
    deleted, or (nurture mail) the lead reached a stage that ends nurturing while the row
    waited (e.g. for the throttle). Returns the others."""
    stop_stages = {s.casefold() for s in cfg.stop_stages}
    keep = []
    with workspace.session() as session:
        for outbox_id in ids:
            row = session.get(OutboxMessage, outbox_id)
            if row is None:
                continue
            supp = session.get(Suppression, email_key(row.to_address))
            lead = session.get(Lead, row.lead_id) if row.lead_id is not None else None
            reason = ""
            if supp is not None:
                reason = f"address {supp.reason}"
            elif row.lead_id is not None and (lead is None or lead.deleted_at is not None):
                reason = "lead deleted"
            elif lead is not None and row.kind == "nurture":
                stage = lead.stage
                if stage.kind in ("won", "lost") or stage.name.casefold() in stop_stages:
                    reason = f"lead reached {stage.name}"
            if reason:
                row.state = "cancelled"
                row.last_error = f"not sent: {reason}"
                report.cancelled.append(outbox_id)
            else:
                keep.append(outbox_id)
    return keep


def deliver(
    workspace: Workspace,
    cfg: MailConfig,
    transport: Transport,
    *,
    limit: int | None = None,
) -> DeliveryReport:
    """Send due outbox rows over one transport connection, within the throttle."""
    report = DeliveryReport()
    quota = remaining_quota(workspace, cfg)
    if quota == 0:
        report.throttled = True
        return report
    bounds = [x for x in (quota, limit) if x is not None]
    take = min(bounds) if bounds else None
    if take == 0:
        return report
    ids = _drop_unwanted(workspace, cfg, due_outbox_ids(workspace, take), report)
    if quota is not None and len(ids) >= quota:
        report.throttled = True
    if not ids:
        return report
    try:
        transport.open()
    except (SetupError, UserError) as exc:  # incl. CredentialsError: keyring missing/locked
        report.error = str(exc)  # rows untouched: still queued, shown with the error
        log.warning("sending stopped: %s", exc)
        return report
    except TransientError as exc:
        report.error = str(exc)
        now = workspace.clock.now()
        with workspace.session() as session:
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
                row.state = "retry"
                row.next_attempt_at = now + _backoff(row.attempts + 1)
                row.last_error = clean_text(str(exc), 500)
                report.retry.append(row.id)
        workspace.events.publish(OutboxChanged(tuple(ids)))
        return report
    sent: tuple[int, datetime] | None = None  # accepted by the server, not yet recorded
    try:
        for outbox_id in ids:
            mail = _claim(workspace, outbox_id, sent)
            sent = None
            if mail is None:
                continue
            if not _send_one(workspace, cfg, transport, outbox_id, mail, report):
                break
            if report.sent and report.sent[-1] == outbox_id:
                sent = (outbox_id, workspace.clock.now())
    finally:
        try:
            if sent is not None:
                with workspace.session() as session:
                    _mark_sent(session, *sent)
        finally:
            transport.close()
            workspace.events.publish(OutboxChanged(tuple(ids)))
    return report


def file_name(outbox_id: int, message_id: str) -> str:
    """What a file transport names the message after (`mailer.eml_files` finds it again)."""
    return f"{outbox_id:06d}-{message_id}"


def _send_one(
    workspace: Workspace,
    cfg: MailConfig,
    transport: Transport,
    outbox_id: int,
    mail: Outgoing,
    report: DeliveryReport,
) -> bool:
    """Send one claimed row and record the outcome. False: stop the batch (connection gone)."""
    try:
        msg = build_message(cfg, mail)
        transport.send(
            msg, cfg.from_address, mail.to_address, file_name(outbox_id, mail.message_id)
        )
    except UncertainError as exc:
        _finish(workspace, outbox_id, state="uncertain", last_error=clean_text(str(exc), 500))
        report.uncertain.append(outbox_id)
        return False
    except PermanentError as exc:
        _record_permanent(workspace, outbox_id, exc)
        report.failed.append(outbox_id)
        if exc.recipient:
            report.bounced.append(outbox_id)
        return True
    except (TransientError, SetupError) as exc:
        attempts = _attempts(workspace, outbox_id)
        now = workspace.clock.now()
        if attempts >= MAX_ATTEMPTS:
            _finish(
                workspace,
                outbox_id,
                state="failed",
                last_error=clean_text(f"gave up after {attempts} attempts: {exc}", 500),
            )
            report.failed.append(outbox_id)
        else:
            _finish(
                workspace,
                outbox_id,
                state="retry",
                next_attempt_at=now + _backoff(attempts),
                last_error=clean_text(str(exc), 500),
            )
            report.retry.append(outbox_id)
        connected = getattr(transport, "connected", True)
        return bool(connected)
    except Exception:
        # A bug while the message was in our hands: it may have gone out; never resend blindly.
        log.exception("unexpected error while sending outbox #%d", outbox_id)
        _finish(
            workspace,
            outbox_id,
            state="uncertain",
            last_error="internal error while sending (see the log); check your Sent folder",
        )
        report.uncertain.append(outbox_id)
        return False
    report.sent.append(outbox_id)  # recorded by the caller with the next claim
    return True


def _attempts(workspace: Workspace, outbox_id: int) -> int:
    with workspace.session() as session:
        row = session.get(OutboxMessage, outbox_id)
        return row.attempts if row is not None else MAX_ATTEMPTS


def _record_permanent(workspace: Workspace, outbox_id: int, exc: PermanentError) -> None:
    """5xx: the row fails; a bounce is recorded on the lead; a refused address is suppressed."""
    now = workspace.clock.now()
    with workspace.session() as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None:
            return
        row.state = "failed"
        row.last_error = clean_text(str(exc), 500)
        lead = session.get(Lead, row.lead_id) if row.lead_id is not None else None
        session.add(
            Bounce(
                lead_id=lead.id if lead is not None else None,
                outbox_id=row.id,
                email=row.to_address,
                code=exc.code,
                message=clean_text(str(exc), 500),
                at=now,
            )
        )
        if exc.recipient:
            suppress_in(session, row.to_address, "bounced", str(exc), now)
            if lead is not None:
                stop_enrolments_for_lead(session, lead.id, "bounced")


def bounces_for_lead(workspace: Workspace, lead_id: int) -> list[tuple[datetime, int, str]]:
    with workspace.session() as session:
        rows = session.scalars(select(Bounce).where(Bounce.lead_id == lead_id).order_by(Bounce.at))
        return [(b.at, b.code, b.message) for b in rows]
