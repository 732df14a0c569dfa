"""Demo activity for the demo workspace: timelines, qualification answers, scores, grades,
and hand-offs (some overdue), as if the app had been in use. No notices: the demo opens
quietly, with leads already past the threshold counted as released."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, text

from nurturedesk.core import qualification, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.models import (
    Handoff,
    Interaction,
    Lead,
    QualificationAnswer,
    Stage,
)
from nurturedesk.core.scoring_rules import rules_in
from nurturedesk.core.timestamps import to_micros

# (type, weight) of what nurtured leads do.
ACTIVITY = [
    ("email_sent", 30),
    ("site_visit", 14),
    ("whitepaper_downloaded", 8),
    ("video_watched", 8),
    ("webinar_registered", 6),
    ("webinar_attended", 5),
    ("form_filled", 4),
    ("email_replied", 4),
    ("call", 4),
    ("meeting", 3),
    ("email_bounced", 1),
    ("note", 2),
]
# How busy a lead has been, by how far along the funnel it is.
ACTIVITY_BY_STAGE = {
    "New": (0, 2),
    "Qualifying": (1, 5),
    "Nurturing": (3, 10),
    "Sales-ready": (8, 14),
    "With sales": (8, 14),
    "Won": (8, 16),
    "Newsletter": (1, 5),
    "Recycled": (3, 8),
}


# A big demo (the 100,000-lead benchmark) gets activity on a sample only: enough to see
# scores all over the board without making `demo` slow.
MAX_ACTIVE_LEADS = 2000


def populate_scoring_demo(
    workspace: Workspace, lead_ids: Sequence[int], rng: random.Random
) -> None:
    now = workspace.clock.now()
    types, weights = zip(*ACTIVITY, strict=True)
    ids = list(lead_ids)
    if len(ids) > MAX_ACTIVE_LEADS:
        ids = sorted(rng.sample(ids, MAX_ACTIVE_LEADS))
    with workspace.session() as session:
        rules = rules_in(session)
        rows: list[Any] = []
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            rows.extend(
                session.execute(
                    select(Lead.id, Lead.created_at, Lead.owner, Lead.stage_entered_at, Stage.name)
                    .join(Stage, Stage.id == Lead.stage_id)
                    .where(Lead.id.in_(chunk))
                ).all()
            )
        events = []
        answers = []
        for r in rows:
            low, high = ACTIVITY_BY_STAGE.get(r.name, (0, 4))
            span = max(1.0, (now - r.created_at).total_seconds())
            for _ in range(rng.randint(low, high)):
                when = r.created_at + timedelta(seconds=rng.uniform(0, span))
                if r.name in ("Sales-ready", "With sales", "Won"):
                    when = now - timedelta(days=rng.uniform(0, 20))  # recent, so still hot
                type_ = rng.choices(types, weights)[0]
                if r.name in ("Sales-ready", "With sales", "Won") and rng.random() < 0.3:
                    type_ = rng.choice(["meeting", "call", "webinar_attended"])
                events.append(
                    {
                        "lead_id": r.id,
                        "type": type_,
                        "occurred_at": when,
                        "day": when.toordinal(),
                        "note": "",
                        "source": "demo",
                        "created_at": now,
                    }
                )
            if r.name != "New" and rng.random() < 0.65:
                for q in rules.questions:
                    if rng.random() < 0.8:
                        option = rng.choice(list(q.options))
                        answers.append(
                            {
                                "lead_id": r.id,
                                "question": q.key,
                                "answer": option,
                                "answered_at": now,
                            }
                        )
        if events:
            session.execute(insert(Interaction), events)
        if answers:
            session.execute(insert(QualificationAnswer), answers)
        for lead_id in {a["lead_id"] for a in answers}:
            qualification._grade_in(session, rules, lead_id)
        scoring._rescore_all_in(session, rules, now)
        # Already past the threshold: released before today (no notices for the demo).
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            session.execute(
                text(
                    "INSERT OR IGNORE INTO lead_scoring (lead_id, fit_points, grade, released) "
                    f"SELECT id, 0, '', 0 FROM leads WHERE id IN ({','.join(map(str, chunk))})"
                )
            )
            session.execute(
                text(
                    "UPDATE lead_scoring SET released = 1, released_at = :now WHERE lead_id IN "
                    f"(SELECT id FROM leads WHERE score >= :t AND id IN ({','.join(map(str, chunk))}))"
                ),
                {"now": to_micros(now), "t": rules.threshold},
            )
        for r in rows:
            if r.name == "Sales-ready":
                released = r.stage_entered_at
                session.add(
                    Handoff(
                        lead_id=r.id,
                        owner=r.owner,
                        state="pending",
                        released_at=released,
                        due_at=released + timedelta(hours=rules.follow_up_hours),
                        reason="",
                    )
                )
                session.execute(
                    text("UPDATE lead_scoring SET released = 1 WHERE lead_id = :id"), {"id": r.id}
                )
