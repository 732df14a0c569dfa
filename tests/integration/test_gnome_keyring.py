"""The SMTP password in a real GNOME Keyring, in a private D-Bus session started by the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_service

REPO = Path(__file__).resolve().parents[2]
SECRET = "gk-Secret-\u00fc-42"


@pytest.fixture
def gnome_keyring(isolated_dirs: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    require_service(
        bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")),
        "dbus-daemon and gnome-keyring-daemon",
    )
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    daemon = None
    try:
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert daemon.stdin is not None
        daemon.stdin.write(b"login-keyring-password")  # creates and unlocks "login"
        daemon.stdin.close()
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.SecretService.Keyring"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until the daemon owns its bus name
            probe = subprocess.run(
                [sys.executable, "-c", "import keyring; keyring.get_password('probe', 'x')"],
                env=env,
                capture_output=True,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        yield env
    finally:
        for proc in (daemon, bus):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "nurturedesk", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.service
def test_password_round_trips_through_gnome_keyring(
    gnome_keyring: dict[str, str], tmp_path: Path, isolated_dirs: Path
) -> None:
    env = gnome_keyring
    w = ("-w", str(tmp_path / "ws.sqlite"))
    run(
        env,
        "smtp",
        "set",
        "--host",
        "smtp.example.com",
        "--user",
        "me@example.com",
        "--from",
        "Me <me@example.com>",
        *w,
    )
    stored = run(env, "smtp", "password", *w, stdin=SECRET + "\n")
    assert "stored in the system keyring" in stored.stdout
    shown = json.loads(run(env, "smtp", "show", "--json", *w).stdout)
    assert shown["password_stored"] is True

    read = subprocess.run(
        [
            sys.executable,
            "-c",
            "from nurturedesk.core.credentials import load_password;"
            "print(load_password('me@example.com', 'smtp.example.com') == " + repr(SECRET) + ")",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert read.stdout.strip() == "True", read.stderr
    keyrings = isolated_dirs / "data" / "keyrings"
    assert any(keyrings.glob("*.keyring")), "gnome-keyring did not store under the test's home"
    for path in [*tmp_path.rglob("*"), *isolated_dirs.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"password in clear in {path}"
