"""A private D-Bus session bus with an unlocked gnome-keyring (Secret Service) for one test.

Every process is started here and stopped by its own PID (other engineers run the same
programs on this machine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def available() -> bool:
    return bool(shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon"))


@contextmanager
def secret_service_session(base: Path) -> Iterator[dict[str, str]]:
    """Yields the environment variables that point a child process at the private bus."""
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    address = f"unix:path={runtime / 'bus'}"
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(base),
        "XDG_DATA_HOME": str(base / "data"),
    }
    started: list[subprocess.Popen[bytes]] = []
    try:
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", f"--address={address}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(bus)
        deadline = time.monotonic() + 10
        while not (runtime / "bus").exists():
            if time.monotonic() > deadline or bus.poll() is not None:
                raise RuntimeError("the private D-Bus session did not start")
            time.sleep(0.05)
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(b"test-password")
        keyring.stdin.close()
        _wait_for_name(env, "org.freedesktop.secrets")
        yield {k: env[k] for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "HOME")}
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


def _wait_for_name(env: dict[str, str], name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames",
            ],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        if f'"{name}"' in out:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not appear on the private bus")
