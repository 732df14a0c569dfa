"""One dispatch pass: apply enrolment rules, queue due steps and newsletters, send what is due.

Called by the scheduler's tick (every 30 s), by `nurturedesk send-due`, and by the GUI's
"send now". Passes on one workspace never overlap inside a process (a lock per workspace), and
rows are claimed with a conditional UPDATE so two processes cannot send the same row either.
The first pass in a process first turns rows left in `sending` by a crash into `uncertain`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select

from nurturedesk.core import sender_lock
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, StorageError, UserError, ValidationError
from nurturedesk.core.mailconfig import MailConfig, load_config
from nurturedesk.core.mailer import SetupError, Transport, make_transport
from nurturedesk.core.models import (
    EmailTemplate,
    Enrollment,
    Lead,
    Newsletter,
    OutboxMessage,
    Stage,
    Suppression,
    Tag,
    lead_tags,
)
from nurturedesk.core.outbox import (
    DeliveryReport,
    OutboxChanged,
    deliver,
    recover_interrupted,
    remaining_quota,
    sent_since,
)
from nurturedesk.core.segments import SegmentInfo, get_segment, info_clause
from nurturedesk.core.sequences import (
    QueueReport,
    apply_enrolment_rules,
    new_outbox_row,
    queue_due_steps,
)
from nurturedesk.core.templates import asset_links
from nurturedesk.core.validation import clean_text

log = logging.getLogger(__name__)

_locks: dict[str, threading.Lock] = {}
_recovered: set[int] = set()
_registry_lock = threading.Lock()


def _lock_for(workspace: Workspace) -> threading.Lock:
    with _registry_lock:
        return _locks.setdefault(workspace.url, threading.Lock())


def ensure_recovered(workspace: Workspace, kind: str = "send-due") -> int:
    """Once per opened workspace (its start-up): interrupted sends become uncertain.

    Only while this process is the workspace's one sender (issue 6's sender lock): then a row
    left in `sending` cannot belong to a live process. If another process sends right now,
    nothing is touched (that sender recovers at its own start)."""
    key = id(workspace)
    with _registry_lock:
        if key in _recovered:
            return 0
    if sender_lock.held_lock(workspace) is not None:
        count = recover_interrupted(workspace)
    else:
        try:
            with sender_lock.hold_sender_lock(workspace, kind):
                count = recover_interrupted(workspace)
        except (sender_lock.SenderBusyError, StorageError):
            return 0
    with _registry_lock:
        _recovered.add(key)
    weakref.finalize(workspace, _recovered.discard, key)  # ids are reused after collection
    return count


@dataclass
class DispatchReport:
    enrolled: int = 0
    queue: QueueReport = field(default_factory=QueueReport)
    newsletter_rows: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    recovered: int = 0
    error: str = ""
    dry_run: list[str] = field(default_factory=list)

    def summary(self) -> str:
        d = self.delivery
        parts = [
            f"queued {self.queue.queued + self.newsletter_rows}",
            f"sent {len(d.sent)}",
            f"retry {len(d.retry)}",
            f"failed {len(d.failed)}",
            f"uncertain {len(d.uncertain)}",
        ]
        if d.cancelled:
            parts.append(f"cancelled {len(d.cancelled)} (suppressed or no longer wanted)")
        if self.queue.stopped:
            parts.append(f"enrolments stopped {self.queue.stopped}")
        if self.enrolled:
            parts.append(f"newly enrolled {self.enrolled}")
        if self.recovered:
            parts.append(f"interrupted -> uncertain {self.recovered}")
        if d.throttled:
            parts.append("throttle reached")
        text = ", ".join(parts)
        error = self.error or d.error
        return f"{text}. {error}" if error else text


def send_due(
    workspace: Workspace,
    *,
    transport: Transport | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    kind: str = "send-due",
) -> DispatchReport:
    """One pass. With `dry_run`, nothing is written or sent: the report lists what would be."""
    if dry_run:
        return _dry_run(workspace)
    report = DispatchReport()
    # One sender per workspace across processes (SenderBusyError names the other one), one
    # pass at a time inside this process.
    with sender_lock.hold_sender_lock(workspace, kind), _lock_for(workspace):
        report.recovered = ensure_recovered(workspace)
        report.enrolled = apply_enrolment_rules(workspace)
        cfg = load_config(workspace)
        if not cfg.ready:
            report.error = (
                "Sending is not set up: nothing is queued until SMTP (or a folder) is configured."
            )
            return report
        report.queue = queue_due_steps(workspace, cfg)
        report.newsletter_rows = run_newsletters(workspace, cfg)
        if report.queue.queued or report.newsletter_rows:
            workspace.events.publish(OutboxChanged())
        try:
            chosen = transport or make_transport(cfg)
        except SetupError as exc:
            report.error = str(exc)
            return report
        report.delivery = deliver(workspace, cfg, chosen, limit=limit)
    d = report.delivery
    if d.sent or d.failed:
        from nurturedesk.core.nurture_links import record_outcomes

        bounced = set(d.bounced)
        record_outcomes(workspace, d.sent, d.bounced, [i for i in d.failed if i not in bounced])
    if report.delivery.sent or report.delivery.failed or report.delivery.uncertain:
        log.info("dispatch: %s", report.summary())
    return report


def _dry_run(workspace: Workspace) -> DispatchReport:
    """What a pass would do, computed in a transaction that is rolled back."""
    report = DispatchReport()
    cfg = load_config(workspace)
    with workspace.sessions() as session:
        try:
            if cfg.ready:
                report.queue = queue_due_steps(workspace, cfg, session=session)
            session.flush()
            now = workspace.clock.now()
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.state.in_(("queued", "retry")),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            ).all()
            quota = remaining_quota(workspace, cfg)
            for i, row in enumerate(rows):
                suppressed = session.get(Suppression, row.to_address.lower()) is not None
                note = (
                    " (suppressed: would be cancelled)"
                    if suppressed
                    else " (over the throttle: later)"
                    if quota is not None and i >= quota
                    else ""
                )
                report.dry_run.append(f"{row.to_address}\t{row.subject}{note}")
        finally:
            session.rollback()
    if not cfg.ready:
        report.error = "Sending is not set up: nothing would be queued."
    return report


def dispatch_tick(workspace: Workspace) -> None:
    """The scheduler's periodic entry point: sends only if this process is (or can become)
    the workspace's sender and sending is not paused; otherwise the next tick asks again."""
    if not sender_lock.sending_allowed(workspace):
        return
    send_due(workspace)


# --- newsletters --------------------------------------------------------------------------


RECURRENCES = {"once": None, "monthly": 1, "quarterly": 3}


def _add_months(when: datetime, months: int) -> datetime:
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    day = min(when.day, 28)
    return when.replace(year=year, month=month, day=day)


def schedule_newsletter(
    workspace: Workspace,
    name: str,
    template_id: int,
    *,
    stage_id: int | None = None,
    tag: str = "",
    segment: str = "",
    recurrence: str = "once",
    first_run: datetime | None = None,
) -> int:
    """A newsletter to the leads in `stage_id`, with `tag` and in `segment` (those given).
    The segment's members are evaluated when the newsletter runs, not now."""
    if recurrence not in RECURRENCES:
        raise ValidationError("recurrence", "Recurrence must be once, monthly or quarterly.")
    if stage_id is None and not clean_text(tag) and not clean_text(segment):
        raise ValidationError(
            "audience", "Choose a stage, a tag or a segment to send the newsletter to."
        )
    if not clean_text(name):
        raise ValidationError("name", "A newsletter needs a name.")
    segment_name = get_segment(workspace, segment).name if clean_text(segment) else ""
    with workspace.session() as session:
        if session.get(EmailTemplate, template_id) is None:
            raise NotFoundError(f"No template #{template_id}.")
        if session.scalar(select(Newsletter.id).where(Newsletter.name == clean_text(name, 120))):
            raise ValidationError("name", f"There is already a newsletter named {name!r}.")
        row = Newsletter(
            name=clean_text(name, 120),
            template_id=template_id,
            stage_id=stage_id,
            tag=clean_text(tag, 80),
            segment=segment_name,
            recurrence=recurrence,
            next_run_at=first_run or workspace.clock.now(),
            runs=0,
        )
        session.add(row)
        session.flush()
        return row.id


@dataclass(frozen=True)
class NewsletterInfo:
    id: int
    name: str
    template: str
    audience: str
    recurrence: str
    next_run_at: datetime | None
    runs: int


def list_newsletters(workspace: Workspace) -> list[NewsletterInfo]:
    with workspace.session() as session:
        result = []
        for n in session.scalars(select(Newsletter).order_by(Newsletter.name)):
            template = session.get(EmailTemplate, n.template_id)
            stage = session.get(Stage, n.stage_id) if n.stage_id is not None else None
            held = n.segment and _find_segment(workspace, n.segment) is None
            audience = " + ".join(
                x
                for x in (
                    f"stage {stage.name}" if stage else "",
                    f"tag {n.tag}" if n.tag else "",
                    f"segment {n.segment}" if n.segment else "",
                    "(segment deleted: held)" if held else "",
                )
                if x
            )
            result.append(
                NewsletterInfo(
                    n.id,
                    n.name,
                    template.name if template else "?",
                    audience,
                    n.recurrence,
                    n.next_run_at,
                    n.runs,
                )
            )
        return result


def run_newsletters(workspace: Workspace, cfg: MailConfig) -> int:
    """Queue one row per recipient for each newsletter due; its next run moves on in the same
    transaction, so a run is queued once."""
    now = workspace.clock.now()
    queued = 0
    with workspace.session() as session:
        due = session.scalars(
            select(Newsletter).where(
                Newsletter.next_run_at.is_not(None), Newsletter.next_run_at <= now
            )
        ).all()
        if not due:
            return 0
        assets = asset_links(workspace)
        for letter in due:
            template = session.get(EmailTemplate, letter.template_id)
            audience = None
            if letter.segment:
                # Never guess a wider audience: if the segment is gone (or its rules no longer
                # read), the run waits until it is back (a deleted segment's undo saves it
                # under the same name) and the newsletter list says it is held.
                info = _find_segment(workspace, letter.segment)
                try:
                    if info is None:
                        raise NotFoundError(f"segment {letter.segment!r} no longer exists")
                    audience = info_clause(info, now)  # its members as of this run
                except UserError as exc:
                    _warn_once(workspace, letter.id, f"newsletter {letter.name!r} held: {exc}")
                    continue
            query = select(Lead).where(
                Lead.deleted_at.is_(None),
                ~exists().where(Suppression.email_key == Lead.email_key),
            )
            if letter.stage_id is not None:
                query = query.where(Lead.stage_id == letter.stage_id)
            if letter.tag:
                query = query.where(
                    exists().where(
                        lead_tags.c.lead_id == Lead.id,
                        lead_tags.c.tag_id == Tag.id,
                        func.lower(Tag.name) == letter.tag.casefold(),
                    )
                )
            if audience is not None:
                query = query.where(audience)
            if template is not None:
                for lead in session.scalars(query):
                    new_outbox_row(session, cfg, lead, template, assets, now, kind="newsletter")
                    queued += 1
            letter.runs += 1
            months = RECURRENCES.get(letter.recurrence)
            letter.next_run_at = _add_months(letter.next_run_at or now, months) if months else None
    return queued


def _find_segment(workspace: Workspace, name: str) -> SegmentInfo | None:
    """The segment named `name` (any case), or None if it was deleted since."""
    try:
        return get_segment(workspace, name)
    except NotFoundError:
        return None


_warned: set[tuple[str, int]] = set()


def _warn_once(workspace: Workspace, newsletter_id: int, text: str) -> None:
    """A held newsletter is looked at every tick: say so once per process, not every 30 s."""
    key = (workspace.url, newsletter_id)
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", text)


# --- what the status bar shows ------------------------------------------------------------


@dataclass(frozen=True)
class SendingStatus:
    ready: bool
    transport: str
    sent_last_24h: int
    per_day: int | None
    remaining: int | None
    queued: int
    uncertain: int
    failed: int
    next_send_at: datetime | None

    def text(self) -> str:
        if not self.ready:
            return "Sending not set up"
        quota = f"/{self.per_day}" if self.per_day else ""
        left = f" ({self.remaining} left now)" if self.remaining is not None else ""
        parts = [f"Sent {self.sent_last_24h}{quota} in 24 h{left}"]
        if self.queued:
            parts.append(f"{self.queued} queued")
        if self.next_send_at:
            parts.append(f"next {self.next_send_at:%a %H:%M} UTC")
        if self.uncertain:
            parts.append(f"{self.uncertain} to check")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return " · ".join(parts)


def sending_status(workspace: Workspace) -> SendingStatus:
    cfg = load_config(workspace)
    now = workspace.clock.now()
    with workspace.session() as session:

        def count(state: str) -> int:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state == state)
                )
                or 0
            )

        queued = count("queued") + count("retry")
        next_row = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.state.in_(("queued", "retry"))
            )
        )
        next_enrol = session.scalar(
            select(func.min(Enrollment.next_send_at)).where(Enrollment.state == "active")
        )
        uncertain, failed = count("uncertain"), count("failed")
    candidates = [t for t in (next_row, next_enrol) if t is not None]
    return SendingStatus(
        ready=cfg.ready,
        transport=cfg.transport,
        sent_last_24h=sent_since(workspace, now - timedelta(days=1)),
        per_day=cfg.throttle.per_day if cfg.transport == "smtp" else None,
        remaining=remaining_quota(workspace, cfg),
        queued=queued,
        uncertain=uncertain,
        failed=failed,
        next_send_at=min(candidates) if candidates else None,
    )
