"""Per-user preferences kept by Qt (window geometry, recent workspaces), not in a workspace."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from nurturedesk.paths import APP_AUTHOR, APP_NAME

MAX_RECENT = 8


def qsettings() -> QSettings:
    return QSettings(APP_AUTHOR, APP_NAME)


def recent_workspaces() -> list[Path]:
    value = qsettings().value("workspaces/recent", [])
    # QSettings turns a one-item list into a plain string in INI files.
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    return [Path(p) for p in items if p]


def remember_workspace(path: Path) -> None:
    settings = qsettings()
    items = [str(path)] + [str(p) for p in recent_workspaces() if p != path]
    settings.setValue("workspaces/recent", items[:MAX_RECENT])
    settings.setValue("workspaces/last", str(path))


def last_workspace() -> Path | None:
    value = qsettings().value("workspaces/last", "")
    return Path(str(value)) if value else None


def save_window_state(geometry: QByteArray, state: QByteArray) -> None:
    settings = qsettings()
    settings.setValue("window/geometry", geometry)
    settings.setValue("window/state", state)


def window_geometry() -> tuple[QByteArray | None, QByteArray | None]:
    settings = qsettings()
    geometry = settings.value("window/geometry")
    state = settings.value("window/state")
    return (
        geometry if isinstance(geometry, QByteArray) else None,
        state if isinstance(state, QByteArray) else None,
    )
