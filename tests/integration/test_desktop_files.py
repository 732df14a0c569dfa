"""Linux desktop integration: the launcher and icons install for the user and point at the app."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_install_desktop_writes_a_launcher_and_icons(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-desktop"), "--source"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "applications" / "nurturedesk.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Name"] == "NurtureDesk" and desktop["Icon"] == "nurturedesk"
    assert desktop["Exec"].startswith(f'"{ROOT}/.venv/bin/nurturedesk"')
    for size in (16, 48, 256):
        icon = tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "nurturedesk.png"
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "nurturedesk.svg").exists()
