"""Start at login: an XDG autostart entry on Linux (a LaunchAgent on macOS, the Run key on
Windows: written the same way but only Linux is tested here).

The app starts in the background (`--background`, or `NURTUREDESK_BACKGROUND=1`: straight
to the tray, no window) so mail goes out after a reboot without anyone opening the window.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from nurturedesk.core.errors import UserError

BACKGROUND_ENV = "NURTUREDESK_BACKGROUND"
ENTRY_NAME = "nurturedesk"


def launch_command() -> list[str]:
    """How to start this same NurtureDesk again: the frozen executable, or `python -m`."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "nurturedesk"]


def started_in_background() -> bool:
    """Started at login: go to the tray without showing the window."""
    return os.environ.get(BACKGROUND_ENV) == "1" or "--background" in sys.argv[1:]


def _xdg_entry() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{ENTRY_NAME}.desktop"


def _mac_agent() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / "app.nurturedesk.NurtureDesk.plist"


def is_enabled() -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _windows_run_value() is not None
    path = _mac_agent() if sys.platform == "darwin" else _xdg_entry()
    return path.exists()


def set_enabled(enabled: bool) -> None:
    """Turn start-at-login on or off (idempotent). Raises UserError if it cannot be written."""
    try:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            _set_windows(enabled)
        elif sys.platform == "darwin":  # pragma: no cover - macOS only
            _write_or_remove(_mac_agent(), _mac_plist() if enabled else None)
        else:
            _write_or_remove(_xdg_entry(), desktop_entry() if enabled else None)
    except OSError as exc:
        raise UserError(f"Could not change start at login: {exc.strerror or exc}.") from exc


def desktop_entry() -> str:
    command = " ".join(shlex.quote(part) for part in launch_command())
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=NurtureDesk\n"
        "Comment=Keeps nurture email going out in the background\n"
        f"Exec={command} --background\n"
        "Icon=nurturedesk\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _write_or_remove(path: Path, content: str | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def _mac_plist() -> str:  # pragma: no cover - macOS only
    args = "".join(f"<string>{part}</string>" for part in launch_command())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<plist version="1.0"><dict>'
        "<key>Label</key><string>app.nurturedesk.NurtureDesk</string>"
        f"<key>ProgramArguments</key><array>{args}<string>--background</string></array>"
        "<key>RunAtLoad</key><true/>"
        "</dict></plist>\n"
    )


_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def _windows_run_value() -> str | None:  # pragma: no cover - Windows only
    winreg: Any = importlib.import_module("winreg")
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, _RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, "NurtureDesk")[0])
    except OSError:
        return None


def _set_windows(enabled: bool) -> None:  # pragma: no cover - Windows only
    import subprocess

    winreg: Any = importlib.import_module("winreg")

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, _RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if enabled:
            command = subprocess.list2cmdline(launch_command())
            winreg.SetValueEx(key, "NurtureDesk", 0, winreg.REG_SZ, f"{command} --background")
        else:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, "NurtureDesk")
