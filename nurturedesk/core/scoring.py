"""Scores: the sum of each interaction's points after caps and decay, explainable to the point.

Arithmetic (the same in the per-lead ledger, in Python, and in the set-based re-score, in SQL):

- an interaction of type T is worth `points[T]`;
- if T has a cap (C points per P days), interactions of T are counted in time order within
  fixed P-day periods; each counts `min(|points|, C - already counted)` (never below 0), so
  the n-th one in a period counts `max(0, min(|p|, C - (n-1)|p|))` with the sign of p;
- decay: at age d whole UTC days, the counted points are multiplied by 0.5 ** (d / half-life)
  (no decay when the half-life is off);
- each interaction's contribution is rounded half away from zero to a whole point, and the
  score is the sum of the contributions. So the ledger adds up exactly to the score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, text
from sqlalchemy.orm import Session

from nurturedesk.core import leads as leads_core
from nurturedesk.core import release
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError
from nurturedesk.core.events import LeadsChanged, SettingsChanged
from nurturedesk.core.leads import LeadCard, LeadFilter
from nurturedesk.core.models import Interaction, Lead, Setting
from nurturedesk.core.scoring_rules import (
    INTERACTION_TYPES,
    RULES_KEY,
    ScoringRules,
    rules_in,
    save_rules_in,
    validate_rules,
)

log = logging.getLogger(__name__)

LAST_DECAY_KEY = "scoring_last_decay_day"


def day_number(when: datetime | date) -> int:
    """The UTC calendar day of a timestamp (or a date) as an integer (its date ordinal)."""
    return when.toordinal()


def round_points(value: float) -> int:
    """Round half away from zero, exactly as SQLite's round(x) does (so SQL and Python agree)."""
    if value < 0:
        return -int(-value + 0.5)
    return int(value + 0.5)


def decay_factor(age_days: int, half_life_days: float | None) -> float:
    if half_life_days is None or age_days <= 0:
        return 1.0
    return float(0.5 ** (age_days / half_life_days))


@dataclass(frozen=True)
class LedgerEntry:
    interaction_id: int
    type: str
    label: str
    occurred_at: datetime
    note: str
    points: int  # what the rules give this type
    counted: int  # after the cap
    age_days: int
    factor: float  # decay multiplier
    contribution: int  # what it adds to the score now
    why: str  # the same in words


@dataclass(frozen=True)
class Ledger:
    lead_id: int
    score: int
    as_of: date
    entries: tuple[LedgerEntry, ...]

    @property
    def total(self) -> int:
        return sum(e.contribution for e in self.entries)


@dataclass(frozen=True)
class InteractionRow:
    id: int
    type: str
    occurred_at: datetime
    day: int
    note: str


def compute_ledger(
    rows: Sequence[InteractionRow], rules: ScoringRules, today: int
) -> list[LedgerEntry]:
    """Each interaction's contribution on day `today`; rows in time order (occurred_at, id)."""
    used: dict[tuple[str, int], int] = {}
    entries = []
    hl = rules.half_life_days
    for row in sorted(rows, key=lambda r: (r.occurred_at, r.id)):
        points = rules.points_for(row.type)
        counted = points
        notes = []
        cap = rules.caps.get(row.type)
        if cap is not None and points:
            key = (row.type, row.day // cap.days)
            already = used.get(key, 0)
            sign = -1 if points < 0 else 1
            counted = sign * max(0, min(abs(points), cap.points - already))
            used[key] = already + abs(points)
            if counted != points:
                notes.append(f"capped at {cap.points} per {cap.days} days")
        age = max(0, today - row.day)
        factor = decay_factor(age, hl)
        contribution = round_points(counted * factor)
        if factor != 1.0 and counted:
            notes.append(f"{age} days old, worth {factor * 100:.3g}% (half-life {hl:g} days)")
        why = f"{points:+d} for {INTERACTION_TYPES.get(row.type, row.type).lower()}"
        if notes:
            why += ", " + ", ".join(notes)
        entries.append(
            LedgerEntry(
                interaction_id=row.id,
                type=row.type,
                label=INTERACTION_TYPES.get(row.type, row.type),
                occurred_at=row.occurred_at,
                note=row.note,
                points=points,
                counted=counted,
                age_days=age,
                factor=factor,
                contribution=contribution,
                why=why,
            )
        )
    return entries


def _rows_for(session: Session, lead_id: int) -> list[InteractionRow]:
    query = (
        select(
            Interaction.id,
            Interaction.type,
            Interaction.occurred_at,
            Interaction.day,
            Interaction.note,
        )
        .where(Interaction.lead_id == lead_id)
        .order_by(Interaction.occurred_at, Interaction.id)
    )
    return [InteractionRow(*r) for r in session.execute(query)]


def score_leads_in(
    session: Session, lead_ids: Sequence[int], rules: ScoringRules, now: datetime
) -> dict[int, int]:
    """Recompute and store the scores of a few leads (Python ledger). Returns {id: score}."""
    today = day_number(now)
    scores = {}
    for lead_id in dict.fromkeys(lead_ids):
        total = sum(
            e.contribution for e in compute_ledger(_rows_for(session, lead_id), rules, today)
        )
        session.execute(
            text("UPDATE leads SET score = :s WHERE id = :id AND score != :s"),
            {"s": total, "id": lead_id},
        )
        scores[lead_id] = total
    return scores


def explain(workspace: Workspace, lead_id: int) -> Ledger:
    """The lead's ledger as of now. The stored score is brought up to date in the same unit
    of work (and a release fires if that crosses the threshold), so the score shown next to
    the ledger is always the ledger's sum."""
    now = workspace.clock.now()
    with workspace.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise NotFoundError(f"No lead #{lead_id}.")
        rules = rules_in(session)
        entries = compute_ledger(_rows_for(session, lead_id), rules, day_number(now))
        total = sum(e.contribution for e in entries)
        changed = lead.score != total
        if changed:
            session.execute(
                text("UPDATE leads SET score = :s WHERE id = :id"), {"s": total, "id": lead_id}
            )
            fired = release.check_in(session, rules, now, [lead_id])
        else:
            fired = []
    if changed:
        release.publish(workspace, fired, [lead_id], "scored")
    return Ledger(lead_id, total, now.date(), tuple(entries))


# --- Re-scoring every lead, set-based ---------------------------------------------------------

_TEMP_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS score_contrib "
    "(type TEXT, day INTEGER, value INTEGER, PRIMARY KEY (type, day)) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS score_caps "
    "(type TEXT PRIMARY KEY, points INTEGER, cap INTEGER, period INTEGER)",
    "CREATE TEMP TABLE IF NOT EXISTS score_factor (day INTEGER PRIMARY KEY, factor REAL)",
    "CREATE TEMP TABLE IF NOT EXISTS score_new (lead_id INTEGER PRIMARY KEY, score INTEGER)",
)

# Uncapped types: an index-ordered scan, grouped as it streams (no sort of 1M rows).
_AGGREGATE_UNCAPPED = """
INSERT INTO temp.score_new (lead_id, score)
SELECT i.lead_id, SUM(c.value)
FROM interactions AS i
JOIN temp.score_contrib AS c ON c.type = i.type AND c.day = i.day
GROUP BY i.lead_id
"""

# Capped types: the n-th interaction of a type in a period counts what is left of the cap.
# Rows are ranked by day only (the covering index has no time of day): within one day every
# interaction has the same decay factor, so which of them gets which rank does not change the
# sum; the ledger, which orders by time, adds up to the same score. ("WHERE true" lets SQLite
# parse the upsert after a join.)
_AGGREGATE_CAPPED = """
INSERT INTO temp.score_new (lead_id, score)
SELECT x.lead_id, CAST(SUM(round(x.counted * f.factor)) AS INTEGER)
FROM (
    SELECT i.lead_id AS lead_id, i.day AS day,
        (CASE WHEN k.points < 0 THEN -1 ELSE 1 END) * MAX(0, MIN(ABS(k.points),
            k.cap - (ROW_NUMBER() OVER (
                PARTITION BY i.lead_id, i.type, i.day / k.period
                ORDER BY i.day) - 1) * ABS(k.points))) AS counted
    FROM interactions AS i
    JOIN temp.score_caps AS k ON k.type = i.type
) AS x
JOIN temp.score_factor AS f ON f.day = x.day
WHERE true
GROUP BY x.lead_id
ON CONFLICT (lead_id) DO UPDATE SET score = score + excluded.score
"""


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _rescore_all_in(session: Session, rules: ScoringRules, now: datetime) -> int:
    """Recompute every lead's score in a few SQL statements. Returns how many changed."""
    today = day_number(now)
    for statement in _TEMP_TABLES:
        session.execute(text(statement))
    for table in ("score_contrib", "score_caps", "score_factor", "score_new"):
        session.execute(text(f"DELETE FROM temp.{table}"))
    lo, hi = session.execute(text("SELECT MIN(day), MAX(day) FROM interactions")).one()
    if lo is not None:
        days = range(lo, max(hi, today) + 1)
        factors = {d: decay_factor(today - d, rules.half_life_days) for d in days}
        session.execute(
            text("INSERT INTO temp.score_factor (day, factor) VALUES (:day, :factor)"),
            [{"day": d, "factor": f} for d, f in factors.items()],
        )
        # Uncapped types: an interaction's contribution depends only on (type, day), so it is
        # computed once per pair here and the 1M-row pass is a join and a sum.
        contrib = [
            {"type": t, "day": d, "value": round_points(p * f)}
            for t, p in rules.points.items()
            if p and t not in rules.caps
            for d, f in factors.items()
        ]
        if contrib:
            session.execute(
                text(
                    "INSERT INTO temp.score_contrib (type, day, value) VALUES (:type, :day, :value)"
                ),
                contrib,
            )
        caps = [
            {"type": t, "points": rules.points_for(t), "cap": c.points, "period": c.days}
            for t, c in rules.caps.items()
            if rules.points_for(t)
        ]
        if caps:
            session.execute(
                text(
                    "INSERT INTO temp.score_caps (type, points, cap, period) "
                    "VALUES (:type, :points, :cap, :period)"
                ),
                caps,
            )
        if contrib:
            session.execute(text(_AGGREGATE_UNCAPPED))
        if caps:
            session.execute(text(_AGGREGATE_CAPPED))
    changed = _rowcount(
        session.execute(
            text(
                "UPDATE leads SET score = n.score FROM temp.score_new AS n "
                "WHERE n.lead_id = leads.id AND leads.score != n.score"
            )
        )
    )
    changed += _rowcount(
        session.execute(
            text(
                "UPDATE leads SET score = 0 WHERE score != 0 "
                "AND id NOT IN (SELECT lead_id FROM temp.score_new)"
            )
        )
    )
    session.execute(text("DELETE FROM temp.score_new"))
    session.merge(Setting(key=LAST_DECAY_KEY, value=today))
    return changed


@dataclass(frozen=True)
class RescoreResult:
    changed: int
    released: tuple[int, ...]


def rescore_all(workspace: Workspace, *, reason: str = "rescored") -> RescoreResult:
    now = workspace.clock.now()
    with workspace.session() as session:
        rules = rules_in(session)
        changed = _rescore_all_in(session, rules, now)
        fired = release.check_in(session, rules, now, None)
    release.publish(workspace, fired, [], reason)
    return RescoreResult(changed, tuple(f.lead_id for f in fired))


def get_rules(workspace: Workspace) -> ScoringRules:
    with workspace.session() as session:
        return rules_in(session)


@dataclass(frozen=True)
class RulesChange:
    """A rule change and what it did; `restore_rules(ws, change.before)` undoes it."""

    before: ScoringRules
    after: ScoringRules
    changed: int  # leads whose score changed
    released: tuple[int, ...]


UNDO_KEY = "scoring_rules_undo"
UNDO_DEPTH = 20


def set_rules(workspace: Workspace, rules: ScoringRules, *, remember: bool = True) -> RulesChange:
    """Store new rules, re-grade and re-score every lead in one unit of work.

    The rules replaced are remembered (the last 20) so `undo_rules` can bring them back from
    any process (the command line's `scoring undo`); the GUI keeps `before` on its undo stack.
    """
    from nurturedesk.core import qualification  # it imports this module

    rules = validate_rules(rules)
    now = workspace.clock.now()
    with workspace.session() as session:
        before = rules_in(session)
        if remember:
            row = session.get(Setting, UNDO_KEY)
            stack = list(row.value) if row is not None else []
            stack = [*stack, before.to_json()][-UNDO_DEPTH:]
            session.merge(Setting(key=UNDO_KEY, value=stack))
        save_rules_in(session, rules)
        if before.questions != rules.questions or before.grade_bounds != rules.grade_bounds:
            qualification.regrade_all_in(session, rules)
        changed = _rescore_all_in(session, rules, now)
        fired = release.check_in(session, rules, now, None)
    workspace.events.publish(SettingsChanged(keys=(RULES_KEY,)))
    release.publish(workspace, fired, [], "rules changed")
    return RulesChange(before, rules, changed, tuple(f.lead_id for f in fired))


def restore_rules(workspace: Workspace, rules: ScoringRules) -> RulesChange:
    """Undo a rule change: the previous rules back, every lead re-scored under them."""
    return set_rules(workspace, rules, remember=False)


def undo_rules(workspace: Workspace) -> RulesChange:
    """Bring back the rules in force before the last change (and re-score under them)."""
    with workspace.session() as session:
        row = session.get(Setting, UNDO_KEY)
        stack = list(row.value) if row is not None else []
        if not stack:
            raise UserError("There is no scoring rule change to undo.")
        previous = ScoringRules.from_json(stack.pop())
        session.merge(Setting(key=UNDO_KEY, value=stack))
    return restore_rules(workspace, previous)


def decay_tick(workspace: Workspace) -> bool:
    """Nightly decay: re-score everything once per UTC day. True if it ran."""
    today = day_number(workspace.clock.now())
    with workspace.session() as session:
        row = session.get(Setting, LAST_DECAY_KEY)
        if row is not None and int(row.value) >= today:
            return False
    result = rescore_all(workspace, reason="decay")
    log.info("daily decay: %d scores changed, %d released", result.changed, len(result.released))
    return True


def notify_leads_changed(workspace: Workspace, lead_ids: Sequence[int], reason: str) -> None:
    workspace.events.publish(LeadsChanged(tuple(lead_ids), (), reason))


# --- The board sorted by score ------------------------------------------------------------------


def page_cards_by_score(
    workspace: Workspace,
    stage_id: int,
    flt: LeadFilter | None = None,
    after: tuple[int, int] | None = None,
    limit: int = 50,
) -> list[LeadCard]:
    """A column's cards by score, highest first, after the (score, id) given (keyset paging,
    so a column of 100,000 leads pages as fast as one of 100)."""
    with workspace.session() as session:
        query = leads_core.card_query(stage_id, flt)
        if after is not None:
            score, lead_id = after
            query = query.where(
                or_(Lead.score < score, and_(Lead.score == score, Lead.id > lead_id))
            )
        rows = session.execute(query.order_by(Lead.score.desc(), Lead.id).limit(limit)).all()
        return leads_core._with_tags(session, list(rows))
