"""`lead log|show|qualify|accept|reject` and `scoring show|set|undo` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nurturedesk.cli import main


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--workspace", str(ws)])
    out, err = capsys.readouterr()
    return code, out, err


def test_log_show_qualify_and_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "w.sqlite"
    email = "jane@acme.example.com"
    assert run(capsys, ws, "lead", "add", "--email", email, "--first-name", "Jane",
               "--company", "Acme")[0] == 0  # fmt: skip
    assert run(capsys, ws, "scoring", "set", "--half-life", "off")[0] == 0
    code, out, _ = run(capsys, ws, "lead", "log", email, "webinar-attended", "--note", "webinar X")
    assert (code, out.strip()) == (0, "Logged webinar attended for Jane: score 25 (+25)")
    code, out, _ = run(
        capsys, ws, "lead", "log", email, "meeting", "--at", "2026-01-05T10:00:00+01:00"
    )
    assert code == 0
    code, out, _ = run(
        capsys, ws, "lead", "qualify", email, "--answer", "budget=yes", "--answer", "need=yes"
    )
    assert (code, out.strip()) == (0, "Jane: fit 40 points, grade C")
    code, out, _ = run(capsys, ws, "lead", "show", email, "--json")
    report = json.loads(out)
    assert (report["score"], report["grade"], report["stage"]) == (55, "C", "New")
    assert report["ledger"]["total"] == 55
    assert sorted(e["contribution"] for e in report["ledger"]["entries"]) == [25, 30]
    meeting = next(i for i in report["interactions"] if i["type"] == "meeting")
    assert meeting["at"] == "2026-01-05T09:00:00"  # converted to UTC
    assert {i["note"] for i in report["interactions"]} == {"webinar X", ""}

    code, out, _ = run(capsys, ws, "scoring", "set", "--points", "meeting=80")
    assert code == 0 and "1 leads became sales-ready" in out
    code, out, _ = run(capsys, ws, "lead", "show", email, "--json")
    assert json.loads(out)["stage"] == "Sales-ready" and json.loads(out)["score"] == 105
    code, out, _ = run(capsys, ws, "scoring", "notices", "--json")
    assert [n["message"] for n in json.loads(out)] == ["Jane (Acme) is sales-ready, score 105"]
    assert run(capsys, ws, "scoring", "undo")[0] == 0
    code, out, _ = run(capsys, ws, "scoring", "show", "--json")
    assert json.loads(out)["points"]["meeting"] == 30
    code, out, _ = run(capsys, ws, "lead", "reject", email, "--reason", "no budget")
    assert code == 0 and "rejected (no budget)" in out


def test_bad_input_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "w.sqlite"
    email = "jane@acme.example.com"
    run(capsys, ws, "lead", "add", "--email", email)
    code, _, err = run(capsys, ws, "lead", "log", email, "dance")
    assert code == 1 and err.startswith("nurturedesk: Unknown interaction type 'dance'")
    code, _, err = run(capsys, ws, "lead", "log", email, "call", "--at", "yesterday")
    assert code == 1 and "ISO format" in err
    code, _, err = run(capsys, ws, "lead", "log", "nobody@example.com", "call")
    assert code == 1 and "No lead with email" in err
    code, _, err = run(capsys, ws, "lead", "qualify", email, "--answer", "budget")
    assert code == 1 and "QUESTION=ANSWER" in err
    code, _, err = run(capsys, ws, "scoring", "set", "--half-life", "-3")
    assert code == 1 and "Half-life" in err
    code, _, err = run(capsys, ws, "lead", "accept", email)
    assert code == 1 and "not waiting for sales" in err
    code, _, err = run(capsys, ws, "scoring", "undo")
    assert code == 1 and "no scoring rule change to undo" in err
    assert len(err.strip().splitlines()) == 1


def test_questions_and_grades_can_be_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "w.sqlite"
    email = "jane@acme.example.com"
    run(capsys, ws, "lead", "add", "--email", email, "--first-name", "Jane")
    code, out, _ = run(
        capsys, ws, "scoring", "question", "region", "--label", "Region",
        "--option", "emea=30", "--option", "other=0",
    )  # fmt: skip
    assert code == 0 and "region" in out
    assert run(capsys, ws, "scoring", "set", "--grades", "C=30")[0] == 0
    code, out, _ = run(capsys, ws, "lead", "qualify", email, "--answer", "region=emea")
    assert out.strip() == "Jane: fit 30 points, grade C"
    assert run(capsys, ws, "scoring", "question", "region", "--remove")[0] == 0
    code, out, _ = run(capsys, ws, "lead", "show", email, "--json")
    assert json.loads(out)["grade"] == ""  # its answer is kept but grades nothing now
    code, _, err = run(capsys, ws, "scoring", "question", "nope", "--remove")
    assert code == 1 and "no question 'nope'" in err
