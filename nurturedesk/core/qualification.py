"""Qualification (fit): answers to the configured questions give fit points and a grade A-D.

A lead with no answers has no grade (""). Answering re-grades the lead and applies the
release rule (a minimum grade may be what was holding a high-scoring lead back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nurturedesk.core import release
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, ValidationError
from nurturedesk.core.models import Lead, LeadScoring, QualificationAnswer
from nurturedesk.core.scoring_rules import ScoringRules, rules_in


@dataclass(frozen=True)
class Fit:
    lead_id: int
    answers: dict[str, str]
    fit_points: int
    grade: str


def _normalize_answer(rules: ScoringRules, question: str, answer: str) -> tuple[str, str]:
    key = question.strip().lower().replace("-", "_").replace(" ", "_")
    q = rules.question(key)
    if q is None:
        keys = ", ".join(q.key for q in rules.questions)
        raise ValidationError("question", f"Unknown question {question!r}. Questions: {keys}.")
    wanted = answer.strip().lower()
    if wanted in ("", "none") and "none" not in q.options:
        return key, ""  # clears the answer
    for option in q.options:
        if option.lower() == wanted:
            return key, option
    raise ValidationError(
        "answer", f"{q.label}: {answer!r} is not an answer. Answers: {', '.join(q.options)}."
    )


def _grade_in(
    session: Session, rules: ScoringRules, lead_id: int
) -> tuple[dict[str, str], int, str]:
    answers = {
        a.question: a.answer
        for a in session.scalars(
            select(QualificationAnswer).where(QualificationAnswer.lead_id == lead_id)
        )
    }
    # Answers to questions since removed are kept but no longer count (nor grade the lead).
    current = {k: v for k, v in answers.items() if rules.question(k) is not None}
    points = 0
    for key, value in current.items():
        q = rules.question(key)
        assert q is not None
        points += q.options.get(value, 0)
    grade = rules.grade_for(points, answered=bool(current))
    session.execute(
        sqlite_insert(LeadScoring)
        .values(lead_id=lead_id, fit_points=points, grade=grade)
        .on_conflict_do_update(
            index_elements=["lead_id"], set_={"fit_points": points, "grade": grade}
        )
    )
    return answers, points, grade


def qualify(workspace: Workspace, lead_id: int, answers: Mapping[str, str]) -> Fit:
    """Record answers (an empty answer clears one), re-grade, and apply the release rule."""
    now = workspace.clock.now()
    with workspace.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or lead.deleted_at is not None:
            raise NotFoundError(f"No lead #{lead_id}.")
        rules = rules_in(session)
        for question, answer in answers.items():
            key, value = _normalize_answer(rules, question, answer)
            if not value:
                session.execute(
                    delete(QualificationAnswer).where(
                        QualificationAnswer.lead_id == lead_id, QualificationAnswer.question == key
                    )
                )
                continue
            session.execute(
                sqlite_insert(QualificationAnswer)
                .values(lead_id=lead_id, question=key, answer=value, answered_at=now)
                .on_conflict_do_update(
                    index_elements=["lead_id", "question"],
                    set_={"answer": value, "answered_at": now},
                )
            )
        current, points, grade = _grade_in(session, rules, lead_id)
        fired = release.check_in(session, rules, now, [lead_id])
    release.publish(workspace, fired, [lead_id], "qualified")
    return Fit(lead_id, current, points, grade)


def get_fit(workspace: Workspace, lead_id: int) -> Fit:
    with workspace.session() as session:
        answers = {
            a.question: a.answer
            for a in session.scalars(
                select(QualificationAnswer).where(QualificationAnswer.lead_id == lead_id)
            )
        }
        row = session.get(LeadScoring, lead_id)
        return Fit(lead_id, answers, row.fit_points if row else 0, row.grade if row else "")


def regrade_all_in(session: Session, rules: ScoringRules) -> None:
    """After the questions or grade bounds changed: every answered lead graded again."""
    lead_ids = set(session.scalars(select(QualificationAnswer.lead_id).distinct()))
    for lead_id in lead_ids:
        _grade_in(session, rules, lead_id)
