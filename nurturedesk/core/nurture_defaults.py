"""What a new workspace starts with for nurturing: a small content library, the default
nurture track (entered from Nurturing), a recycle track (entered from Recycled) and a
newsletter template, all editable. Seeded once (a flag in the settings), so what the user
deletes stays deleted."""

from __future__ import annotations

from sqlalchemy import select

from nurturedesk.core.assets import save_asset
from nurturedesk.core.db import Workspace
from nurturedesk.core.models import Stage
from nurturedesk.core.sequences import save_sequence, set_stage_sequence
from nurturedesk.core.settings import get_setting, set_setting
from nurturedesk.core.templates import save_template

ASSETS = [
    ("getting-started-guide", "The getting-started guide", "whitepaper"),
    ("monthly-webinar", "Monthly webinar: questions answered live", "webinar"),
    ("customer-story", "How a team like yours did it", "case study"),
    ("industry-briefing", "This quarter's industry briefing", "briefing"),
]

_GREETING = 'Hi {{ lead.first_name | default("there") }},\n\n'
_SIGN_OFF = "\n\n{{ sender.signature }}\n"

TEMPLATES = {
    "Nurture 1: guide": (
        'A guide you may find useful, {{ lead.first_name | default("there") }}',
        _GREETING
        + "Thanks for getting in touch{% if lead.company %} — we thought this might help the "
        "team at {{ lead.company }}{% endif %}.\n\n"
        'Our guide covers the essentials in ten minutes: {{ asset("getting-started-guide") }}\n\n'
        "No sales pitch; reply any time if you have a question." + _SIGN_OFF,
    ),
    "Nurture 2: webinar": (
        "Questions answered live this month",
        _GREETING + "Each month we answer questions live, in thirty minutes: "
        '{{ asset("monthly-webinar") }}\n\nThe recording is there too if the time does not suit.'
        + _SIGN_OFF,
    ),
    "Nurture 3: case study": (
        "How a team like yours did it",
        _GREETING + "A short story of a team that faced what many of our readers face: "
        '{{ asset("customer-story") }}' + _SIGN_OFF,
    ),
    "Nurture 4: briefing": (
        "This quarter's briefing",
        _GREETING + 'Our quarterly briefing, in five minutes: {{ asset("industry-briefing") }}\n\n'
        "If it would help to talk it over, just reply." + _SIGN_OFF,
    ),
    "Recycle 1: what's new": (
        'What changed since we last spoke, {{ lead.first_name | default("there") }}',
        _GREETING + "A lot has moved since we last spoke. The quickest way to catch up: "
        '{{ asset("industry-briefing") }}' + _SIGN_OFF,
    ),
    "Recycle 2: check-in": (
        "Still useful?",
        _GREETING + "Is this still a topic for you{% if lead.company %} at {{ lead.company }}"
        '{% endif %}? Here is our latest guide: {{ asset("getting-started-guide") }}' + _SIGN_OFF,
    ),
    "Newsletter": (
        "This month: what is worth your time",
        _GREETING + "Three things worth your time this month:\n\n"
        '- {{ asset("industry-briefing") }}\n- {{ asset("monthly-webinar") }}\n'
        '- {{ asset("customer-story") }}' + _SIGN_OFF,
    ),
}

# (sequence name, [(template name, delay in days)], stage that enrols)
SEQUENCES = [
    (
        "Default nurture track",
        [
            ("Nurture 1: guide", 0),
            ("Nurture 2: webinar", 7),
            ("Nurture 3: case study", 7),
            ("Nurture 4: briefing", 7),
        ],
        "Nurturing",
    ),
    ("Recycle track", [("Recycle 1: what's new", 14), ("Recycle 2: check-in", 30)], "Recycled"),
]


def ensure_nurture_defaults(workspace: Workspace) -> None:
    if get_setting(workspace, "nurture_seeded"):
        return
    for slug, title, kind in ASSETS:
        save_asset(workspace, title, f"https://example.com/{slug}", kind, slug=slug)
    ids = {}
    for name, (subject, body) in TEMPLATES.items():
        ids[name] = save_template(workspace, name, subject, body).id
    with workspace.session() as session:
        stages = {s.name: s.id for s in session.scalars(select(Stage))}
    for name, steps, stage in SEQUENCES:
        seq = save_sequence(workspace, name, [(ids[t], d) for t, d in steps])
        if stage in stages:
            set_stage_sequence(workspace, stages[stage], seq.id)
    set_setting(workspace, "nurture_seeded", True)


def use_demo_mail(workspace: Workspace) -> None:
    """The demo workspace writes .eml files beside itself: the whole cycle, no credentials."""
    from nurturedesk.core.mailconfig import configure_file_transport

    if get_setting(workspace, "mail_transport") != "none":
        return
    configure_file_transport(workspace, "", "Demo Sender <demo@nurturedesk.example>")
    set_setting(workspace, "mail_postal_address", "1 Demo Street, Springfield")
    set_setting(workspace, "mail_signature", "Dana from the demo team")
