"""Logs: a rotating file in the user log dir; no secret ever reaches it, crashes included."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from nurturedesk.logs import MASK, register_secret, scrub

SECRET = "hunter2-Sup3r"

SCRIPT = textwrap.dedent(
    f"""
    import logging
    from nurturedesk.crash import install_crash_handler
    from nurturedesk.logs import register_secret, setup_logging
    path = setup_logging(verbose=True)
    print(path, flush=True)
    install_crash_handler()
    register_secret({SECRET!r})
    log = logging.getLogger("nurturedesk.core.mailer")
    log.info("logging in as ann with %s", {SECRET!r})
    log.debug("config: smtp_user=ann password=plain-pw-123 host=smtp.example.com")
    log.debug("smtp: send: 'AUTH PLAIN AGFubgBwbGFpbi1wdy0xMjM='")
    log.info("proxy https://ann:plain-pw-123@proxy.example.com:8080/")
    try:
        raise RuntimeError("login failed for password " + {SECRET!r})
    except RuntimeError:
        log.exception("sending failed")
    raise ValueError("uncaught, with " + {SECRET!r})
    """
)


def test_secrets_never_reach_the_log_file_or_a_crash_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    log_path = Path(proc.stdout.splitlines()[0])
    assert log_path.is_relative_to(tmp_path / "state")
    text = log_path.read_text()
    assert "logging in as ann with" in text
    assert "sending failed" in text and "RuntimeError" in text
    assert "ValueError: uncaught" in text  # the crash handler logged the traceback
    for leaked in (SECRET, "plain-pw-123", "AGFubgBwbGFpbi1wdy0xMjM="):
        assert leaked not in text
        assert leaked not in proc.stderr
    assert text.count(MASK) >= 5
    assert f"details are in {log_path}" in proc.stderr
    assert proc.returncode == 1


def test_scrub_leaves_ordinary_text_alone() -> None:
    register_secret("x")  # too short to mask: would wreck every line
    line = "moved 3 leads to Qualifying (password reset reminder template)"
    assert scrub(line) == line
    assert scrub('{"password": "abc123"}') == '{"password": ' + MASK + "}"
