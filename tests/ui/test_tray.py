"""The tray, for real: a tray host (trayer) on the test display, the app's icon docked in it;
closing the window hides it to the tray, a click on the icon brings it back."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from nurturedesk.app import Application
from nurturedesk.core import sender_lock
from nurturedesk.ui import background
from tests.conftest import on_xvfb, require_service

pytestmark = pytest.mark.service


@pytest.fixture
def tray_host() -> Iterator[None]:
    require_service(on_xvfb() and shutil.which("trayer") is not None, "Xvfb and trayer")
    require_service(shutil.which("xdotool") is not None, "xdotool")
    proc = subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "pixel",
            "--width",
            "160",
            "--height",
            "32",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not background.tray_available():
            assert time.monotonic() < deadline, "trayer did not take the tray"
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_close_hides_to_the_tray_and_a_click_brings_it_back(
    tray_host: None, qtbot: QtBot, tmp_path: Path
) -> None:
    app = Application()
    try:
        assert app.open(tmp_path / "w.sqlite")
        window = app.window
        qtbot.waitExposed(window)
        tray = app.background.background.tray
        assert tray is not None and tray.isVisible()
        qtbot.waitUntil(lambda: not tray.geometry().isEmpty(), timeout=10_000)
        assert "Next send" in tray.toolTip() or "Sending" in tray.toolTip()

        window.close()
        qtbot.waitUntil(lambda: not window.isVisible())
        assert app.workspace is not None
        assert sender_lock.held_lock(app.workspace) is not None  # still the sender

        # The first close says so in a balloon by the icon; a click dismisses it.
        qtbot.wait(300)
        centre = tray.geometry().center()
        for _attempt in range(3):
            subprocess.run(
                ["xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "1"],
                env=os.environ,
                check=True,
            )
            qtbot.wait(500)
            if window.isVisible():
                break
        assert window.isVisible()
    finally:
        app.close()
