"""Saved segments: named filters over lead fields, tags, stage, score, source, dates, ...

A segment stores its rules, never its members: membership is evaluated each time it is
used (board filter, export, enrolment target, newsletter audience). Rules are plain JSON:

    {"match": "all" | "any", "conditions": [{"field": "score", "op": ">=", "value": "50"}, ...]}

Grade (scoring's fit grade, `grade = A,B`) and last interaction (`last_interaction < DATE`,
`> DATE`, `within N`, `= never`) read scoring's tables. Other capabilities can add fields
with `register_condition(field, builder)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from nurturedesk.core.clock import utcnow
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, ValidationError, no_such
from nurturedesk.core.leads import TEXT_FIELDS
from nurturedesk.core.models import Lead, Newsletter, Segment, Stage, Tag, lead_tags
from nurturedesk.core.stages import find_stage
from nurturedesk.core.validation import clean_text

TEXT_OPS = ("=", "!=", "~", "!~", "^")  # is, is not, contains, does not contain, starts with
NUMBER_OPS = ("=", "!=", ">", ">=", "<", "<=")
DATE_OPS = ("<", ">", "within")  # before, after, within the last N days
# `within N` days: a hundred years is more than any lead's history, and stays far from
# the dates Python and SQLite can hold (a bigger N used to end in an OverflowError).
MAX_DAYS = 36_500
_CONDITION = re.compile(
    r'^\s*(custom\."[^"]+"|[A-Za-z_][\w.:-]*)\s*(>=|<=|!=|!~|=|~|\^|>|<|within)\s*(.*?)\s*$'
)

# field -> builder(op, value, now) -> SQL condition on Lead. Other capabilities register here.
ConditionBuilder = Callable[[str, str, datetime], ColumnElement[bool]]
_EXTENSIONS: dict[str, ConditionBuilder] = {}


def register_condition(field: str, builder: ConditionBuilder) -> None:
    """Let another capability add a segment field (e.g. scoring adds "grade")."""
    _EXTENSIONS[field] = builder


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str = ""

    def __str__(self) -> str:
        field = self.field
        if field.startswith("custom.") and not re.fullmatch(r"[\w.:-]+", field[7:]):
            field = f'custom."{field[7:]}"'
        return f"{field} {self.op} {self.value}".strip()


@dataclass(frozen=True)
class SegmentInfo:
    id: int
    name: str
    match: str
    conditions: tuple[Condition, ...]

    @property
    def description(self) -> str:
        joiner = " and " if self.match == "all" else " or "
        return joiner.join(str(c) for c in self.conditions) or "every lead"


def parse_condition(text: str) -> Condition:
    """'score >= 50', 'tag = webinar', 'stage != Won', 'company ~ acme', 'created within 30'."""
    m = _CONDITION.match(text)
    if not m:
        raise ValidationError(
            "conditions",
            f"Cannot read the condition {text!r}; write it as FIELD OP VALUE, e.g. 'score >= 50'.",
        )
    field = m.group(1)
    if field.startswith('custom."'):  # custom."Booth notes": a name with spaces
        field = "custom." + field[len('custom."') : -1]
    condition = Condition(field, m.group(2), m.group(3))
    check_condition(condition)
    return condition


def check_condition(c: Condition) -> None:
    field, op = c.field, c.op
    # "tag = " would save silently and match nobody; "company = " (no company) is a question.
    texts = field.startswith("custom.") or field in TEXT_FIELDS or field == "email"
    if not c.value.strip() and not texts:
        raise ValidationError(
            "conditions", f"Give a value to compare {field!r} with, e.g. '{field} {op} ...'."
        )
    if field.startswith("custom."):
        name = field[len("custom.") :]
        if not name or '"' in name:
            raise ValidationError("conditions", f"{field!r} is not a custom field name.")
        ok = op in TEXT_OPS
    elif field in TEXT_FIELDS or field == "email":
        ok = op in TEXT_OPS
    elif field in ("stage", "tag"):
        ok = op in ("=", "!=")
    elif field == "score":
        ok = op in NUMBER_OPS
        if ok:
            _number(c.value)
    elif field in ("created", "stage_entered"):
        ok = op in DATE_OPS
        if ok:
            _date_bound(op, c.value, datetime(2000, 1, 1))
    elif field == "grade":
        ok = op in ("=", "!=")
        if ok and not _grades(c.value):
            raise ValidationError("conditions", "Write grades as letters A-D, e.g. 'grade = A,B'.")
    elif field == "last_interaction":
        ok = op in DATE_OPS or (op == "=" and c.value.strip().casefold() == "never")
        if op in DATE_OPS:
            _date_bound(op, c.value, datetime(2000, 1, 1))
    elif field in _EXTENSIONS:
        ok = True
    else:
        raise ValidationError("conditions", f"Unknown field {field!r} in a segment condition.")
    if not ok:
        raise ValidationError("conditions", f"The operator {op!r} does not apply to {field!r}.")


def _grades(value: str) -> list[str]:
    letters = [g.strip().upper() for g in value.split(",") if g.strip()]
    return letters if letters and all(g in ("A", "B", "C", "D") for g in letters) else []


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise ValidationError("conditions", f"{value!r} is not a number.") from exc


def _date_bound(op: str, value: str, now: datetime) -> datetime:
    if op == "within":
        return now - timedelta(days=_days(value))
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            "conditions", f"{value!r} is not a date (write it as 2026-03-01)."
        ) from exc


def _days(value: str) -> float:
    """N of `within N` (also "N d", "N days", "1.5"): days from 0 to MAX_DAYS."""
    text = value.removesuffix("days").removesuffix("d").strip()
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not 0 <= days <= MAX_DAYS:  # (also NaN)
        raise ValidationError(
            "conditions", f"Write the days as a number from 0 to {MAX_DAYS}, not {value.strip()!r}."
        )
    return days


def check_names(workspace: Workspace, conditions: list[Condition]) -> None:
    """Conditions that name a stage must name one that exists: a typo would otherwise be
    saved and match nobody. (Tags are not checked: a segment may wait for a tag an import
    brings later.) The error lists the stages there are."""
    for c in conditions:
        if c.field == "stage":
            find_stage(workspace, c.value)


def _text_condition(column: Any, op: str, value: str) -> ColumnElement[bool]:
    lowered = func.lower(func.coalesce(column, ""))
    needle = value.casefold()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == "=":
        return lowered == needle
    if op == "!=":
        return lowered != needle
    if op == "~":
        return lowered.like(f"%{escaped}%", escape="\\")
    if op == "!~":
        return not_(lowered.like(f"%{escaped}%", escape="\\"))
    return lowered.like(f"{escaped}%", escape="\\")  # "^"


def condition_clause(c: Condition, now: datetime) -> ColumnElement[bool]:
    check_condition(c)
    field, op, value = c.field, c.op, c.value
    if field in _EXTENSIONS:
        return _EXTENSIONS[field](op, value, now)
    if field.startswith("custom."):
        name = field[len("custom.") :]
        return _text_condition(func.json_extract(Lead.custom_fields, f'$."{name}"'), op, value)
    if field in TEXT_FIELDS or field == "email":
        return _text_condition(getattr(Lead, field), op, value)
    if field == "stage":
        in_stage = Lead.stage_id.in_(
            select(Stage.id).where(func.lower(Stage.name) == value.casefold())
        )
        return in_stage if op == "=" else not_(in_stage)
    if field == "tag":
        has = exists().where(
            lead_tags.c.lead_id == Lead.id,
            lead_tags.c.tag_id == Tag.id,
            func.lower(Tag.name) == value.casefold(),
        )
        return has if op == "=" else not_(has)
    if field == "grade":
        from nurturedesk.core.models import LeadScoring

        graded = exists().where(
            LeadScoring.lead_id == Lead.id, func.upper(LeadScoring.grade).in_(_grades(value))
        )
        return graded if op == "=" else not_(graded)
    if field == "last_interaction":
        from nurturedesk.core.models import Interaction

        if op == "=":  # never
            return not_(exists().where(Interaction.lead_id == Lead.id))
        last = (
            select(func.max(Interaction.occurred_at))
            .where(Interaction.lead_id == Lead.id)
            .scalar_subquery()
        )
        bound = _date_bound(op, value, now)
        # "Quiet since a date" includes leads never heard from.
        return or_(last.is_(None), last < bound) if op == "<" else last >= bound
    if field == "score":
        number = _number(value)
        return {
            "=": Lead.score == number,
            "!=": Lead.score != number,
            ">": Lead.score > number,
            ">=": Lead.score >= number,
            "<": Lead.score < number,
            "<=": Lead.score <= number,
        }[op]
    column = Lead.created_at if field == "created" else Lead.stage_entered_at
    bound = _date_bound(op, value, now)
    return column < bound if op == "<" else column >= bound


def rules_clause(rules: dict[str, Any], now: datetime) -> ColumnElement[bool]:
    conditions = [Condition(**c) for c in rules.get("conditions", [])]
    parts = [condition_clause(c, now) for c in conditions]
    if not parts:
        return true()
    if rules.get("match", "all") == "any":
        return or_(false(), *parts)
    return and_(true(), *parts)


def _rules(match: str, conditions: list[Condition]) -> dict[str, Any]:
    if match not in ("all", "any"):
        raise ValidationError("match", "A segment matches 'all' or 'any' of its conditions.")
    for c in conditions:
        check_condition(c)
    return {
        "match": match,
        "conditions": [{"field": c.field, "op": c.op, "value": c.value} for c in conditions],
    }


def _info(segment: Segment) -> SegmentInfo:
    rules = segment.rules or {}
    return SegmentInfo(
        segment.id,
        segment.name,
        rules.get("match", "all"),
        tuple(Condition(**c) for c in rules.get("conditions", [])),
    )


def save_segment(
    workspace: Workspace,
    name: str,
    conditions: list[Condition],
    match: str = "all",
    renaming: str | None = None,
) -> SegmentInfo:
    """Create a segment, or replace the rules of the one with that name; with `renaming`,
    the segment of that name takes `name` (and the newsletters sent to it follow)."""
    clean = clean_text(name, 80)
    if not clean:
        raise ValidationError("name", "A segment needs a name.")
    rules = _rules(match, conditions)
    check_names(workspace, conditions)
    now = workspace.clock.now()
    with workspace.session() as session:
        segment = session.scalar(
            select(Segment).where(func.lower(Segment.name) == (renaming or clean).casefold())
        )
        if segment is None and renaming:
            raise NotFoundError(f"No segment named {renaming!r}: was it deleted meanwhile?")
        if segment is None:
            segment = Segment(name=clean, rules=rules, created_at=now, updated_at=now)
            session.add(segment)
        else:
            if segment.name != clean:
                taken = session.scalar(
                    select(Segment.id).where(
                        func.lower(Segment.name) == clean.casefold(), Segment.id != segment.id
                    )
                )
                if taken is not None:
                    raise ValidationError("name", f"A segment named {clean!r} already exists.")
                # Newsletters name their segment (models.Newsletter.segment).
                session.execute(
                    update(Newsletter)
                    .where(func.lower(Newsletter.segment) == segment.name.casefold())
                    .values(segment=clean)
                )
                segment.name = clean
            segment.rules = rules
            segment.updated_at = now
        try:
            session.flush()
        except IntegrityError as exc:
            raise ValidationError("name", f"A segment named {clean!r} already exists.") from exc
        return _info(segment)


def list_segments(workspace: Workspace) -> list[SegmentInfo]:
    with workspace.session() as session:
        return [
            _info(s) for s in session.scalars(select(Segment).order_by(func.lower(Segment.name)))
        ]


def get_segment(workspace: Workspace, name: str) -> SegmentInfo:
    with workspace.session() as session:
        segment = session.scalar(
            select(Segment).where(func.lower(Segment.name) == name.strip().casefold())
        )
        if segment is None:
            names = session.scalars(select(Segment.name).order_by(func.lower(Segment.name)))
            raise no_such("segment", name, names)
        return _info(segment)


def delete_segment(workspace: Workspace, name: str) -> SegmentInfo:
    """Remove a segment; returns it so the deletion can be undone with `save_segment`."""
    info = get_segment(workspace, name)
    with workspace.session() as session:
        segment = session.get(Segment, info.id)
        if segment is not None:
            session.delete(segment)
    return info


def segment_clause(workspace: Workspace, name: str) -> ColumnElement[bool]:
    """The SQL condition for a segment's members (for queries over `Lead`)."""
    return info_clause(get_segment(workspace, name), workspace.clock.now())


def info_clause(info: SegmentInfo, now: datetime | None = None) -> ColumnElement[bool]:
    """The condition for a segment already loaded (the board's filter holds a SegmentInfo)."""
    return rules_clause(_rules(info.match, list(info.conditions)), now or utcnow())


def segment_lead_ids(workspace: Workspace, name: str) -> list[int]:
    """The live leads in a segment right now (enrolment targets, audiences)."""
    clause = segment_clause(workspace, name)
    with workspace.session() as session:
        return list(
            session.scalars(
                select(Lead.id).where(Lead.deleted_at.is_(None), clause).order_by(Lead.id)
            )
        )


def lead_ids_for(workspace: Workspace, info: SegmentInfo) -> list[int]:
    """The live leads matching rules not saved yet (the segment editor's live count, which
    so refuses what `save_segment` would)."""
    check_names(workspace, list(info.conditions))
    clause = info_clause(info, workspace.clock.now())
    with workspace.session() as session:
        return list(
            session.scalars(
                select(Lead.id).where(Lead.deleted_at.is_(None), clause).order_by(Lead.id)
            )
        )


def count_segment(workspace: Workspace, name: str) -> int:
    clause = segment_clause(workspace, name)
    with workspace.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Lead).where(Lead.deleted_at.is_(None), clause)
            )
            or 0
        )
