"""A lived-in demo workspace: plausible leads across the funnel with months of history."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from nurturedesk.core.db import Workspace
from nurturedesk.core.events import LeadsChanged, StagesChanged
from nurturedesk.core.models import Lead, Stage, StageHistory, Tag, lead_tags

FIRST = [
    "Jane",
    "John",
    "Maria",
    "Wei",
    "Aisha",
    "Lukas",
    "Sofia",
    "Mateo",
    "Priya",
    "Noah",
    "Emma",
    "Olivia",
    "Liam",
    "Chloe",
    "Hiroshi",
    "Fatima",
    "Ahmed",
    "Elena",
    "Pierre",
    "Ingrid",
    "Tomás",
    "Zoë",
    "Kwame",
    "Anya",
    "Mikhail",
    "Grace",
    "Omar",
    "Leila",
    "Sven",
    "Chen",
]
LAST = [
    "Doe",
    "Smith",
    "García",
    "Zhang",
    "Khan",
    "Müller",
    "Rossi",
    "Fernández",
    "Patel",
    "Johnson",
    "Brown",
    "Dubois",
    "Nakamura",
    "Okafor",
    "Novak",
    "Larsen",
    "Silva",
    "Kowalski",
    "O'Brien",
    "Nguyen",
    "Haddad",
    "Jensen",
    "Costa",
    "Schmidt",
    "Moreau",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Analytics",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
    "Cyberdyne Labs",
    "Aperture Science",
    "Wonka Industries",
    "Gringotts Finance",
    "Oceanic Air",
    "Massive Dynamic",
    "Nakatomi Trading",
    "Blue Sun",
    "Monarch Solar",
    "Pied Piper",
    "Dunder Mifflin",
    "Bluth Homes",
    "Prestige Worldwide",
    "Sterling Cooper",
]
TITLES = [
    "CTO",
    "Head of Marketing",
    "Operations Manager",
    "VP Sales",
    "IT Director",
    "Procurement Lead",
    "CEO",
    "Product Manager",
    "Data Engineer",
    "CFO",
    "Office Manager",
]
SOURCES = ["Trade show", "Webinar", "Web form", "Purchased list", "Referral", "LinkedIn"]
TAGS = ["saas", "enterprise", "smb", "healthcare", "finance", "manufacturing", "emea", "us"]
OWNERS = ["", "", "alex", "sam", "robin"]
# Share of leads per default stage: most are still being nurtured, as in a real funnel.
STAGE_WEIGHTS = {
    "New": 12,
    "Qualifying": 10,
    "Nurturing": 35,
    "Sales-ready": 6,
    "With sales": 6,
    "Won": 5,
    "Newsletter": 16,
    "Recycled": 10,
}


def populate_demo(workspace: Workspace, leads: int = 300, seed: int = 7) -> int:
    """Add `leads` demo leads (emails at example.com domains). Returns how many were added."""
    rng = random.Random(seed)
    now = workspace.clock.now()
    with workspace.session() as session:
        stages = list(session.scalars(select(Stage).order_by(Stage.position)))
        weights = [STAGE_WEIGHTS.get(s.name, 5) for s in stages]
        start_id = (session.scalar(select(func.max(Lead.id))) or 0) + 1
        tag_ids = {}
        for name in TAGS:
            tag = session.scalar(select(Tag).where(Tag.name == name))
            if tag is None:
                tag = Tag(name=name)
                session.add(tag)
                session.flush()
            tag_ids[name] = tag.id
        top = {
            s.id: session.scalar(select(func.max(Lead.position)).where(Lead.stage_id == s.id)) or 0
            for s in stages
        }
        lead_rows: list[dict[str, Any]] = []
        history_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, int]] = []
        for i in range(leads):
            lead_id = start_id + i
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES)
            domain = company.lower().replace(" ", "").replace("'", "") + ".example"
            email = f"{first.lower()}.{last.lower().replace(chr(39), '')}{lead_id}@{domain}"
            stage = rng.choices(stages, weights)[0]
            created = now - timedelta(days=rng.uniform(1, 180), minutes=rng.uniform(0, 600))
            # Most leads moved recently; a few have sat for weeks (the board marks them stale).
            entered = max(created, now - timedelta(days=rng.expovariate(1 / 7)))
            # Path through the funnel: created in New, then (if elsewhere) moved along.
            history_rows.append(
                dict(
                    lead_id=lead_id,
                    from_stage_id=None,
                    to_stage_id=stages[0].id,
                    moved_at=created,
                    reason="demo: captured",
                )
            )
            if stage.id != stages[0].id:
                history_rows.append(
                    dict(
                        lead_id=lead_id,
                        from_stage_id=stages[0].id,
                        to_stage_id=stage.id,
                        moved_at=entered,
                        reason="demo: moved",
                    )
                )
            else:
                entered = created
            top[stage.id] += 1
            lead_rows.append(
                dict(
                    id=lead_id,
                    email=email,
                    email_key=email.lower(),
                    first_name=first,
                    last_name=last,
                    company=company,
                    title=rng.choice(TITLES),
                    phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                    source=rng.choice(SOURCES),
                    owner=rng.choice(OWNERS),
                    timezone="",
                    custom_fields={},
                    search_text=f"{first} {last} {email} {company}".lower(),
                    stage_id=stage.id,
                    position=float(top[stage.id]),
                    stage_entered_at=entered,
                    score=0,
                    created_at=created,
                    updated_at=entered,
                    deleted_at=None,
                )
            )
            for tag_name in rng.sample(TAGS, rng.choice([0, 1, 1, 2, 2, 3])):
                tag_rows.append({"lead_id": lead_id, "tag_id": tag_ids[tag_name]})
        if lead_rows:
            session.execute(insert(Lead), lead_rows)
            session.execute(insert(StageHistory), history_rows)
        if tag_rows:
            session.execute(insert(lead_tags), tag_rows)
    from nurturedesk.core.scoring_demo import populate_scoring_demo

    populate_scoring_demo(workspace, range(start_id, start_id + leads), rng)  # scores, grades
    workspace.events.publish(StagesChanged())
    workspace.events.publish(LeadsChanged(reason="demo"))
    from nurturedesk.core.nurture_defaults import use_demo_mail  # issue 3: .eml, no credentials

    use_demo_mail(workspace)
    from nurturedesk.core.sequences import apply_enrolment_rules

    apply_enrolment_rules(workspace)  # demo leads in Nurturing/Recycled are on their tracks
    return leads
