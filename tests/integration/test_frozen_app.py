"""The packaged app (dist/NurtureDesk, built by scripts/build): its selftest runs offscreen,
opens a workspace through the bundled migrations, and finds the Secret Service keyring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.integration import private_session

ROOT = Path(__file__).resolve().parents[2]
EXE = (
    ROOT
    / "dist"
    / "NurtureDesk"
    / ("NurtureDesk.exe" if sys.platform == "win32" else "NurtureDesk")
)


@pytest.fixture
def frozen_app() -> Path:
    require_service(EXE.exists(), f"the frozen app {EXE} (run scripts/build)")
    return EXE


def run_frozen(exe: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run(
        [str(exe), *args], env=full_env, capture_output=True, text=True, timeout=90
    )


def report(stdout: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


@pytest.mark.service
def test_frozen_selftest_opens_a_workspace_and_reports_the_keyring(
    frozen_app: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "w.sqlite"
    # No session bus: the app must say clearly that no keyring was found, not crash.
    env = {"HOME": str(tmp_path), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'nobus'}"}
    proc = run_frozen(frozen_app, ["selftest", "-w", str(workspace)], env)
    assert proc.returncode == 0, proc.stderr
    found = report(proc.stdout)
    assert found["frozen"] == "True"
    assert found["main window"] == "ok"
    assert found["stages"] == "8"  # the bundled migrations and seed ran
    assert found["keyring"].startswith("none found")
    # The Qt plugins the bundle must carry.
    assert found["qt platform"] == "offscreen"
    assert "openssl" in found["tls backends"]
    assert found["image formats"] == "gif, ico, jpg, png, svg"

    # The frozen CLI on the same workspace: a lead (email validation is bundled, its DNS
    # part deliberately not), then a backup that restores.
    proc = run_frozen(
        frozen_app, ["lead", "add", "--email", "Ann@Example.com", "-w", str(workspace)], env
    )
    assert proc.returncode == 0, proc.stderr
    proc = run_frozen(frozen_app, ["lead", "add", "--email", "bad@@x", "-w", str(workspace)], env)
    assert proc.returncode == 1 and "Invalid email address" in proc.stderr

    backup = tmp_path / "copy.sqlite"
    proc = run_frozen(frozen_app, ["backup", str(backup), "-w", str(workspace)], env)
    assert proc.returncode == 0, proc.stderr
    proc = run_frozen(frozen_app, ["restore", str(backup), "-w", str(workspace)], env)
    assert proc.returncode == 0, proc.stderr
    assert "kept at" in proc.stdout


@pytest.mark.service
def test_frozen_app_finds_the_secret_service_keyring(frozen_app: Path, tmp_path: Path) -> None:
    require_service(private_session.available(), "dbus-daemon and gnome-keyring-daemon")
    with private_session.secret_service_session(tmp_path) as env:
        proc = run_frozen(frozen_app, ["selftest", "-w", str(tmp_path / "w.sqlite")], env)
    assert proc.returncode == 0, proc.stderr
    assert report(proc.stdout)["keyring"] == "keyring.backends.SecretService.Keyring"
