"""The scoring rules: points per interaction type, caps, decay, the release rule, and the
qualification questions that grade a lead's fit. One JSON value in the workspace settings,
so a rule change is one write and undoing it is writing the previous value back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from nurturedesk.core.errors import ValidationError
from nurturedesk.core.models import Setting

RULES_KEY = "scoring_rules"

# Every kind of interaction a timeline holds, with the words a user sees. Email events come
# from the outbox (and replies from inbox sync); the rest are logged by hand or the CLI.
INTERACTION_TYPES: dict[str, str] = {
    "email_sent": "Email sent",
    "email_failed": "Email failed",
    "email_bounced": "Email bounced",
    "email_unsubscribed": "Unsubscribed",
    "email_replied": "Replied to an email",
    "whitepaper_downloaded": "Whitepaper downloaded",
    "webinar_registered": "Webinar registered",
    "webinar_attended": "Webinar attended",
    "video_watched": "Video watched",
    "site_visit": "Site visit",
    "form_filled": "Form filled",
    "call": "Call",
    "meeting": "Meeting",
    "note": "Note",
}

DEFAULT_POINTS: dict[str, int] = {
    "email_sent": 0,
    "email_failed": 0,
    "email_bounced": -20,
    "email_unsubscribed": -50,
    "email_replied": 15,
    "whitepaper_downloaded": 10,
    "webinar_registered": 10,
    "webinar_attended": 25,
    "video_watched": 5,
    "site_visit": 2,
    "form_filled": 15,
    "call": 20,
    "meeting": 30,
    "note": 0,
}

GRADES = ("A", "B", "C", "D")


@dataclass(frozen=True)
class Cap:
    """At most `points` points (in absolute value) from one type per `days`-day period.

    Periods are fixed windows of whole UTC days counted from day 1 (0001-01-01), so a given
    interaction always falls in the same period whatever the day the score is computed.
    """

    points: int
    days: int


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    options: dict[str, int]  # answer -> fit points


DEFAULT_QUESTIONS: tuple[Question, ...] = (
    Question("budget", "Budget", {"yes": 20, "unknown": 5, "no": 0}),
    Question("authority", "Authority", {"decision_maker": 20, "influencer": 10, "user": 0}),
    Question("need", "Need", {"yes": 20, "maybe": 10, "no": 0}),
    Question("timing", "Timing", {"now": 20, "quarter": 15, "year": 5, "none": 0}),
    Question("industry", "Industry", {"target": 10, "adjacent": 5, "other": 0}),
    Question(
        "company_size",
        "Company size",
        {"1-10": 0, "11-50": 5, "51-200": 10, "201-1000": 10, "1000+": 5},
    ),
)


@dataclass(frozen=True)
class ScoringRules:
    points: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    caps: dict[str, Cap] = field(
        default_factory=lambda: {"site_visit": Cap(10, 7), "video_watched": Cap(15, 7)}
    )
    half_life_days: float | None = 30.0  # None: points never lose value
    threshold: int = 100
    hysteresis: int = 10  # re-armed once the score falls below threshold - hysteresis
    min_grade: str = ""  # "" = any grade (even none); else the worst grade accepted
    release_mode: str = "move"  # "move" to the release stage, or only "flag" the card
    follow_up_hours: int = 48
    recycle_days: int = 30  # a rejected lead goes back into nurturing after this
    lost_recycle_days: int = 0  # leads in a "lost" stage back into nurturing after this; 0 off
    default_owner: str = ""
    release_stage: str = "Sales-ready"
    accept_stage: str = "With sales"
    reject_stage: str = "Recycled"
    nurture_stage: str = "Nurturing"
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS
    grade_bounds: dict[str, int] = field(default_factory=lambda: {"A": 70, "B": 45, "C": 20})

    def points_for(self, type_: str) -> int:
        return int(self.points.get(type_, 0))

    def grade_for(self, fit_points: int, answered: bool) -> str:
        if not answered:
            return ""
        for grade in GRADES[:-1]:
            if fit_points >= self.grade_bounds.get(grade, 10**9):
                return grade
        return "D"

    def grade_ok(self, grade: str) -> bool:
        if not self.min_grade:
            return True
        return bool(grade) and GRADES.index(grade) <= GRADES.index(self.min_grade)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["questions"] = [asdict(q) for q in self.questions]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ScoringRules:
        """Rules from stored JSON; anything missing takes its default (older workspaces)."""
        base = cls()
        if not data:
            return base
        known = {f for f in base.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        if "points" in values:
            values["points"] = {str(k): int(v) for k, v in values["points"].items()}
        if "caps" in values:
            values["caps"] = {
                str(k): Cap(int(v["points"]), int(v["days"])) for k, v in values["caps"].items()
            }
        if "questions" in values:
            values["questions"] = tuple(
                Question(q["key"], q["label"], {str(a): int(p) for a, p in q["options"].items()})
                for q in values["questions"]
            )
        return validate_rules(replace(base, **values))


def validate_rules(rules: ScoringRules) -> ScoringRules:
    """The rules, or a ValidationError naming what is wrong."""
    for type_ in list(rules.points) + list(rules.caps):
        if type_ not in INTERACTION_TYPES:
            raise ValidationError("type", unknown_type_message(type_))
    for type_, cap in rules.caps.items():
        if cap.points < 0 or cap.days < 1:
            raise ValidationError(
                "caps", f"Cap for {type_}: points must be >= 0 and the period >= 1 day."
            )
    hl = rules.half_life_days
    if hl is not None and (not math.isfinite(hl) or hl <= 0):
        raise ValidationError("half_life_days", "Half-life must be a number of days > 0, or off.")
    if rules.hysteresis < 0:
        raise ValidationError("hysteresis", "Hysteresis must be 0 or more points.")
    if rules.min_grade not in ("", *GRADES):
        raise ValidationError("min_grade", "Minimum grade must be A, B, C, D or any.")
    if rules.release_mode not in ("move", "flag"):
        raise ValidationError("release_mode", "Release mode must be 'move' or 'flag'.")
    for name in ("follow_up_hours", "recycle_days", "lost_recycle_days"):
        if getattr(rules, name) < 0:
            raise ValidationError(name, f"{name.replace('_', ' ')} must be 0 or more.")
    return rules


def unknown_type_message(type_: str) -> str:
    return f"Unknown interaction type {type_!r}. Types: {', '.join(INTERACTION_TYPES)}."


def normalize_type(text: str) -> str:
    """'Webinar attended', 'webinar-attended' and 'WEBINAR_ATTENDED' all name one type."""
    key = "_".join(text.strip().lower().replace("-", " ").split())
    if key in INTERACTION_TYPES:
        return key
    for type_, label in INTERACTION_TYPES.items():
        if "_".join(label.lower().split()) == key:
            return type_
    raise ValidationError("type", unknown_type_message(text))


def rules_in(session: Session) -> ScoringRules:
    row = session.get(Setting, RULES_KEY)
    return ScoringRules.from_json(row.value if row is not None else None)


def save_rules_in(session: Session, rules: ScoringRules) -> None:
    session.merge(Setting(key=RULES_KEY, value=rules.to_json()))
