"""Release to sales: the sales-ready rule, release events, notices, and the hand-off.

A lead is released when its score reaches the threshold (and its grade is good enough),
exactly once per crossing: `lead_scoring.released` is a latch set with a conditional UPDATE
(so two processes racing on one lead release it once) and re-armed only when the score falls
below threshold - hysteresis. The release, its notice, the hand-off and the stage move are
written in the same transaction as the interaction or rule change that caused them.

Notices (sales-ready, follow-up overdue) are rows in `release_events`; whichever process
made the change, a running app (GUI or headless `run`) claims each one with
`UPDATE ... WHERE delivered_at IS NULL` and shows it: delivered exactly once.

For the nurture engine: register a function in `RELEASE_HOOKS` to pause a released lead's
sequence inside the release transaction (works whatever process released it), and/or
subscribe to `LeadReleased` on the workspace's event bus (same process, after commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError, ValidationError
from nurturedesk.core.events import Event, LeadsChanged
from nurturedesk.core.models import (
    Handoff,
    Lead,
    LeadScoring,
    ReleaseEvent,
    Stage,
    StageHistory,
    StageKind,
)
from nurturedesk.core.scoring_rules import ScoringRules, rules_in
from nurturedesk.core.validation import clean_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeadReleased(Event):
    """A lead became sales-ready (published after the commit, in the releasing process)."""

    lead_id: int
    score: int
    grade: str
    event_id: int


@dataclass(frozen=True)
class NoticesRecorded(Event):
    """New notices wait in `release_events` (a running app may deliver them now)."""


# The reason of a LeadsChanged that only changed scores, grades or markers (cards in place).
SCORED = "scored"

# Called inside the release transaction as hook(session, lead_ids, now): e.g. the nurture
# engine pauses the released leads' sequences here.
RELEASE_HOOKS: list[Callable[[Session, Sequence[int], datetime], None]] = []


@dataclass(frozen=True)
class Fired:
    lead_id: int
    event_id: int
    score: int
    grade: str
    message: str
    stage_ids: tuple[int, ...] = ()  # (from, to) when the card moved


def person(first: str, last: str, email: str, company: str) -> str:
    name = f"{first} {last}".strip() or email
    return f"{name} ({company})" if company else name


def _ensure_rows(session: Session, lead_ids: Sequence[int]) -> None:
    for chunk in _chunks(list(lead_ids)):
        session.execute(
            sqlite_insert(LeadScoring)
            .values([{"lead_id": i} for i in chunk])
            .on_conflict_do_nothing()
        )


def _chunks(values: list[int], size: int = 500) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def check_in(
    session: Session, rules: ScoringRules, now: datetime, lead_ids: Sequence[int] | None
) -> list[Fired]:
    """Apply the release rule to some leads (None: all) inside the caller's transaction."""
    rearm = (
        "UPDATE lead_scoring SET released = 0 WHERE released = 1 AND lead_id IN "
        "(SELECT id FROM leads WHERE score < :floor{only})"
    )
    candidates = (
        "SELECT l.id, COALESCE(s.grade, '') FROM leads AS l "
        "LEFT JOIN lead_scoring AS s ON s.lead_id = l.id "
        "WHERE l.deleted_at IS NULL AND l.score >= :t AND COALESCE(s.released, 0) = 0{only}"
    )
    params = {"floor": rules.threshold - rules.hysteresis, "t": rules.threshold}
    if lead_ids is None:
        session.execute(text(rearm.format(only="")), params)
        rows = session.execute(text(candidates.format(only="")), params).all()
    else:
        rows = []
        for chunk in _chunks(list(lead_ids)):
            only = f" AND id IN ({','.join(str(int(i)) for i in chunk)})"
            session.execute(text(rearm.format(only=only)), params)
            only = only.replace("id IN", "l.id IN")
            rows.extend(session.execute(text(candidates.format(only=only)), params).all())
    ready = [lead_id for lead_id, grade in rows if rules.grade_ok(grade)]
    if not ready:
        return []
    _ensure_rows(session, ready)
    claimed: list[int] = []
    for chunk in _chunks(ready):
        # The latch: only the transaction that flips released 0 -> 1 fires the release.
        claimed.extend(
            session.scalars(
                update(LeadScoring)
                .where(LeadScoring.lead_id.in_(chunk), LeadScoring.released.is_(False))
                .values(released=True, released_at=now)
                .returning(LeadScoring.lead_id)
            ).all()
        )
    return _fire(session, rules, now, sorted(claimed))


def _stage_by_name(session: Session, name: str) -> Stage | None:
    return session.scalar(select(Stage).where(func.lower(Stage.name) == name.strip().lower()))


def move_in(session: Session, lead: Lead, stage: Stage, now: datetime, reason: str) -> bool:
    """Move one lead to the end of a stage, with a history row. False if already there."""
    if lead.stage_id == stage.id:
        return False
    top = session.scalar(
        select(func.max(Lead.position)).where(Lead.stage_id == stage.id, Lead.deleted_at.is_(None))
    )
    session.add(
        StageHistory(
            lead_id=lead.id,
            from_stage_id=lead.stage_id,
            to_stage_id=stage.id,
            moved_at=now,
            reason=clean_text(reason, 200),
        )
    )
    lead.stage_id = stage.id
    lead.position = (top or 0.0) + 1.0
    lead.stage_entered_at = now
    return True


def _fire(session: Session, rules: ScoringRules, now: datetime, lead_ids: list[int]) -> list[Fired]:
    """Record the releases of leads whose latch this transaction just set: a notice each, a
    hand-off, the move to the release stage. Set-based: a rule change may release thousands."""
    if not lead_ids:
        return []
    target = _stage_by_name(session, rules.release_stage) if rules.release_mode == "move" else None
    stages = {s.id: s for s in session.scalars(select(Stage))}
    due = now + timedelta(hours=rules.follow_up_hours)
    fired: list[Fired] = []
    next_position: float | None = None
    for chunk in _chunks(lead_ids):
        rows = session.execute(
            select(
                Lead.id,
                Lead.first_name,
                Lead.last_name,
                Lead.email,
                Lead.company,
                Lead.owner,
                Lead.score,
                Lead.stage_id,
                LeadScoring.grade,
            )
            .join(LeadScoring, LeadScoring.lead_id == Lead.id)
            .where(Lead.id.in_(chunk))
            .order_by(Lead.id)
        ).all()
        if not rows:
            continue
        messages = [
            f"{person(r.first_name, r.last_name, r.email, r.company)} is sales-ready, "
            f"score {r.score}"
            for r in rows
        ]
        event_ids = session.scalars(
            insert(ReleaseEvent).returning(ReleaseEvent.id, sort_by_parameter_order=True),
            [
                {
                    "lead_id": r.id,
                    "kind": "sales_ready",
                    "score": r.score,
                    "grade": r.grade,
                    "message": message,
                    "created_at": now,
                    "delivered_via": "",
                }
                for r, message in zip(rows, messages, strict=True)
            ],
        ).all()
        upsert = sqlite_insert(Handoff)
        upsert = upsert.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={
                "owner": upsert.excluded.owner,
                "state": "pending",
                "released_at": now,
                "due_at": due,
                "overdue_at": None,
                "decided_at": None,
                "recycle_at": None,
            },
        )
        session.execute(
            upsert,
            [
                {
                    "lead_id": r.id,
                    "owner": r.owner or rules.default_owner,
                    "state": "pending",
                    "released_at": now,
                    "due_at": due,
                    "reason": "",
                }
                for r in rows
            ],
        )
        movers = []
        if target is not None:
            movers = [
                r
                for r in rows
                if r.stage_id in stages and _moves_on_release(stages[r.stage_id], target)
            ]
        if movers and target is not None:
            if next_position is None:
                top = session.scalar(
                    select(func.max(Lead.position)).where(
                        Lead.stage_id == target.id, Lead.deleted_at.is_(None)
                    )
                )
                next_position = (top or 0.0) + 1.0
            moves = []
            for r in movers:
                moves.append(
                    {
                        "id": r.id,
                        "stage_id": target.id,
                        "position": next_position,
                        "stage_entered_at": now,
                    }
                )
                next_position += 1.0
            session.execute(update(Lead), moves)  # bulk UPDATE by primary key
            session.execute(
                insert(StageHistory),
                [
                    {
                        "lead_id": r.id,
                        "from_stage_id": r.stage_id,
                        "to_stage_id": target.id,
                        "moved_at": now,
                        "reason": f"sales-ready: score {r.score}",
                    }
                    for r in movers
                ],
            )
        moved = {r.id: (r.stage_id, target.id) for r in movers if target is not None}
        fired.extend(
            Fired(r.id, event_id, r.score, r.grade, message, moved.get(r.id, ()))
            for r, event_id, message in zip(rows, event_ids, messages, strict=True)
        )
    for hook in RELEASE_HOOKS:
        hook(session, [f.lead_id for f in fired], now)
    return fired


def _moves_on_release(current: Stage, target: Stage) -> bool:
    # Forward only from earlier open stages; parked leads (Recycled, Newsletter) come back.
    # A lead already with sales, won or lost stays where it is (it is only flagged).
    if current.kind == StageKind.PARKED:
        return True
    return current.kind == StageKind.OPEN and current.position < target.position


def publish(
    workspace: Workspace, fired: Sequence[Fired], lead_ids: Sequence[int], reason: str
) -> None:
    """After the commit: tell listeners what changed and what was released.

    Scores that changed without moving a card are published with reason "scored" and the
    stages left empty, so the board repaints those cards in place; a release that moved a
    card names both stages.
    """
    ids = tuple(dict.fromkeys([*lead_ids, *(f.lead_id for f in fired)]))
    moved = tuple(dict.fromkeys(s for f in fired for s in f.stage_ids))
    if moved:
        workspace.events.publish(LeadsChanged(ids, moved, "released"))
    elif ids:
        workspace.events.publish(LeadsChanged(ids, (), SCORED))
    else:
        workspace.events.publish(LeadsChanged((), (), reason))  # every lead: reload the board
    for f in fired:
        workspace.events.publish(LeadReleased(f.lead_id, f.score, f.grade, f.event_id))
    if fired:
        workspace.events.publish(NoticesRecorded())


# --- Notices: delivered once by a running app ---------------------------------------------


@dataclass(frozen=True)
class Notice:
    id: int
    lead_id: int
    kind: str
    message: str
    score: int
    grade: str
    created_at: datetime
    delivered_at: datetime | None = None
    delivered_via: str = ""


def _notice(e: ReleaseEvent) -> Notice:
    return Notice(
        e.id, e.lead_id, e.kind, e.message, e.score, e.grade, e.created_at,
        e.delivered_at, e.delivered_via,
    )  # fmt: skip


def claim_notices(workspace: Workspace, limit: int = 10_000) -> list[Notice]:
    """Take the undelivered notices for this process. Each is handed out exactly once, even
    with several apps open on the workspace: the claim is one UPDATE ... WHERE delivered_at
    IS NULL, and SQLite serialises writers."""
    now = workspace.clock.now()
    with workspace.session() as session:
        pending = select(ReleaseEvent.id).where(ReleaseEvent.delivered_at.is_(None))
        ids = list(session.scalars(pending.order_by(ReleaseEvent.id).limit(limit)))
        if not ids:
            return []
        claimed = session.scalars(
            update(ReleaseEvent)
            .where(ReleaseEvent.id.in_(ids), ReleaseEvent.delivered_at.is_(None))
            .values(delivered_at=now, delivered_via="claimed")
            .returning(ReleaseEvent.id)
        ).all()
        rows = session.scalars(
            select(ReleaseEvent).where(ReleaseEvent.id.in_(claimed)).order_by(ReleaseEvent.id)
        )
        return [_notice(e) for e in rows]


def mark_delivered(workspace: Workspace, notice_ids: Sequence[int], via: str) -> None:
    with workspace.session() as session:
        session.execute(
            update(ReleaseEvent)
            .where(ReleaseEvent.id.in_(list(notice_ids)))
            .values(delivered_via=via[:20])
        )


def recent_notices(workspace: Workspace, limit: int = 50) -> list[Notice]:
    with workspace.session() as session:
        rows = session.scalars(select(ReleaseEvent).order_by(ReleaseEvent.id.desc()).limit(limit))
        return [_notice(e) for e in rows]


# A sink shows notices and says how ("desktop", "banner", "log"). The GUI installs its own
# (desktop notification, in-app banner as the fallback); without one, the delivery tick of a
# headless `run` uses the desktop notifier from nurturedesk.notify.
NoticeSink = Callable[[Sequence[Notice]], str]
_sink: NoticeSink | None = None


def set_notice_sink(sink: NoticeSink | None) -> NoticeSink | None:
    """Install the process's notice sink; returns the previous one (to restore it)."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def deliver_pending(workspace: Workspace, sink: NoticeSink | None = None) -> list[Notice]:
    """Claim and show every waiting notice. A failing sink never loses a notice: it stays
    listed in `recent_notices` and is marked as delivered by "log"."""
    chosen = sink or _sink
    if chosen is None:
        from nurturedesk.notify import desktop_sink  # only Qt-free platform code

        chosen = desktop_sink
    notices = claim_notices(workspace)
    if not notices:
        return []
    try:
        via = chosen(notices)
    except Exception:
        log.exception("showing %d notices failed", len(notices))
        via = "failed"
    for n in notices:
        log.info("notice (%s): %s", via, n.message)
    mark_delivered(workspace, [n.id for n in notices], via)
    return notices


def deliver_tick(workspace: Workspace) -> None:
    deliver_pending(workspace)


# --- Hand-off to sales -------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffInfo:
    lead_id: int
    owner: str
    state: str
    released_at: datetime
    due_at: datetime
    overdue: bool
    decided_at: datetime | None
    reason: str
    recycle_at: datetime | None


def _handoff_info(h: Handoff, now: datetime) -> HandoffInfo:
    return HandoffInfo(
        lead_id=h.lead_id,
        owner=h.owner,
        state=h.state,
        released_at=h.released_at,
        due_at=h.due_at,
        overdue=h.state == "pending" and h.due_at <= now,
        decided_at=h.decided_at,
        reason=h.reason,
        recycle_at=h.recycle_at,
    )


def get_handoff(workspace: Workspace, lead_id: int) -> HandoffInfo | None:
    with workspace.session() as session:
        h = session.get(Handoff, lead_id)
        return _handoff_info(h, workspace.clock.now()) if h is not None else None


def _pending(session: Session, lead_id: int) -> tuple[Lead, Handoff]:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise NotFoundError(f"No lead #{lead_id}.")
    h = session.get(Handoff, lead_id)
    if h is None or h.state != "pending":
        who = person(lead.first_name, lead.last_name, lead.email, lead.company)
        raise UserError(f"{who} is not waiting for sales (no pending hand-off).")
    return lead, h


def assign(workspace: Workspace, lead_id: int, owner: str) -> HandoffInfo:
    """Give a pending hand-off (and the lead) an owner."""
    owner = clean_text(owner, 120)
    with workspace.session() as session:
        lead, h = _pending(session, lead_id)
        h.owner = owner
        lead.owner = owner
        info = _handoff_info(h, workspace.clock.now())
    workspace.events.publish(LeadsChanged((lead_id,), (), "assigned"))
    return info


def accept(workspace: Workspace, lead_id: int, owner: str | None = None) -> HandoffInfo:
    """Sales takes the lead: it moves to With sales."""
    now = workspace.clock.now()
    with workspace.session() as session:
        rules = rules_in(session)
        lead, h = _pending(session, lead_id)
        if owner:
            h.owner = lead.owner = clean_text(owner, 120)
        h.state, h.decided_at = "accepted", now
        stage = _stage_by_name(session, rules.accept_stage)
        if stage is not None:
            move_in(session, lead, stage, now, "accepted by sales")
        info = _handoff_info(h, now)
    workspace.events.publish(LeadsChanged((lead_id,), (), "accepted"))
    return info


def reject(workspace: Workspace, lead_id: int, reason: str) -> HandoffInfo:
    """Sales sends the lead back: Recycled now, back into nurturing after N days."""
    reason = clean_text(reason, 400)
    if not reason:
        raise ValidationError("reason", "Say why sales rejects the lead (it is kept).")
    now = workspace.clock.now()
    with workspace.session() as session:
        rules = rules_in(session)
        lead, h = _pending(session, lead_id)
        h.state, h.decided_at, h.reason = "rejected", now, reason
        h.recycle_at = now + timedelta(days=rules.recycle_days)
        stage = _stage_by_name(session, rules.reject_stage)
        if stage is not None:
            move_in(session, lead, stage, now, f"rejected by sales: {reason}")
        info = _handoff_info(h, now)
    workspace.events.publish(LeadsChanged((lead_id,), (), "rejected"))
    return info


def follow_up_tick(workspace: Workspace) -> list[int]:
    """Mark pending hand-offs past their deadline as overdue, once, with a notice."""
    now = workspace.clock.now()
    with workspace.session() as session:
        overdue = list(
            session.scalars(
                update(Handoff)
                .where(
                    Handoff.state == "pending",
                    Handoff.due_at <= now,
                    Handoff.overdue_at.is_(None),
                )
                .values(overdue_at=now)
                .returning(Handoff.lead_id)
            )
        )
        for lead_id in overdue:
            lead = session.get(Lead, lead_id)
            h = session.get(Handoff, lead_id)
            if lead is None or h is None:
                continue
            who = person(lead.first_name, lead.last_name, lead.email, lead.company)
            owner = f" ({h.owner})" if h.owner else ""
            session.add(
                ReleaseEvent(
                    lead_id=lead_id,
                    kind="overdue",
                    score=lead.score,
                    grade=(session.get(LeadScoring, lead_id) or LeadScoring(grade="")).grade or "",
                    message=f"Follow-up overdue{owner}: {who}, due {h.due_at:%Y-%m-%d %H:%M} UTC",
                    created_at=now,
                    delivered_via="",
                )
            )
    if overdue:
        workspace.events.publish(LeadsChanged(tuple(overdue), (), "overdue"))
        workspace.events.publish(NoticesRecorded())
    return overdue


def recycle_tick(workspace: Workspace) -> list[int]:
    """Rejected leads whose wait is over, and lost leads after N days, back into nurturing."""
    now = workspace.clock.now()
    moved: list[int] = []
    with workspace.session() as session:
        rules = rules_in(session)
        nurture = _stage_by_name(session, rules.nurture_stage)
        parked = _stage_by_name(session, rules.reject_stage)
        due = session.scalars(
            select(Handoff).where(Handoff.state == "rejected", Handoff.recycle_at <= now)
        ).all()
        for h in due:
            h.state = "recycled"
            lead = session.get(Lead, h.lead_id)
            if lead is None or lead.deleted_at is not None or nurture is None:
                continue
            # Only if sales' decision still stands (nobody moved the card meanwhile).
            if (parked is None or lead.stage_id == parked.id) and move_in(
                session, lead, nurture, now, "recycled after rejection"
            ):
                moved.append(lead.id)
        if rules.lost_recycle_days and nurture is not None:
            cutoff = now - timedelta(days=rules.lost_recycle_days)
            lost = session.scalars(
                select(Lead)
                .join(Stage, Stage.id == Lead.stage_id)
                .where(
                    Stage.kind == StageKind.LOST,
                    Lead.deleted_at.is_(None),
                    Lead.stage_entered_at <= cutoff,
                )
            ).all()
            for lead in lost:
                if move_in(session, lead, nurture, now, f"lost {rules.lost_recycle_days}+ days"):
                    moved.append(lead.id)
    if moved:
        workspace.events.publish(LeadsChanged(tuple(moved), (), "recycled"))
    return moved


# --- What the card shows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Badges:
    grade: str = ""
    sales_ready: bool = False  # released and waiting for sales
    overdue: bool = False
    due_at: datetime | None = None
    owner: str = ""


def badges(workspace: Workspace, lead_ids: Sequence[int]) -> dict[int, Badges]:
    """Grade and hand-off markers for the cards on screen (one query per 500 cards; plain
    columns, no ORM objects: the board asks on every reload)."""
    now = workspace.clock.now()
    result: dict[int, Badges] = {}
    with workspace.session() as session:
        for chunk in _chunks(list(lead_ids)):
            query = (
                select(
                    LeadScoring.lead_id,
                    LeadScoring.grade,
                    LeadScoring.released,
                    Handoff.state,
                    Handoff.due_at,
                    Handoff.owner,
                )
                .outerjoin(Handoff, Handoff.lead_id == LeadScoring.lead_id)
                .where(LeadScoring.lead_id.in_(chunk))
            )
            for lead_id, grade, released, state, due_at, owner in session.execute(query):
                pending = state == "pending"
                result[lead_id] = Badges(
                    grade=grade or "",
                    sales_ready=bool(released) and pending,
                    overdue=pending and due_at <= now,
                    due_at=due_at if pending else None,
                    owner=owner or "",
                )
    return result
