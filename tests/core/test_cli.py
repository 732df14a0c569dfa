"""The command line: exit codes, messages, JSON, and the same data the GUI sees."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nurturedesk.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nurturedesk", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_version_and_usage_errors() -> None:
    assert run("--version").stdout.startswith("nurturedesk ")
    bad = run("lead", "frobnicate")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_add_list_move_and_stage_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "w.sqlite")
    assert (
        main(
            [
                "--workspace",
                ws,
                "lead",
                "add",
                "--email",
                "Jane@ACME.com",
                "--first-name",
                "Jane",
                "--company",
                "Acme",
                "--tag",
                "webinar",
                "--tag",
                "emea",
                "--stage",
                "nurturing",
            ]
        )
        == 0
    )
    assert main(["-w", ws, "lead", "add", "--email", "bob@globex.com", "--first-name", "Bob"]) == 0
    capsys.readouterr()
    assert main(["-w", ws, "lead", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["email"], r["stage"], r["tags"]) for r in listed] == [
        ("bob@globex.com", "New", []),
        ("Jane@acme.com", "Nurturing", ["emea", "webinar"]),
    ]
    assert {"id", "email", "first_name", "last_name", "company", "stage", "score", "tags"} <= set(
        listed[0]
    )
    assert main(["lead", "move", "jane@acme.com", "Sales-ready", "--workspace", ws]) == 0
    capsys.readouterr()
    assert main(["-w", ws, "lead", "list", "--stage", "sales-ready", "--json"]) == 0
    assert [r["first_name"] for r in json.loads(capsys.readouterr().out)] == ["Jane"]
    assert main(["-w", ws, "stage", "list", "--json"]) == 0
    stages = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert stages["Sales-ready"]["count"] == 1 and stages["New"]["count"] == 1
    assert stages["New"]["position"] == 0


def test_errors_are_one_line_on_stderr_with_exit_1(tmp_path: Path) -> None:
    ws = str(tmp_path / "w.sqlite")
    assert run("-w", ws, "lead", "add", "--email", "a@example.com").returncode == 0
    dup = run("-w", ws, "lead", "add", "--email", "A@EXAMPLE.COM")
    assert dup.returncode == 1
    assert dup.stderr.strip().count("\n") == 0 and "already exists" in dup.stderr
    bad = run("-w", ws, "lead", "add", "--email", "nope")
    assert bad.returncode == 1 and "Invalid email address" in bad.stderr
    missing = run("-w", ws, "lead", "move", "ghost@example.com", "Won")
    assert missing.returncode == 1 and "No lead with email" in missing.stderr
    not_ws = tmp_path / "notes.txt"
    not_ws.write_text("hello")
    refused = run("-w", str(not_ws), "lead", "list")
    assert refused.returncode == 1 and "not a NurtureDesk workspace" in refused.stderr
    assert not_ws.read_text() == "hello"
    assert "Traceback" not in dup.stderr + bad.stderr + missing.stderr + refused.stderr


def test_workspace_from_environment_variable(tmp_path: Path) -> None:
    ws = tmp_path / "env.sqlite"
    result = run(
        "lead", "add", "--email", "env@example.com", env={"NURTUREDESK_WORKSPACE": str(ws)}
    )
    assert result.returncode == 0, result.stderr
    assert ws.exists()


def test_demo_then_selftest_builds_the_window(tmp_path: Path) -> None:
    ws = str(tmp_path / "demo.sqlite")
    demo = run("-w", ws, "demo", "--leads", "250")
    assert demo.returncode == 0, demo.stderr
    counts = json.loads(run("-w", ws, "stage", "list", "--json").stdout)
    assert sum(s["count"] for s in counts) == 250
    assert sum(1 for s in counts if s["count"] > 0) >= 7  # spread across the funnel
    selftest = run("-w", ws, "selftest", env={"QT_QPA_PLATFORM": "offscreen"})
    assert selftest.returncode == 0, selftest.stderr
    assert "main window: ok" in selftest.stdout and "leads: 250" in selftest.stdout


def test_the_readme_demo_command_opens_a_lived_in_workspace(tmp_path: Path) -> None:
    # scripts/demo runs `nurturedesk --workspace W --demo` (no subcommand: the GUI). The
    # window stays open, so the process is stopped once the workspace holds the demo.
    ws = tmp_path / "demo.sqlite"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", "--workspace", str(ws), "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    leads_found = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and leads_found == 0:
            time.sleep(0.5)
            if ws.exists():
                with (
                    contextlib.closing(sqlite3.connect(ws, timeout=10)) as conn,
                    contextlib.suppress(sqlite3.OperationalError),  # tables not made yet
                ):
                    leads_found = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert leads_found >= 300, err


def _held_for_writing(ws: Path) -> bool:
    """Whether another process holds the workspace's write lock (an import under way)."""
    with contextlib.closing(sqlite3.connect(ws, timeout=0)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        conn.rollback()
        return False


def _state(ws: Path) -> tuple[int, int, list[str], str]:
    with contextlib.closing(sqlite3.connect(ws)) as conn:
        return (
            conn.execute("SELECT count(*) FROM leads").fetchone()[0],
            conn.execute("SELECT count(*) FROM import_batches").fetchone()[0],
            sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master")),
            conn.execute("PRAGMA integrity_check").fetchone()[0],
        )


def test_ctrl_c_during_an_import_rolls_it_back_with_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "w.sqlite"
    assert run("-w", str(ws), "lead", "add", "--email", "kept@example.com").returncode == 0
    before = _state(ws)
    src = tmp_path / "big.csv"
    with src.open("w") as fh:
        fh.write("email,first_name,company\n")
        # (big enough that the import is far from its end when the Ctrl+C comes, even with
        # the file read in a second process on a busy machine)
        fh.writelines(f"p{i}@d{i % 1000}.example.com,N{i},Co\n" for i in range(600_000))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", "-w", str(ws), "import", str(src)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The import's transaction holds the write lock from its first row to its commit:
        # interrupt once it has held it for a moment (not a brief write while opening).
        held_since = None
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if not _held_for_writing(ws):
                held_since = None
            elif held_since is None:
                held_since = time.monotonic()
            elif time.monotonic() - held_since > 0.3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err == "nurturedesk: Import cancelled; nothing was imported.\n"
    assert out == ""
    assert _state(ws) == before  # one lead, no import, indexes and all


def test_workspace_paths_that_are_no_workspace_get_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "leads.csv"
    src.write_text("email\nann@example.com\n")
    assert main(["-w", str(tmp_path), "import", str(src)]) == 1
    assert (
        capsys.readouterr().err == f"nurturedesk: {tmp_path} is a folder, not a workspace file.\n"
    )
    typo = tmp_path / "typo" / "dir"
    assert main(["-w", str(typo / "w.sqlite"), "import", str(src)]) == 1
    assert capsys.readouterr().err == f"nurturedesk: Folder {typo} does not exist.\n"
    assert not (tmp_path / "typo").exists()
    # `demo` sets a workspace up, folder and all; so does the first run on the default one.
    assert main(["-w", str(tmp_path / "new" / "demo.sqlite"), "demo", "--leads", "3"]) == 0
    assert (tmp_path / "new" / "demo.sqlite").exists()
    assert main(["lead", "add", "--email", "first@example.com"]) == 0
    assert (Path(os.environ["XDG_DATA_HOME"]) / "NurtureDesk" / "workspace.sqlite").exists()
