"""A real notification daemon for tests: Xvfb (its own display), a private D-Bus session bus
(no service activation, so nothing else starts on it) and dunst on both.

Every process here is started by the fixture and stopped by PID; nothing shared is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_service

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

DUNSTRC = """[global]
    monitor = 0
    follow = none
    sticky_history = yes
    history_length = 50
    show_indicators = no
    mouse_left_click = do_action, close_current
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class PrivateBus:
    address: str
    env: dict[str, str]
    dir: Path


@dataclass
class NotificationDaemon:
    bus: PrivateBus
    display: str

    def dunstctl(self, *args: str) -> str:
        out = subprocess.run(
            ["dunstctl", *args], env=self.bus.env, capture_output=True, text=True, timeout=10
        )
        return out.stdout

    def displayed(self) -> int:
        return int(self.dunstctl("count", "displayed").strip() or 0)

    def history_summaries(self) -> list[str]:
        data = json.loads(self.dunstctl("history") or "{}")
        items = data.get("data", [[]])[0] if data else []
        return [item["summary"]["data"] for item in items]


def _have(*programs: str) -> bool:
    return all(shutil.which(p) for p in programs)


@pytest.fixture
def private_bus() -> Iterator[PrivateBus]:
    """A fresh `dbus-daemon --session` with nothing on it."""
    require_service(_have("dbus-daemon"), "dbus-daemon")
    folder = Path(tempfile.mkdtemp(prefix="nd-bus-"))  # short: unix socket paths are limited
    socket = folder / "bus"
    config = folder / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    proc = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().decode().strip()
        require_service(bool(address), "a private D-Bus session bus")
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
        yield PrivateBus(address, env, folder)
    finally:
        _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """An Xvfb server on a display number it picks itself (-displayfd: no clashes)."""
    require_service(_have("Xvfb"), "Xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "1024x768x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        require_service(bool(number), "Xvfb")
        yield f":{number}"
    finally:
        _stop(proc)


@pytest.fixture
def notification_daemon(
    private_bus: PrivateBus, xvfb_display: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NotificationDaemon]:
    """dunst on its own Xvfb and bus; this process's session bus points at it."""
    require_service(_have("dunst", "dunstctl"), "dunst")
    rc = private_bus.dir / "dunstrc"
    rc.write_text(DUNSTRC)
    env = dict(private_bus.env, DISPLAY=xvfb_display)
    private_bus.env.update(DISPLAY=xvfb_display)
    proc = subprocess.Popen(
        ["dunst", "-config", str(rc)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = NotificationDaemon(private_bus, xvfb_display)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if daemon.dunstctl("is-paused").strip() in ("true", "false"):
                break
            time.sleep(0.05)
        require_service(proc.poll() is None, "dunst on Xvfb")
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", private_bus.address)
        yield daemon
    finally:
        _stop(proc)
