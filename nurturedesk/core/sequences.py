"""Sequences (nurture tracks), their steps, and enrolments.

What is due lives in one place: `Enrollment.next_send_at`. `queue_due_steps` turns due
enrolments into outbox rows, one per (enrolment, round, step), guarded by a unique constraint,
after checking the stop conditions, the send window in the lead's time zone and the per-lead
frequency cap. It never sends: the outbox does.

Enrolment on entering a stage is a rule (`StageSequence`), reconciled by `apply_enrolment_rules`:
a lead in a stage with a rule is enrolled if it has not been since it entered the stage, and an
enrolment made by a stage ends when the lead leaves that stage. The rule is applied right after
leads change (an event subscriber, `watch_leads`) and again on every dispatch tick, so leads that
arrive by any path (board, CLI, import, undo, demo) are handled the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, lazyload

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError, ValidationError
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.leads import display_name
from nurturedesk.core.mailconfig import MailConfig
from nurturedesk.core.models import (
    EmailTemplate,
    Enrollment,
    Lead,
    NurtureSequence,
    OutboxMessage,
    SequenceStep,
    Stage,
    StageKind,
    StageSequence,
    Suppression,
    Tag,
    UnsubscribeToken,
    lead_tags,
)
from nurturedesk.core.templates import AssetLink, asset_links, render_email
from nurturedesk.core.timestamps import Timestamp
from nurturedesk.core.validation import clean_text

log = logging.getLogger(__name__)

ACTIVE, PAUSED, COMPLETED, STOPPED = "active", "paused", "completed", "stopped"


# --- sequences --------------------------------------------------------------------------


@dataclass(frozen=True)
class StepInfo:
    position: int
    template_id: int
    template_name: str
    delay_days: float


@dataclass(frozen=True)
class SequenceInfo:
    id: int
    name: str
    steps: tuple[StepInfo, ...]
    window_days: tuple[int, ...]
    window_start_hour: int
    window_end_hour: int
    enroll_tag: str
    stages: tuple[str, ...]  # stages whose entry enrols in this sequence
    active_enrolments: int = 0
    stage_ids: tuple[int, ...] = ()


def _parse_days(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(d) for d in text.split(",") if d.strip().isdigit() and int(d) < 7}))


def _sequence_info(session: Session, seq: NurtureSequence) -> SequenceInfo:
    steps = session.execute(
        select(SequenceStep, EmailTemplate.name)
        .join(EmailTemplate, EmailTemplate.id == SequenceStep.template_id)
        .where(SequenceStep.sequence_id == seq.id)
        .order_by(SequenceStep.position)
    ).all()
    stage_rows = session.execute(
        select(Stage.id, Stage.name)
        .join(StageSequence, StageSequence.stage_id == Stage.id)
        .where(StageSequence.sequence_id == seq.id)
        .order_by(Stage.position)
    ).all()
    active = session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.sequence_id == seq.id, Enrollment.state == ACTIVE)
    )
    return SequenceInfo(
        id=seq.id,
        name=seq.name,
        steps=tuple(
            StepInfo(i, s.template_id, name, s.delay_days) for i, (s, name) in enumerate(steps)
        ),
        window_days=_parse_days(seq.window_days),
        window_start_hour=seq.window_start_hour,
        window_end_hour=seq.window_end_hour,
        enroll_tag=seq.enroll_tag,
        stages=tuple(r.name for r in stage_rows),
        active_enrolments=int(active or 0),
        stage_ids=tuple(r.id for r in stage_rows),
    )


def save_sequence(
    workspace: Workspace,
    name: str,
    steps: Sequence[tuple[int, float]],
    *,
    window_days: Sequence[int] = (0, 1, 2, 3, 4),
    window_hours: tuple[int, int] = (9, 17),
    enroll_tag: str = "",
    sequence_id: int | None = None,
) -> SequenceInfo:
    """Add or replace a sequence. `steps` are (template id, delay in days after the previous)."""
    clean = clean_text(name, 120)
    if not clean:
        raise ValidationError("name", "A sequence needs a name.")
    if not steps:
        raise ValidationError("steps", "A sequence needs at least one step.")
    start, end = window_hours
    if not (0 <= start < end <= 24):
        raise ValidationError("window", "The send window must be hours 0-24 with start < end.")
    days = sorted({int(d) for d in window_days})
    if not days or any(not 0 <= d <= 6 for d in days):
        raise ValidationError("window", "Choose at least one day of the week (0=Monday..6).")
    for _, delay in steps:
        if delay < 0:
            raise ValidationError("steps", "A delay cannot be negative.")
    with workspace.session() as session:
        clash = session.scalar(select(NurtureSequence).where(NurtureSequence.name == clean))
        if clash is not None and clash.id != sequence_id:
            raise ValidationError("name", f"There is already a sequence named {clean!r}.")
        for template_id, _ in steps:
            if session.get(EmailTemplate, template_id) is None:
                raise NotFoundError(f"No template #{template_id}.")
        if sequence_id is None:
            seq = NurtureSequence(created_at=workspace.clock.now())
            session.add(seq)
        else:
            found = session.get(NurtureSequence, sequence_id)
            if found is None:
                raise NotFoundError(f"No sequence #{sequence_id}.")
            seq = found
            for old in session.scalars(
                select(SequenceStep).where(SequenceStep.sequence_id == seq.id)
            ):
                session.delete(old)
        seq.name = clean
        seq.window_days = ",".join(str(d) for d in days)
        seq.window_start_hour, seq.window_end_hour = start, end
        seq.enroll_tag = clean_text(enroll_tag, 80)
        session.flush()
        for position, (template_id, delay) in enumerate(steps):
            session.add(
                SequenceStep(
                    sequence_id=seq.id,
                    position=position,
                    template_id=template_id,
                    delay_days=float(delay),
                )
            )
        session.flush()
        return _sequence_info(session, seq)


def list_sequences(workspace: Workspace) -> list[SequenceInfo]:
    with workspace.session() as session:
        rows = session.scalars(select(NurtureSequence).order_by(NurtureSequence.name))
        return [_sequence_info(session, s) for s in rows]


def find_sequence(workspace: Workspace, name_or_id: str | int) -> SequenceInfo:
    with workspace.session() as session:
        seq = None
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            seq = session.get(NurtureSequence, int(name_or_id))
        if seq is None:
            wanted = str(name_or_id).strip().casefold()
            for candidate in session.scalars(select(NurtureSequence)):
                if candidate.name.casefold() == wanted:
                    seq = candidate
        if seq is None:
            names = ", ".join(session.scalars(select(NurtureSequence.name)))
            raise NotFoundError(f"No sequence named {name_or_id!r}. Sequences: {names or 'none'}.")
        return _sequence_info(session, seq)


def set_stage_sequence(workspace: Workspace, stage_id: int, sequence_id: int | None) -> None:
    """Entering `stage_id` enrols in `sequence_id` (None: entering it enrols in nothing)."""
    with workspace.session() as session:
        row = session.get(StageSequence, stage_id)
        if sequence_id is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(StageSequence(stage_id=stage_id, sequence_id=sequence_id))
        else:
            row.sequence_id = sequence_id
    apply_enrolment_rules(workspace)


def set_enrolling_stage(workspace: Workspace, sequence_id: int, stage_id: int | None) -> None:
    """Make `stage_id` the one stage whose entry enrols in this sequence (None: no stage)."""
    with workspace.session() as session:
        for rule in session.scalars(
            select(StageSequence).where(StageSequence.sequence_id == sequence_id)
        ).all():
            if rule.stage_id != stage_id:
                session.delete(rule)
    if stage_id is not None:
        set_stage_sequence(workspace, stage_id, sequence_id)


# --- enrolments -------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentInfo:
    id: int
    lead_id: int
    lead_name: str
    lead_email: str
    sequence_id: int
    sequence_name: str
    state: str
    next_step: int
    steps: int
    next_send_at: datetime | None
    next_template: str
    how: str
    stopped_reason: str


def _first_delay(session: Session, sequence_id: int) -> float:
    delay = session.scalar(
        select(SequenceStep.delay_days)
        .where(SequenceStep.sequence_id == sequence_id)
        .order_by(SequenceStep.position)
        .limit(1)
    )
    if delay is None:
        raise UserError("This sequence has no steps yet.")
    return float(delay)


def _enrol_in(
    session: Session, lead_id: int, sequence_id: int, now: datetime, how: str, delay: float
) -> bool:
    """Enrol one lead (restarting a finished enrolment). False if it is already running."""
    row = session.scalar(
        select(Enrollment).where(
            Enrollment.lead_id == lead_id, Enrollment.sequence_id == sequence_id
        )
    )
    when = now + timedelta(days=delay)
    if row is None:
        session.add(
            Enrollment(
                lead_id=lead_id,
                sequence_id=sequence_id,
                state=ACTIVE,
                next_step=0,
                next_send_at=when,
                round=0,
                enrolled_at=now,
                how=how,
                stopped_reason="",
            )
        )
        return True
    if row.state in (ACTIVE, PAUSED):
        return False
    row.state, row.next_step, row.next_send_at = ACTIVE, 0, when
    row.round += 1
    row.enrolled_at, row.how, row.stopped_reason = now, how, ""
    return True


def enroll(
    workspace: Workspace, lead_ids: Sequence[int], sequence_id: int, how: str = "by hand"
) -> int:
    """Enrol leads in a sequence; returns how many were newly enrolled."""
    now = workspace.clock.now()
    count = 0
    with workspace.session() as session:
        if session.get(NurtureSequence, sequence_id) is None:
            raise NotFoundError(f"No sequence #{sequence_id}.")
        delay = _first_delay(session, sequence_id)
        for lead_id in dict.fromkeys(lead_ids):
            lead = session.get(Lead, lead_id)
            if lead is None or lead.deleted_at is not None:
                raise NotFoundError(f"No lead #{lead_id}.")
            if session.get(Suppression, lead.email_key) is not None:
                raise UserError(f"{lead.email} is on the suppression list and is never mailed.")
            count += _enrol_in(session, lead_id, sequence_id, now, how, delay)
    workspace.events.publish(LeadsChanged(tuple(lead_ids), (), "enrolled"))
    return count


def _set_state(workspace: Workspace, enrollment_id: int, state: str, reason: str = "") -> None:
    now = workspace.clock.now()
    with workspace.session() as session:
        row = session.get(Enrollment, enrollment_id)
        if row is None:
            raise NotFoundError(f"No enrolment #{enrollment_id}.")
        if state == ACTIVE:
            if row.state != PAUSED:
                return
            # Resuming never fires a backlog at once: due now at the earliest.
            if row.next_send_at is not None and row.next_send_at < now:
                row.next_send_at = now
        elif state == PAUSED and row.state != ACTIVE:
            return
        row.state = state
        row.stopped_reason = reason
        lead_id = row.lead_id
    workspace.events.publish(LeadsChanged((lead_id,), (), "enrolment"))


def pause(workspace: Workspace, enrollment_id: int) -> None:
    _set_state(workspace, enrollment_id, PAUSED)


def resume(workspace: Workspace, enrollment_id: int) -> None:
    _set_state(workspace, enrollment_id, ACTIVE)


def unenroll(workspace: Workspace, enrollment_id: int) -> None:
    _set_state(workspace, enrollment_id, STOPPED, "unenrolled by hand")


def list_enrollments(
    workspace: Workspace, *, lead_id: int | None = None, sequence_id: int | None = None
) -> list[EnrollmentInfo]:
    with workspace.session() as session:
        query = (
            select(Enrollment, Lead, NurtureSequence.name)
            .join(Lead, Lead.id == Enrollment.lead_id)
            .join(NurtureSequence, NurtureSequence.id == Enrollment.sequence_id)
            .order_by(Enrollment.next_send_at, Enrollment.id)
        )
        if lead_id is not None:
            query = query.where(Enrollment.lead_id == lead_id)
        if sequence_id is not None:
            query = query.where(Enrollment.sequence_id == sequence_id)
        result = []
        for enr, lead, seq_name in session.execute(query).all():
            steps = session.execute(
                select(SequenceStep.position, EmailTemplate.name)
                .join(EmailTemplate, EmailTemplate.id == SequenceStep.template_id)
                .where(SequenceStep.sequence_id == enr.sequence_id)
                .order_by(SequenceStep.position)
            ).all()
            next_template = steps[enr.next_step][1] if enr.next_step < len(steps) else ""
            result.append(
                EnrollmentInfo(
                    id=enr.id,
                    lead_id=lead.id,
                    lead_name=display_name(lead.first_name, lead.last_name, lead.email),
                    lead_email=lead.email,
                    sequence_id=enr.sequence_id,
                    sequence_name=seq_name,
                    state=enr.state,
                    next_step=enr.next_step,
                    steps=len(steps),
                    next_send_at=enr.next_send_at if enr.state == ACTIVE else None,
                    next_template=next_template,
                    how=enr.how,
                    stopped_reason=enr.stopped_reason,
                )
            )
        return result


@dataclass(frozen=True)
class NextEmail:
    """What the card and the lead editor show: the next nurture email and when."""

    template: str
    sequence: str
    due: datetime


def next_email(workspace: Workspace, lead_id: int) -> NextEmail | None:
    upcoming = [
        e
        for e in list_enrollments(workspace, lead_id=lead_id)
        if e.state == ACTIVE and e.next_send_at
    ]
    if not upcoming:
        return None
    first = min(upcoming, key=lambda e: e.next_send_at or datetime.max)
    assert first.next_send_at is not None
    return NextEmail(first.next_template, first.sequence_name, first.next_send_at)


def next_emails(workspace: Workspace, lead_ids: Sequence[int]) -> dict[int, NextEmail]:
    """The next nurture email of each of these leads (those with one), in one query: the
    board asks for a page of cards at a time."""
    if not lead_ids:
        return {}
    query = (
        select(
            Enrollment.lead_id, Enrollment.next_send_at, EmailTemplate.name, NurtureSequence.name
        )
        .join(NurtureSequence, NurtureSequence.id == Enrollment.sequence_id)
        .join(
            SequenceStep,
            and_(
                SequenceStep.sequence_id == Enrollment.sequence_id,
                SequenceStep.position == Enrollment.next_step,
            ),
        )
        .join(EmailTemplate, EmailTemplate.id == SequenceStep.template_id)
        .add_columns(Enrollment.state)
        # Only the lead ids in SQL: a state or date condition steers SQLite to the
        # (state, next_send_at) index, a scan of every enrolment; a lead has few enrolments.
        .where(Enrollment.lead_id.in_(list(lead_ids)))
    )
    soonest: dict[int, NextEmail] = {}
    with workspace.session() as session:
        for lead_id, due, template, sequence, state in session.execute(query):
            if state != ACTIVE or due is None:
                continue
            if lead_id not in soonest or due < soonest[lead_id].due:
                soonest[lead_id] = NextEmail(template, sequence, due)
    return soonest


# --- rules: enrol on entering a stage, or on carrying a tag -------------------------------


def apply_enrolment_rules(workspace: Workspace, lead_ids: Sequence[int] | None = None) -> int:
    """Enrol leads the stage/tag rules say should be enrolled; end stage enrolments of leads
    that left the stage. Idempotent. Returns how many enrolments were started.

    Set-based: per rule, one UPDATE restarts finished enrolments and one INSERT ... SELECT
    adds the new ones, so 100,000 leads imported into an enrolling stage cost one statement,
    not 100,000 round trips (this runs on the scheduler's tick, inside a write transaction).
    The rows are the ones `_enrol_in` writes: first step due `delay` days after now (the send
    window and the frequency cap are applied when the step is queued, in `_queue`)."""
    now = workspace.clock.now()
    started = 0
    with workspace.session() as session:
        only = Lead.id.in_(lead_ids) if lead_ids is not None else true()
        # A stage enrolment ends when the lead leaves the stage (moved on, or the move undone).
        lead_stage = select(Lead.stage_id).where(Lead.id == Enrollment.lead_id).scalar_subquery()
        in_scope = Enrollment.lead_id.in_(lead_ids) if lead_ids is not None else true()
        session.execute(
            update(Enrollment)
            .where(
                in_scope,
                Enrollment.state.in_((ACTIVE, PAUSED)),
                Enrollment.how.like("stage:%"),
                Enrollment.how != "stage:" + cast(lead_stage, String),
            )
            .values(state=STOPPED, stopped_reason="left the stage that enrolled it")
            .execution_options(synchronize_session=False)
        )
        suppressed = exists().where(Suppression.email_key == Lead.email_key)
        for rule in session.scalars(select(StageSequence)).all():
            try:
                delay = _first_delay(session, rule.sequence_id)
            except UserError:
                continue
            since_entry = exists().where(
                Enrollment.lead_id == Lead.id,
                Enrollment.sequence_id == rule.sequence_id,
                or_(Enrollment.enrolled_at >= Lead.stage_entered_at, Enrollment.state == ACTIVE),
            )
            candidates = select(Lead.id).where(
                only,
                Lead.stage_id == rule.stage_id,
                Lead.deleted_at.is_(None),
                ~since_entry,
                ~suppressed,
            )
            started += _enrol_set(
                session, candidates, rule.sequence_id, now, f"stage:{rule.stage_id}", delay
            )
        for seq in session.scalars(
            select(NurtureSequence).where(NurtureSequence.enroll_tag != "")
        ).all():
            try:
                delay = _first_delay(session, seq.id)
            except UserError:
                continue
            ever = exists().where(Enrollment.lead_id == Lead.id, Enrollment.sequence_id == seq.id)
            tagged = exists().where(
                lead_tags.c.lead_id == Lead.id,
                lead_tags.c.tag_id == Tag.id,
                func.lower(Tag.name) == seq.enroll_tag.casefold(),
            )
            candidates = select(Lead.id).where(
                only, Lead.deleted_at.is_(None), tagged, ~ever, ~suppressed
            )
            started += _enrol_set(session, candidates, seq.id, now, f"tag:{seq.enroll_tag}", delay)
    if started:  # the board shows each card's next email: let it know
        workspace.events.publish(LeadsChanged(tuple(lead_ids or ()), (), "enrolled"))
    return started


def _enrol_set(
    session: Session,
    candidates: Select[Any],
    sequence_id: int,
    now: datetime,
    how: str,
    delay: float,
) -> int:
    """`_enrol_in` for every lead `candidates` selects, in two statements: restart the
    finished enrolments (a running or paused one is left alone), insert the missing ones.
    The candidate set is computed once per statement, before its first row is written."""
    when = now + timedelta(days=delay)
    restarted = session.execute(
        update(Enrollment)
        .where(
            Enrollment.sequence_id == sequence_id,
            Enrollment.state.not_in((ACTIVE, PAUSED)),
            Enrollment.lead_id.in_(candidates),
        )
        .values(
            state=ACTIVE,
            next_step=0,
            next_send_at=when,
            round=Enrollment.round + 1,
            enrolled_at=now,
            how=how,
            stopped_reason="",
        )
        .execution_options(synchronize_session=False)
    )
    already = exists().where(Enrollment.lead_id == Lead.id, Enrollment.sequence_id == sequence_id)
    fresh = candidates.where(~already).add_columns(
        literal(sequence_id),
        literal(ACTIVE),
        literal(0),
        literal(when, Timestamp()),
        literal(0),
        literal(now, Timestamp()),
        literal(how),
        literal(""),
    )
    inserted = session.execute(
        insert(Enrollment).from_select(
            [
                Enrollment.lead_id,
                Enrollment.sequence_id,
                Enrollment.state,
                Enrollment.next_step,
                Enrollment.next_send_at,
                Enrollment.round,
                Enrollment.enrolled_at,
                Enrollment.how,
                Enrollment.stopped_reason,
            ],
            fresh,
        )
    )
    return int(restarted.rowcount or 0) + int(inserted.rowcount or 0)  # type: ignore[attr-defined]


def watch_leads(workspace: Workspace) -> None:
    """Apply the enrolment rules right after leads are added, moved, edited or restored."""

    def on_change(event: LeadsChanged) -> None:
        if event.reason in ("enrolled", "enrolment") or not event.lead_ids:
            return
        apply_enrolment_rules(workspace, list(event.lead_ids))

    workspace.events.subscribe(LeadsChanged, on_change)
    from nurturedesk.core.nurture_links import install  # release to sales ends sequences

    install()


# --- time: send windows in the lead's time zone ------------------------------------------


def local_timezone_name() -> str:
    """This computer's IANA zone name (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                ZoneInfo(name)
                return name
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or local_timezone_name())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_in_window(
    when: datetime, tz: ZoneInfo, days: Sequence[int], start_hour: int, end_hour: int
) -> datetime:
    """The earliest naive-UTC time >= `when` inside the window (days of week, hours) in `tz`."""
    local = when.replace(tzinfo=UTC).astimezone(tz)
    allowed = set(days) or set(range(7))
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in allowed:
            continue
        opens = datetime.combine(day, time(start_hour), tz)
        closes = (
            datetime.combine(day + timedelta(days=1), time(0), tz)
            if end_hour >= 24
            else datetime.combine(day, time(end_hour), tz)
        )
        if offset == 0:
            if local >= closes:
                continue
            candidate = max(local, opens)
        else:
            candidate = opens
        return candidate.astimezone(UTC).replace(tzinfo=None)
    return when


# --- turning due steps into outbox rows --------------------------------------------------


def due_enrollment_ids(workspace: Workspace, now: datetime, limit: int = 1000) -> list[int]:
    """Active enrolments whose next step is due, oldest first (uses ix_enrollments_due)."""
    with workspace.session() as session:
        return list(
            session.scalars(
                select(Enrollment.id)
                .where(Enrollment.state == ACTIVE, Enrollment.next_send_at <= now)
                .order_by(Enrollment.next_send_at)
                .limit(limit)
            )
        )


def unsubscribe_token(session: Session, lead_id: int) -> str:
    row = session.get(UnsubscribeToken, lead_id)
    if row is None:
        import secrets

        row = UnsubscribeToken(lead_id=lead_id, token=secrets.token_urlsafe(18))
        session.add(row)
        session.flush()
    return row.token


def unsubscribe_mailto(cfg: MailConfig, token: str) -> str:
    return f"mailto:{cfg.from_address}?subject=unsubscribe%20{token}"


def lead_context(lead: Lead) -> dict[str, object]:
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "name": display_name(lead.first_name, lead.last_name, ""),
        "email": lead.email,
        "company": lead.company,
        "title": lead.title,
        "phone": lead.phone,
        "source": lead.source,
        "owner": lead.owner,
        "stage": lead.stage.name if lead.stage is not None else "",
        "custom": dict(lead.custom_fields or {}),
    }


def sender_context(cfg: MailConfig) -> dict[str, object]:
    return {
        "name": cfg.from_name,
        "email": cfg.from_address,
        "signature": cfg.signature or cfg.from_name,
        "postal_address": cfg.postal_address,
    }


def new_outbox_row(
    session: Session,
    cfg: MailConfig,
    lead: Lead,
    template: EmailTemplate,
    assets: dict[str, AssetLink],
    now: datetime,
    **keys: object,
) -> OutboxMessage:
    """Render `template` for `lead` into a queued outbox row with its Message-ID fixed now."""
    domain = cfg.from_address.rpartition("@")[2] or "nurturedesk.invalid"
    row = OutboxMessage(
        lead_id=lead.id,
        to_address=lead.email,
        to_name=display_name(lead.first_name, lead.last_name, ""),
        message_id=make_msgid(domain=domain),
        state="queued",
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
        **keys,
    )
    token = unsubscribe_token(session, lead.id)
    row.list_unsubscribe = unsubscribe_mailto(cfg, token)
    try:
        rendered = render_email(
            template.subject,
            template.body,
            lead_context(lead),
            sender_context(cfg),
            assets,
            unsubscribe_mailto(cfg, token),
        )
        row.subject, row.body_text, row.body_html = rendered.subject, rendered.text, rendered.html
    except Exception as exc:
        # Templates are checked when saved, so this is rare (an asset deleted since): the row
        # is kept, failed, with the reason, so nothing disappears silently.
        row.subject, row.body_text, row.body_html = template.subject[:400], "", ""
        row.state = "failed"
        row.last_error = clean_text(f"Could not render template {template.name!r}: {exc}", 500)
    session.add(row)
    return row


@dataclass
class QueueReport:
    queued: int = 0
    stopped: int = 0
    postponed: int = 0
    completed: int = 0


def _stop_reason(lead: Lead | None, suppressed: dict[str, str], stop_stages: set[str]) -> str:
    if lead is None or lead.deleted_at is not None:
        return "lead deleted"
    stage = lead.stage
    if stage.kind in (StageKind.WON, StageKind.LOST, "won", "lost"):
        return f"reached {stage.name}"
    if stage.name.casefold() in stop_stages:
        return f"became sales-ready ({stage.name})"
    return suppressed.get(lead.email_key, "")


def queue_due_steps(
    workspace: Workspace, cfg: MailConfig, *, limit: int = 500, session: Session | None = None
) -> QueueReport:
    """Turn due enrolment steps into queued outbox rows (or stop/postpone/complete them)."""
    now = workspace.clock.now()
    report = QueueReport()
    ids = due_enrollment_ids(workspace, now, limit)
    if not ids:
        return report
    assets = asset_links(workspace)
    if session is not None:
        _queue(session, ids, cfg, now, assets, report)
        return report
    with workspace.session() as s:
        _queue(s, ids, cfg, now, assets, report)
    return report


@dataclass(frozen=True)
class _Track:
    """A sequence as `_queue` needs it, loaded once per pass."""

    days: tuple[int, ...]
    start: int
    end: int
    steps: tuple[tuple[int, int, float], ...]  # (position, template id, delay days)


def _tracks(session: Session, sequence_ids: set[int]) -> dict[int, _Track]:
    steps: dict[int, list[tuple[int, int, float]]] = {i: [] for i in sequence_ids}
    for row in session.execute(
        select(
            SequenceStep.sequence_id,
            SequenceStep.position,
            SequenceStep.template_id,
            SequenceStep.delay_days,
        )
        .where(SequenceStep.sequence_id.in_(sequence_ids))
        .order_by(SequenceStep.sequence_id, SequenceStep.position)
    ):
        steps[row.sequence_id].append((row.position, row.template_id, row.delay_days))
    return {
        seq.id: _Track(
            _parse_days(seq.window_days),
            seq.window_start_hour,
            seq.window_end_hour,
            tuple(steps[seq.id]),
        )
        for seq in session.scalars(
            select(NurtureSequence).where(NurtureSequence.id.in_(sequence_ids))
        )
    }


def _queue(
    session: Session,
    ids: list[int],
    cfg: MailConfig,
    now: datetime,
    assets: dict[str, AssetLink],
    report: QueueReport,
) -> None:
    """One pass over due enrolments. Everything per lead/sequence is loaded in bulk first,
    so a catch-up after a long sleep (thousands due at once) stays quick."""
    cap = timedelta(days=cfg.cap_days)
    enrolments = session.scalars(select(Enrollment).where(Enrollment.id.in_(ids))).all()
    lead_ids = {e.lead_id for e in enrolments}
    leads = {
        lead.id: lead
        for lead in session.scalars(
            select(Lead).where(Lead.id.in_(lead_ids)).options(lazyload(Lead.tags))
        )
    }
    suppressed = dict(
        session.execute(
            select(Suppression.email_key, Suppression.reason).where(
                Suppression.email_key.in_({lead.email_key for lead in leads.values()})
            )
        ).all()
    )
    last_sent: dict[int, datetime] = dict(
        session.execute(  # type: ignore[arg-type]
            select(OutboxMessage.lead_id, func.max(OutboxMessage.created_at))
            .where(
                OutboxMessage.lead_id.in_(lead_ids),
                OutboxMessage.kind == "nurture",
                OutboxMessage.state.not_in(("cancelled", "failed")),
            )
            .group_by(OutboxMessage.lead_id)
        ).all()
    )
    tracks = _tracks(session, {e.sequence_id for e in enrolments})
    templates: dict[int, EmailTemplate | None] = {}
    stop_stages = {s.casefold() for s in cfg.stop_stages}
    zones: dict[str, ZoneInfo] = {}
    for enr in enrolments:
        if enr.state != ACTIVE or enr.next_send_at is None or enr.next_send_at > now:
            continue  # changed since it was selected
        lead = leads.get(enr.lead_id)
        reason = _stop_reason(lead, suppressed, stop_stages)
        if reason:
            enr.state, enr.stopped_reason, enr.next_send_at = STOPPED, reason, None
            report.stopped += 1
            continue
        assert lead is not None
        track = tracks.get(enr.sequence_id)
        if track is None or enr.next_step >= len(track.steps):
            enr.state, enr.next_send_at = COMPLETED, None
            report.completed += 1
            continue
        tz_name = lead.timezone or cfg.timezone
        tz = zones.get(tz_name) or zones.setdefault(tz_name, zone(tz_name))
        earliest = now
        last = last_sent.get(lead.id)
        if last is not None and cap and last + cap > now:
            earliest = last + cap  # per-lead frequency cap, across all sequences
        opening = next_in_window(earliest, tz, track.days, track.start, track.end)
        if opening > now:
            enr.next_send_at = opening
            report.postponed += 1
            continue
        position, template_id, _delay = track.steps[enr.next_step]
        already = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.enrollment_id == enr.id,
                OutboxMessage.round == enr.round,
                OutboxMessage.step_position == position,
            )
        )
        if already is None:
            if template_id not in templates:
                templates[template_id] = session.get(EmailTemplate, template_id)
            template = templates[template_id]
            assert template is not None
            new_outbox_row(
                session,
                cfg,
                lead,
                template,
                assets,
                now,
                enrollment_id=enr.id,
                round=enr.round,
                step_position=position,
                kind="nurture",
            )
            last_sent[lead.id] = now  # the cap holds within this pass too
            report.queued += 1
        enr.next_step += 1
        if enr.next_step >= len(track.steps):
            enr.state, enr.next_send_at = COMPLETED, None
        else:
            enr.next_send_at = now + timedelta(days=track.steps[enr.next_step][2])
    session.flush()


def stop_enrolments_for_lead(session: Session, lead_id: int, reason: str) -> None:
    session.execute(
        update(Enrollment)
        .where(Enrollment.lead_id == lead_id, Enrollment.state.in_((ACTIVE, PAUSED)))
        .values(state=STOPPED, stopped_reason=reason, next_send_at=None)
    )
