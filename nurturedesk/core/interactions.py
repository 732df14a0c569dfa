"""Interactions: each lead's timeline, and logging one (or one for many leads).

Logging re-scores the lead and applies the release rule in the same unit of work, so the
score on the card, the ledger and any release always agree.

For the outbox (and inbox sync): call `record(ws, lead_id, "email_sent", at, note,
source="outbox", source_ref=f"outbox:{row_id}:sent")`. With a `source_ref` the call is
idempotent: recording the same event twice keeps one interaction, so it can be retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nurturedesk.core import release, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, ValidationError
from nurturedesk.core.models import Interaction, Lead
from nurturedesk.core.scoring_rules import INTERACTION_TYPES, normalize_type, rules_in
from nurturedesk.core.validation import clean_text

# Clocks disagree a little; anything further ahead than this is a typo in --at.
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class InteractionInfo:
    id: int
    lead_id: int
    type: str
    label: str
    occurred_at: datetime
    note: str
    source: str
    source_ref: str | None = None


@dataclass(frozen=True)
class LogResult:
    interactions: tuple[InteractionInfo, ...]
    scores: dict[int, int]  # lead id -> score after
    released: tuple[int, ...]  # leads this made sales-ready

    @property
    def interaction(self) -> InteractionInfo:
        return self.interactions[0]


def _info(i: Interaction) -> InteractionInfo:
    return InteractionInfo(
        i.id, i.lead_id, i.type, INTERACTION_TYPES.get(i.type, i.type), i.occurred_at,
        i.note, i.source, i.source_ref,
    )  # fmt: skip


def parse_time(text: str) -> datetime:
    """An ISO time from the user; with an offset it is converted, without it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(
            "at", f"Cannot read the time {text!r}: use ISO format, e.g. 2026-03-02T14:30."
        ) from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _checked(
    workspace: Workspace, type_: str, at: datetime | None, note: str
) -> tuple[str, datetime, str]:
    now = workspace.clock.now()
    type_ = normalize_type(type_)
    when = now if at is None else at
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if when > now + FUTURE_SLACK:
        raise ValidationError("at", f"{when:%Y-%m-%d %H:%M} UTC is in the future.")
    return type_, when, clean_text(note, 2000)


def log_interactions(
    workspace: Workspace,
    lead_ids: Sequence[int],
    type_: str,
    at: datetime | None = None,
    note: str = "",
    *,
    source: str = "manual",
    source_ref: str | None = None,
) -> LogResult:
    """Log the same interaction for each lead (one unit of work) and re-score them."""
    type_, when, note = _checked(workspace, type_, at, note)
    ids = list(dict.fromkeys(lead_ids))
    if source_ref is not None and len(ids) != 1:
        raise ValueError("source_ref identifies one event of one lead")
    now = workspace.clock.now()
    with workspace.session() as session:
        live = set(
            session.scalars(select(Lead.id).where(Lead.id.in_(ids), Lead.deleted_at.is_(None)))
        )
        missing = [i for i in ids if i not in live]
        if missing:
            raise NotFoundError(f"No lead #{missing[0]}.")
        if source_ref is not None:
            existing = session.scalar(
                select(Interaction).where(Interaction.source_ref == source_ref)
            )
            if existing is not None:  # recorded before: nothing new to score
                return LogResult((_info(existing),), {}, ())
        rows = [
            Interaction(
                lead_id=lead_id,
                type=type_,
                occurred_at=when,
                day=scoring.day_number(when),
                note=note,
                source=clean_text(source, 40) or "manual",
                source_ref=source_ref,
                created_at=now,
            )
            for lead_id in ids
        ]
        session.add_all(rows)
        session.flush()
        infos = tuple(_info(r) for r in rows)
        scores, fired = _rescore_in(session, ids, now)
    release.publish(workspace, fired, ids, "interaction logged")
    return LogResult(infos, scores, tuple(f.lead_id for f in fired))


def _rescore_in(
    session: Session, lead_ids: Sequence[int], now: datetime
) -> tuple[dict[int, int], list[release.Fired]]:
    rules = rules_in(session)
    scores = scoring.score_leads_in(session, lead_ids, rules, now)
    return scores, release.check_in(session, rules, now, list(lead_ids))


def record(
    workspace: Workspace,
    lead_id: int,
    type_: str,
    at: datetime | None = None,
    note: str = "",
    source_ref: str | None = None,
    *,
    source: str = "manual",
) -> LogResult:
    """Log one interaction for one lead (the outbox, inbox sync, the CLI, the editor)."""
    return log_interactions(
        workspace, [lead_id], type_, at, note, source=source, source_ref=source_ref
    )


@dataclass(frozen=True)
class EventRecord:
    """One machine-recorded event for `record_events` (the outbox, inbox sync, an import)."""

    lead_id: int
    type: str
    at: datetime | None = None
    note: str = ""
    source_ref: str | None = None  # e.g. "outbox:42:sent": recorded at most once


def record_events(workspace: Workspace, events: Sequence[EventRecord], *, source: str) -> LogResult:
    """Record a batch of events in one unit of work, then re-score their leads.

    Made for retries and races: events whose `source_ref` is already recorded, and events of
    leads deleted meanwhile, are skipped rather than failing the batch.
    """
    checked = [(e, *_checked(workspace, e.type, e.at, e.note)) for e in events]
    now = workspace.clock.now()
    with workspace.session() as session:
        wanted = list({e.lead_id for e, *_ in checked})
        live: set[int] = set()
        for i in range(0, len(wanted), 500):
            live.update(
                session.scalars(
                    select(Lead.id).where(
                        Lead.id.in_(wanted[i : i + 500]), Lead.deleted_at.is_(None)
                    )
                )
            )
        refs = [e.source_ref for e, *_ in checked if e.source_ref]
        seen: set[str] = set()
        for i in range(0, len(refs), 500):
            seen.update(
                r
                for r in session.scalars(
                    select(Interaction.source_ref).where(
                        Interaction.source_ref.in_(refs[i : i + 500])
                    )
                )
                if r is not None
            )
        rows = []
        for e, type_, when, note in checked:
            if e.lead_id not in live or (e.source_ref and e.source_ref in seen):
                continue
            if e.source_ref:
                seen.add(e.source_ref)  # twice in one batch: once
            rows.append(
                Interaction(
                    lead_id=e.lead_id,
                    type=type_,
                    occurred_at=when,
                    day=scoring.day_number(when),
                    note=note,
                    source=clean_text(source, 40) or "manual",
                    source_ref=e.source_ref,
                    created_at=now,
                )
            )
        session.add_all(rows)
        session.flush()
        infos = tuple(_info(r) for r in rows)
        ids = list(dict.fromkeys(r.lead_id for r in rows))
        scores, fired = _rescore_in(session, ids, now) if ids else ({}, [])
    if ids:
        release.publish(workspace, fired, ids, "interaction logged")
    return LogResult(infos, scores, tuple(f.lead_id for f in fired))


def delete_interactions(workspace: Workspace, interaction_ids: Sequence[int]) -> dict[int, int]:
    """Take logged interactions back (undo) and re-score their leads. A release that already
    fired is not taken back: the notification was seen; the latch re-arms as usual."""
    now = workspace.clock.now()
    with workspace.session() as session:
        ids = list(interaction_ids)
        lead_ids = list(
            dict.fromkeys(
                session.scalars(select(Interaction.lead_id).where(Interaction.id.in_(ids)))
            )
        )
        session.execute(delete(Interaction).where(Interaction.id.in_(ids)))
        scores, fired = _rescore_in(session, lead_ids, now)
    release.publish(workspace, fired, lead_ids, "interaction removed")
    return scores


def timeline(workspace: Workspace, lead_id: int, limit: int | None = None) -> list[InteractionInfo]:
    """Newest first."""
    with workspace.session() as session:
        query = (
            select(Interaction)
            .where(Interaction.lead_id == lead_id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        return [_info(i) for i in session.scalars(query)]
