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
