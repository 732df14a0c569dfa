"""Leads: add, edit, move across the funnel, delete and restore, and the board's queries.

Every function is one unit of work on the workspace and publishes `LeadsChanged` after the
commit. Results are plain dataclasses, never ORM objects, so they may cross threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import DuplicateEmailError, NotFoundError, ValidationError, no_such
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.models import Lead, Stage, StageHistory, Tag, lead_tags
from nurturedesk.core.validation import clean_text, email_key, normalize_email, tag_names

_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]

# Free-text fields of a lead with their maximum lengths (as in the schema).
TEXT_FIELDS: dict[str, int] = {
    "first_name": 120,
    "last_name": 120,
    "company": 200,
    "title": 200,
    "phone": 60,
    "source": 120,
    "owner": 120,
    "timezone": 64,
}
EDITABLE_FIELDS = ("email", *TEXT_FIELDS, "custom_fields", "tags")


@dataclass(frozen=True)
class LeadData:
    """What a user can type about a lead. Validated and cleaned by `validate_lead_data`."""

    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    title: str = ""
    phone: str = ""
    source: str = ""
    owner: str = ""
    timezone: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeadDetail(LeadData):
    id: int = 0
    stage_id: int = 0
    stage_name: str = ""
    position: float = 0.0
    score: int = 0
    stage_entered_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)

    def data(self) -> LeadData:
        return LeadData(**{f.name: getattr(self, f.name) for f in fields(LeadData)})


@dataclass(frozen=True)
class LeadCard:
    """One card on the board: only what the card paints."""

    id: int
    name: str
    email: str
    company: str
    stage_id: int
    position: float
    score: int
    stage_entered_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeadFilter:
    """Narrows every column of the board (and `lead list`)."""

    search: str = ""
    tag: str = ""
    owner: str = ""
    source: str = ""
    segment: Any = None  # a segments.SegmentInfo: only its members (evaluated when queried)

    @property
    def active(self) -> bool:
        return bool(self.search.strip() or self.tag or self.owner or self.source or self.segment)


@dataclass(frozen=True)
class MoveRecord:
    """Where one lead was before a move: enough to undo it exactly."""

    lead_id: int
    stage_id: int
    position: float
    stage_entered_at: datetime
    history_id: int | None


def display_name(first: str, last: str, email: str) -> str:
    name = f"{first} {last}".strip()
    return name or email


def _search_text(lead: Lead) -> str:
    return f"{lead.first_name} {lead.last_name} {lead.email} {lead.company}".lower()


def validate_lead_data(data: LeadData, existing_tags: Iterable[str] = ()) -> LeadData:
    """Normalised copy, or ValidationError naming the field. Does not touch the database."""
    cleaned: dict[str, Any] = {"email": normalize_email(data.email)}
    for name, limit in TEXT_FIELDS.items():
        cleaned[name] = clean_text(getattr(data, name), limit)
    cleaned["custom_fields"] = {
        clean_text(k, 80): clean_text(v, 2000)
        for k, v in (data.custom_fields or {}).items()
        if clean_text(k, 80)
    }
    cleaned["tags"] = tuple(tag_names(data.tags, existing_tags))
    if cleaned["timezone"]:
        _check_timezone(cleaned["timezone"])
    return LeadData(**cleaned)


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            "timezone", f"Unknown time zone {name!r} (e.g. Europe/Paris)."
        ) from exc


def _tags_by_name(session: Session, names: Iterable[str]) -> list[Tag]:
    result = []
    for name in names:
        tag = session.scalar(select(Tag).where(func.lower(Tag.name) == name.casefold()))
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
        result.append(tag)
    return result


def _ensure_unique(session: Session, email: str, exclude_id: int | None = None) -> None:
    query = select(Lead).where(Lead.email_key == email_key(email), Lead.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Lead.id != exclude_id)
    existing = session.scalar(query)
    if existing is not None:
        raise DuplicateEmailError(
            existing.email,
            existing.id,
            display_name(existing.first_name, existing.last_name, ""),
        )


def _detail(lead: Lead) -> LeadDetail:
    return LeadDetail(
        id=lead.id,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        phone=lead.phone,
        source=lead.source,
        owner=lead.owner,
        timezone=lead.timezone,
        custom_fields=dict(lead.custom_fields or {}),
        tags=tuple(sorted((t.name for t in lead.tags), key=str.casefold)),
        stage_id=lead.stage_id,
        stage_name=lead.stage.name,
        position=lead.position,
        score=lead.score,
        stage_entered_at=lead.stage_entered_at,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
    )


def _end_position(session: Session, stage_id: int) -> float:
    top = session.scalar(
        select(func.max(Lead.position)).where(Lead.stage_id == stage_id, Lead.deleted_at.is_(None))
    )
    return (top or 0.0) + 1.0


def _first_stage_id(session: Session) -> int:
    stage_id = session.scalar(select(Stage.id).order_by(Stage.position).limit(1))
    if stage_id is None:
        raise NotFoundError("The workspace has no stages.")
    return stage_id


def add_lead(
    workspace: Workspace, data: LeadData, stage_id: int | None = None, *, reason: str = "added"
) -> LeadDetail:
    clean = validate_lead_data(data, all_tags(workspace))
    now = workspace.clock.now()
    with workspace.session() as session:
        _ensure_unique(session, clean.email)
        target = stage_id if stage_id is not None else _first_stage_id(session)
        if session.get(Stage, target) is None:
            raise NotFoundError(f"No stage #{target}.")
        lead = Lead(
            email=clean.email,
            email_key=email_key(clean.email),
            **{name: getattr(clean, name) for name in TEXT_FIELDS},
            custom_fields=clean.custom_fields,
            stage_id=target,
            position=_end_position(session, target),
            stage_entered_at=now,
            score=0,
            created_at=now,
            updated_at=now,
        )
        lead.search_text = _search_text(lead)
        lead.tags = _tags_by_name(session, clean.tags)
        session.add(lead)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent writer took the address meanwhile
            raise ValidationError("email", f"A lead with {clean.email} already exists.") from exc
        session.add(
            StageHistory(
                lead_id=lead.id, from_stage_id=None, to_stage_id=target, moved_at=now, reason=reason
            )
        )
        session.flush()
        session.refresh(lead)
        detail = _detail(lead)
    workspace.events.publish(LeadsChanged((detail.id,), (detail.stage_id,), "added"))
    return detail


def get_lead(workspace: Workspace, lead_id: int) -> LeadDetail:
    with workspace.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or lead.deleted_at is not None:
            raise NotFoundError(f"No lead #{lead_id}.")
        return _detail(lead)


def find_lead(workspace: Workspace, email: str) -> LeadDetail:
    """A live lead by email address, whatever its case."""
    with workspace.session() as session:
        lead = session.scalar(
            select(Lead).where(Lead.email_key == email_key(email), Lead.deleted_at.is_(None))
        )
        if lead is None:
            raise NotFoundError(f"No lead with email {email.strip()!r}.")
        return _detail(lead)


def update_lead(
    workspace: Workspace, lead_id: int, data: LeadData
) -> tuple[LeadDetail, LeadDetail]:
    """Replace a lead's editable fields. Returns (before, after) so the edit can be undone."""
    clean = validate_lead_data(data, all_tags(workspace))
    with workspace.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or lead.deleted_at is not None:
            raise NotFoundError(f"No lead #{lead_id}.")
        before = _detail(lead)
        _ensure_unique(session, clean.email, exclude_id=lead_id)
        lead.email = clean.email
        lead.email_key = email_key(clean.email)
        for name in TEXT_FIELDS:
            setattr(lead, name, getattr(clean, name))
        lead.custom_fields = clean.custom_fields
        lead.tags = _tags_by_name(session, clean.tags)
        lead.search_text = _search_text(lead)
        lead.updated_at = workspace.clock.now()
        session.flush()
        after = _detail(lead)
    workspace.events.publish(LeadsChanged((lead_id,), (after.stage_id,), "edited"))
    return before, after


def delete_leads(workspace: Workspace, lead_ids: Sequence[int]) -> list[int]:
    """Remove leads from the board (soft: `restore_leads` undoes it). Returns the ids removed."""
    now = workspace.clock.now()
    with workspace.session() as session:
        rows = session.execute(
            select(Lead.id, Lead.stage_id).where(Lead.id.in_(lead_ids), Lead.deleted_at.is_(None))
        ).all()
        ids = [r.id for r in rows]
        session.execute(update(Lead).where(Lead.id.in_(ids)).values(deleted_at=now))
    workspace.events.publish(LeadsChanged(tuple(ids), tuple({r.stage_id for r in rows}), "deleted"))
    return ids


def restore_leads(workspace: Workspace, lead_ids: Sequence[int]) -> None:
    """Bring deleted leads back, unless a live lead has taken their address meanwhile."""
    ids = list(lead_ids)
    with workspace.session() as session:
        leads = session.execute(select(Lead.email_key, Lead.stage_id).where(Lead.id.in_(ids))).all()
        # One query for every address, not one per lead (20,000 took 9 s).
        taken = session.scalar(
            select(Lead).where(
                Lead.email_key.in_({lead.email_key for lead in leads}),
                Lead.deleted_at.is_(None),
                Lead.id.not_in(ids),
            )
        )
        if taken is not None:
            raise DuplicateEmailError(
                taken.email, taken.id, display_name(taken.first_name, taken.last_name, "")
            )
        session.execute(update(Lead).where(Lead.id.in_(ids)).values(deleted_at=None))
        stage_ids = tuple({lead.stage_id for lead in leads})
    workspace.events.publish(LeadsChanged(tuple(lead_ids), stage_ids, "restored"))


def purge_deleted(workspace: Workspace, older_than: datetime) -> int:
    """Erase leads deleted before a date (their undo window is long gone)."""
    with workspace.session() as session:
        result = session.execute(
            delete(Lead).where(Lead.deleted_at.is_not(None), Lead.deleted_at < older_than)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def move_leads(
    workspace: Workspace,
    lead_ids: Sequence[int],
    stage_id: int,
    before_lead_id: int | None = None,
    *,
    reason: str = "moved on the board",
) -> list[MoveRecord]:
    """Move leads (in the given order) into a stage, above `before_lead_id` or at the end.

    A lead moved within its own stage only changes position and leaves no history. Returns
    where each lead was, for `undo_move`.
    """
    now = workspace.clock.now()
    ids = list(dict.fromkeys(lead_ids))
    with workspace.session() as session:
        if session.get(Stage, stage_id) is None:
            raise NotFoundError(f"No stage #{stage_id}.")
        rows = {
            r.id: r
            for r in session.execute(
                select(Lead.id, Lead.stage_id, Lead.position, Lead.stage_entered_at).where(
                    Lead.id.in_(ids), Lead.deleted_at.is_(None)
                )
            )
        }
        ids = [i for i in ids if i in rows]
        positions = _positions_for_insert(session, stage_id, before_lead_id, len(ids), set(ids))
        # Set-based (one INSERT and two UPDATEs, each an executemany): moving a 20,000-card
        # column row by row kept the window frozen for 9 s, and its undo for 16 s.
        arriving = [i for i in ids if rows[i].stage_id != stage_id]
        place = dict(zip(ids, positions, strict=True))
        update_by_id(session, [{"row_id": i, "position": place[i]} for i in ids])
        update_by_id(
            session,
            [{"row_id": i, "stage_id": stage_id, "stage_entered_at": now} for i in arriving],
        )
        # The updates hold the write lock: the history rows above this id are the ones
        # inserted next, each for a different lead.
        last_id = session.scalar(select(func.max(StageHistory.id))) or 0
        if arriving:
            session.execute(
                insert(StageHistory),
                [
                    {
                        "lead_id": i,
                        "from_stage_id": rows[i].stage_id,
                        "to_stage_id": stage_id,
                        "moved_at": now,
                        "reason": clean_text(reason, 200),
                    }
                    for i in arriving
                ],
            )
        history_ids = {
            lead_id: history_id
            for history_id, lead_id in session.execute(
                select(StageHistory.id, StageHistory.lead_id).where(StageHistory.id > last_id)
            )
        }
        records = [
            MoveRecord(
                i, rows[i].stage_id, rows[i].position, rows[i].stage_entered_at, history_ids.get(i)
            )
            for i in ids
        ]
    stages = tuple({stage_id, *(r.stage_id for r in records)})
    workspace.events.publish(LeadsChanged(tuple(ids), stages, "moved"))
    return records


def undo_move(workspace: Workspace, records: Sequence[MoveRecord]) -> None:
    """Put leads back exactly where they were; the moves' history rows are taken back too."""
    with workspace.session() as session:
        ids = [rec.lead_id for rec in records]
        stages = set(session.scalars(select(Lead.stage_id).where(Lead.id.in_(ids)).distinct()))
        update_by_id(
            session,
            [
                {
                    "row_id": rec.lead_id,
                    "stage_id": rec.stage_id,
                    "position": rec.position,
                    "stage_entered_at": rec.stage_entered_at,
                }
                for rec in records
            ],
        )
        history = [rec.history_id for rec in records if rec.history_id is not None]
        if history:
            session.execute(delete(StageHistory).where(StageHistory.id.in_(history)))
        stages.update(rec.stage_id for rec in records)
    workspace.events.publish(
        LeadsChanged(tuple(r.lead_id for r in records), tuple(stages), "moved")
    )


def update_by_id(session: Session, rows: list[dict[str, Any]]) -> None:
    """Set columns of many leads in one executemany: each dict holds `row_id` (the lead)
    and the same columns with their new values."""
    if not rows:
        return
    table = cast(Table, Lead.__table__)
    columns = [c for c in rows[0] if c != "row_id"]
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({c: bindparam(c) for c in columns}),
        rows,
    )


def _positions_for_insert(
    session: Session, stage_id: int, before_id: int | None, count: int, moving: set[int]
) -> list[float]:
    """`count` increasing positions that slot in above `before_id` (or after the last card)."""
    live = and_(Lead.stage_id == stage_id, Lead.deleted_at.is_(None), Lead.id.not_in(moving))
    if before_id is None or before_id in moving:
        start = _end_position(session, stage_id)
        return [start + i for i in range(count)]
    upper = session.scalar(select(Lead.position).where(Lead.id == before_id))
    if upper is None:
        start = _end_position(session, stage_id)
        return [start + i for i in range(count)]
    lower = session.scalar(select(func.max(Lead.position)).where(live, Lead.position < upper))
    lower = upper - 1.0 if lower is None else lower
    step = (upper - lower) / (count + 1)
    if step < 1e-9:  # fractional positions exhausted here: spread the column out again
        _renumber_stage(session, stage_id)
        return _positions_for_insert(session, stage_id, before_id, count, moving)
    return [lower + step * (i + 1) for i in range(count)]


def _renumber_stage(session: Session, stage_id: int) -> None:
    ids = session.scalars(
        select(Lead.id).where(Lead.stage_id == stage_id).order_by(Lead.position, Lead.id)
    ).all()
    for i, lead_id in enumerate(ids):
        session.execute(update(Lead).where(Lead.id == lead_id).values(position=float(i + 1)))


# --- Board queries --------------------------------------------------------------------------


def _filtered(query: _Query, flt: LeadFilter | None) -> _Query:
    query = query.where(Lead.deleted_at.is_(None))
    if flt is None:
        return query
    for word in flt.search.lower().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Lead.search_text.like(f"%{escaped}%", escape="\\"))
    if flt.tag:
        query = query.where(
            exists()
            .where(lead_tags.c.lead_id == Lead.id, lead_tags.c.tag_id == Tag.id)
            .where(func.lower(Tag.name) == flt.tag.casefold())
        )
    if flt.owner:
        # (`!= ""` lets SQLite use the owner index, which holds only leads with an owner)
        query = query.where(Lead.owner == flt.owner, Lead.owner != "")
    if flt.source:
        query = query.where(Lead.source == flt.source)
    if flt.segment is not None:
        from nurturedesk.core.segments import info_clause  # segments imports this module

        query = query.where(info_clause(flt.segment))
    return query


def count_by_stage(
    workspace: Workspace, flt: LeadFilter | None = None, stage_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Live leads per stage (matching the filter); only the given stages if any are named."""
    with workspace.session() as session:
        query = _filtered(select(Lead.stage_id, func.count()), flt).group_by(Lead.stage_id)
        if stage_ids is not None:
            query = query.where(Lead.stage_id.in_(list(stage_ids)))
        return {stage_id: n for stage_id, n in session.execute(query)}


def page_cards(
    workspace: Workspace,
    stage_id: int,
    flt: LeadFilter | None = None,
    after: tuple[float, int] | None = None,
    limit: int = 50,
) -> list[LeadCard]:
    """The next `limit` cards of a column in board order, after the (position, id) given."""
    with workspace.session() as session:
        return _with_tags(session, _page_rows(session, stage_id, flt, after, limit))


@dataclass(frozen=True)
class BoardSlice:
    """What the board shows for a filter: the first cards of each stage, and the counts per
    stage (`counts` waits for the counting thread: ask for it last, after the other work
    the cards need, so that work overlaps the count)."""

    cards: dict[int, list[LeadCard]]
    counting: Future[dict[int, int]]

    @property
    def counts(self) -> dict[int, int]:
        return self.counting.result()


def load_board(
    workspace: Workspace,
    flt: LeadFilter | None,
    rows: dict[int, int],
    count_all: bool = True,
) -> BoardSlice:
    """Counts and first pages for the stages in `rows` (stage id -> how many cards).

    Counting a search reads every lead, and so does the page of a stage with few matches (it
    looks for more to the end). So the count runs on a worker thread with its own connection
    (SQLite lets go of the GIL while it scans) while this one reads the pages; pages read
    after the counts are in skip stages with no match and stop at the last one."""
    stage_ids = None if count_all else list(rows)
    counting = _count_aside(workspace, flt, stage_ids)
    pages: dict[int, list[Any]] = {}
    try:
        with workspace.session() as session:
            for stage_id, limit in rows.items():
                if counting.done():
                    limit = min(limit, counting.result().get(stage_id, 0))
                if limit > 0:
                    pages[stage_id] = _page_rows(session, stage_id, flt, None, limit)
            flat = _with_tags(session, [r for page in pages.values() for r in page])
    except BaseException:
        wait([counting])  # no read left running on a workspace the caller may close next
        raise
    by_id = {card.id: card for card in flat}
    cards = {stage_id: [by_id[r.id] for r in page] for stage_id, page in pages.items() if page}
    return BoardSlice(cards, counting)


_counter: ThreadPoolExecutor | None = None


def _count_aside(
    workspace: Workspace, flt: LeadFilter | None, stage_ids: list[int] | None
) -> Future[dict[int, int]]:
    """`count_by_stage` on the board's counting thread (or here, done, for a database that
    another thread's connection would not see: SQLAlchemy pools in-memory SQLite per thread or
    as one shared connection)."""
    global _counter
    if isinstance(workspace.engine.pool, (SingletonThreadPool, StaticPool)):
        done: Future[dict[int, int]] = Future()
        done.set_result(count_by_stage(workspace, flt, stage_ids))
        return done
    if _counter is None:
        _counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board-count")
    return _counter.submit(count_by_stage, workspace, flt, stage_ids)


def card_query(stage_id: int, flt: LeadFilter | None) -> Select:  # type: ignore[type-arg]
    """The columns a card shows, for one stage's live leads matching the filter (unordered:
    the board pages it by position, the score sort by score)."""
    return _filtered(
        select(
            Lead.id,
            Lead.first_name,
            Lead.last_name,
            Lead.email,
            Lead.company,
            Lead.stage_id,
            Lead.position,
            Lead.score,
            Lead.stage_entered_at,
        ),
        flt,
    ).where(Lead.stage_id == stage_id)


def _page_rows(
    session: Session,
    stage_id: int,
    flt: LeadFilter | None,
    after: tuple[float, int] | None,
    limit: int,
) -> list[Any]:
    query = card_query(stage_id, flt)
    if after is not None:
        pos, lead_id = after
        query = query.where(or_(Lead.position > pos, and_(Lead.position == pos, Lead.id > lead_id)))
    return list(session.execute(query.order_by(Lead.position, Lead.id).limit(limit)).all())


def _with_tags(session: Session, rows: list[Any]) -> list[LeadCard]:
    tags = _tags_for(session, [r.id for r in rows])
    return [
        LeadCard(
            id=r.id,
            name=display_name(r.first_name, r.last_name, r.email),
            email=r.email,
            company=r.company,
            stage_id=r.stage_id,
            position=r.position,
            score=r.score,
            stage_entered_at=r.stage_entered_at,
            tags=tags.get(r.id, ()),
        )
        for r in rows
    ]


def cards_by_id(workspace: Workspace, lead_ids: Sequence[int]) -> dict[int, LeadCard]:
    """Fresh cards for the given live leads (used to repaint edited cards in place)."""
    with workspace.session() as session:
        leads = session.scalars(
            select(Lead).where(Lead.id.in_(lead_ids), Lead.deleted_at.is_(None))
        ).all()
        return {
            lead.id: LeadCard(
                id=lead.id,
                name=display_name(lead.first_name, lead.last_name, lead.email),
                email=lead.email,
                company=lead.company,
                stage_id=lead.stage_id,
                position=lead.position,
                score=lead.score,
                stage_entered_at=lead.stage_entered_at,
                tags=tuple(sorted((t.name for t in lead.tags), key=str.casefold)),
            )
            for lead in leads
        }


def _tags_for(session: Session, lead_ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not lead_ids:
        return {}
    result: dict[int, list[str]] = {}
    query = (
        select(lead_tags.c.lead_id, Tag.name)
        .join(Tag, Tag.id == lead_tags.c.tag_id)
        .where(lead_tags.c.lead_id.in_(lead_ids))
        .order_by(Tag.name)
    )
    for lead_id, name in session.execute(query):
        result.setdefault(lead_id, []).append(name)
    return {k: tuple(v) for k, v in result.items()}


def list_leads(
    workspace: Workspace, flt: LeadFilter | None = None, stage_id: int | None = None
) -> list[LeadDetail]:
    """Every matching lead, in board order (for the CLI and exports)."""
    with workspace.session() as session:
        query = _filtered(select(Lead), flt).join(Stage, Stage.id == Lead.stage_id)
        if stage_id is not None:
            query = query.where(Lead.stage_id == stage_id)
        query = query.order_by(Stage.position, Lead.position, Lead.id)
        return [_detail(lead) for lead in session.scalars(query)]


def distinct_values(workspace: Workspace, column: str) -> list[str]:
    """Owners or sources in use (for the board's filter menus)."""
    col = {"owner": Lead.owner, "source": Lead.source}[column]
    with workspace.session() as session:
        query = select(col).where(Lead.deleted_at.is_(None), col != "").distinct().order_by(col)
        return list(session.scalars(query))


def all_tags(workspace: Workspace) -> list[str]:
    with workspace.session() as session:
        return list(session.scalars(select(Tag.name).order_by(func.lower(Tag.name))))


def tags_of(workspace: Workspace, lead_ids: Sequence[int]) -> list[str]:
    """The tags at least one of these leads has: what removing a tag from them can offer."""
    with workspace.session() as session:
        query = (
            select(Tag.name)
            .join(lead_tags, lead_tags.c.tag_id == Tag.id)
            .where(lead_tags.c.lead_id.in_(list(lead_ids)))
            .distinct()
            .order_by(func.lower(Tag.name))
        )
        return list(session.scalars(query))


def find_tag(workspace: Workspace, name: str) -> str:
    """A tag by name, case-insensitively, for filters: the error lists the tags there are."""
    tags = all_tags(workspace)
    for tag in tags:
        if tag.casefold() == name.strip().casefold():
            return tag
    raise no_such("tag", name, tags)


def with_changes(data: LeadData, **changes: Any) -> LeadData:
    return replace(data, **changes)
