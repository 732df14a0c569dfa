"""Workspace settings stored in the workspace itself, with defaults in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nurturedesk.core.db import Workspace
from nurturedesk.core.events import SettingsChanged
from nurturedesk.core.models import Setting

DEFAULTS: dict[str, Any] = {
    # A card that sits longer than this in an open stage is marked as going stale.
    "stale_days": 14,
    # --- Nurture (issue 3): how mail leaves, who it is from, how fast. ---
    # "none" (nothing is queued until sending is set up), "smtp" or "file" (.eml into a folder).
    "mail_transport": "none",
    "smtp_host": "",
    "smtp_port": 587,
    "smtp_security": "starttls",  # starttls | ssl | none (none: localhost only)
    "smtp_user": "",
    "mail_from_name": "",
    "mail_from_address": "",
    "mail_file_dir": "",  # empty: a folder beside the workspace file
    "mail_postal_address": "",
    "mail_signature": "",
    "mail_timezone": "",  # empty: this computer's time zone
    "nurture_cap_days": 3,  # at most one nurture email per lead per this many days
    "nurture_stop_stages": ["Sales-ready", "With sales"],
    "throttle_preset": "gmail",
    "throttle_per_minute": 20,
    "throttle_per_hour": None,
    "throttle_per_day": 500,
    "nurture_seeded": False,  # the default track and templates were added once
}


def get_setting(workspace: Workspace, key: str) -> Any:
    with workspace.session() as session:
        row = session.get(Setting, key)
        if row is not None:
            return row.value
    if key not in DEFAULTS:
        raise KeyError(key)
    return DEFAULTS[key]


def all_settings(workspace: Workspace) -> dict[str, Any]:
    values = dict(DEFAULTS)
    with workspace.session() as session:
        values.update({s.key: s.value for s in session.scalars(select(Setting))})
    return values


def set_setting(workspace: Workspace, key: str, value: Any) -> None:
    with workspace.session() as session:
        session.merge(Setting(key=key, value=value))
    workspace.events.publish(SettingsChanged(keys=(key,)))
