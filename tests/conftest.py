"""Shared fixtures. Every test gets its own data, config and log dirs (never the user's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from tests.xvfb import Display, start_xvfb

IN_CI = os.environ.get("CI", "").lower() == "true"
_display: Display | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Run Qt on a private Xvfb display (real windows and real X input) when there is one;
    otherwise offscreen. Either way never on the developer's own screen."""
    global _display
    if os.environ.get("NURTUREDESK_TEST_PLATFORM") == "offscreen":
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    _display = start_xvfb()
    if _display is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        os.environ["DISPLAY"] = _display.name
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.pop("WAYLAND_DISPLAY", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _display is not None:
        _display.stop()


def on_xvfb() -> bool:
    return _display is not None


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point every user dir (data, config, logs, cache, keyring) at a fresh temporary folder."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in {
        "XDG_DATA_HOME": "data",
        "XDG_CONFIG_HOME": "config",
        "XDG_CACHE_HOME": "cache",
        "XDG_STATE_HOME": "state",
    }.items():
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NURTUREDESK_WORKSPACE", raising=False)
    return home


def require_service(available: bool, what: str) -> None:
    """Skip on a laptop without the service; in CI (CI=true) a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, 0))


@pytest.fixture
def workspace(tmp_path: Path, clock: FakeClock) -> Iterator[Workspace]:
    ws = open_workspace(tmp_path / "workspace.sqlite", clock=clock)
    yield ws
    ws.close()


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder no file can be made in. chmod does not stop root, so there it is /proc."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        yield folder if not os.access(folder, os.W_OK) else Path("/proc")
    finally:
        folder.chmod(0o755)  # so pytest can clean it up
