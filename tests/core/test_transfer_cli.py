"""The command line: import --json, dry runs, undo, export, segments and bulk actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nurturedesk.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_export_segment_bulk_and_undo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    src = tmp_path / "list.csv"
    src.write_text(
        "Mail;Vorname;Firma;Score\n"
        "anna@example.de;Anna;Müller GmbH;10\n"
        "ANNA@example.de;Anna;dup;\n"
        "kaputt;X;Y;\n"
        "ben@example.de;Ben;Beta AG;\n",
        encoding="utf-8",
    )
    code, out, _ = run(
        capsys,
        "import",
        str(src),
        "-w",
        ws,
        "--json",
        "--map",
        "Mail=email",
        "--tag",
        "Messe",
        "--source",
        "Messe 2026",
        "--dry-run",
    )
    data = json.loads(out)
    assert code == 0 and data["dry_run"] and data["imported"] == 2
    assert len(data["problems"]) == 1 and data["problems"][0].startswith("row 4: ")
    code, out, _ = run(capsys, "import", str(src), "-w", ws, "--map", "Mail=email", "--dry-run")
    assert "Would import 4 rows" in out and "\n  rejected row 4: " in out
    assert "\n  skipped: 1 repeated in the file\n" in out  # (ANNA@ after anna@)
    code, out, _ = run(capsys, "lead", "list", "-w", ws)
    assert out == ""

    code, out, _ = run(capsys, "import", str(src), "-w", ws, "--json", "--tag", "Messe")
    data = json.loads(out)
    assert {k: data[k] for k in ("rows", "imported", "updated", "skipped", "rejected")} == {
        "rows": 4,
        "imported": 2,
        "updated": 0,
        "skipped": 1,
        "rejected": 1,
    }
    assert Path(data["rejected_file"]).exists()
    assert data["mapping"]["Vorname"] == "first_name" and data["mapping"]["Score"] == "ignore"

    code, out, _ = run(capsys, "segment", "save", "Firmen", "company ~ gmbh", "-w", ws)
    assert "1 leads now" in out
    code, out, _ = run(capsys, "bulk", "tag", "Kunde", "--segment", "firmen", "-w", ws)
    assert "Tagged 1 leads" in out
    code, out, _ = run(capsys, "bulk", "enrol", "1", "--tag", "Messe", "-w", ws)
    assert code == 0 and "Enrolled 2 leads in" in out
    code, out, _ = run(capsys, "bulk", "unenrol", "1", "--segment", "firmen", "-w", ws)
    assert code == 0 and "Stopped 1 enrolments" in out
    out_file = tmp_path / "out.csv"
    code, out, _ = run(capsys, "export", str(out_file), "--tag", "Kunde", "-w", ws)
    assert "Exported 1 leads" in out and "anna@example.de" in out_file.read_text("utf-8-sig")

    # Tagged and enrolled by hand since: the undo asks first.
    code, _, err = run(capsys, "imports", "undo", str(data["batch_id"]), "-w", ws)
    assert code == 1 and "were edited, tagged, moved, enrolled or had an interaction since" in err
    code, out, _ = run(capsys, "imports", "undo", str(data["batch_id"]), "--force", "-w", ws)
    assert "2 leads removed" in out
    code, out, _ = run(capsys, "lead", "list", "-w", ws)
    assert out == ""
    code, _, err = run(capsys, "imports", "undo", str(data["batch_id"]), "-w", ws)
    assert code == 1 and "already undone" in err


def test_bad_input_gets_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "w.sqlite")
    src = tmp_path / "names.csv"
    src.write_text("Name\nAnn\n")
    code, _, err = run(capsys, "import", str(src), "-w", ws)
    assert code == 1 and "No column holds the email address" in err
    code, _, err = run(capsys, "import", str(src), "-w", ws, "--map", "Name=mail")
    assert code == 1 and "Unknown field 'mail'" in err
    code, _, err = run(capsys, "segment", "save", "x", "score >> 3", "-w", ws)
    assert code == 1 and "'> 3' is not a number" in err
    with pytest.raises(SystemExit) as exc:
        main(["import", str(src), "--on-duplicate", "replace", "-w", ws])
    assert exc.value.code == 2


def test_unknown_tag_or_segment_is_an_error_naming_the_existing_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    run(capsys, "lead", "add", "--email", "ann@example.com", "--tag", "Webinar", "-w", ws)
    out_file = str(tmp_path / "out.csv")
    code, out, err = run(capsys, "export", out_file, "--segment", "nosuch", "-w", ws)
    assert (code, out) == (1, "")
    assert err == "nurturedesk: No segment named 'nosuch'. There are no segments yet.\n"
    run(capsys, "segment", "save", "Hot", "score >= 50", "-w", ws)
    for argv, message in [
        (("export", out_file, "--tag", "nosuch"), "No tag named 'nosuch'. Tags: Webinar.\n"),
        (
            ("export", out_file, "--segment", "nosuch"),
            "No segment named 'nosuch'. Segments: Hot.\n",
        ),
        (("export", out_file, "--stage", "nosuch"), "No stage named 'nosuch'. Stages: New, "),
        (("lead", "list", "--tag", "nosuch"), "No tag named 'nosuch'. Tags: Webinar.\n"),
        (("bulk", "tag", "x", "--tag", "nosuch"), "No tag named 'nosuch'. Tags: Webinar.\n"),
    ]:
        code, out, err = run(capsys, *argv, "-w", ws)
        assert (code, out) == (1, ""), argv
        assert err.startswith("nurturedesk: " + message), (argv, err)
    assert not Path(out_file).exists()
    code, out, _ = run(capsys, "export", out_file, "--tag", "webinar", "-w", ws)
    assert code == 0 and "Exported 1 leads" in out


def test_import_says_how_many_rejected_rows_it_did_not_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    src = tmp_path / "list.csv"
    src.write_text("email\nok@example.com\n" + "".join(f"bad{i}\n" for i in range(5)))
    report = tmp_path / "report.csv"
    code, out, _ = run(capsys, "import", str(src), "--report", str(report), "-w", ws)
    assert code == 0
    lines = out.splitlines()
    assert sum(line.startswith("  rejected row ") for line in lines) == 3
    assert f"  ... and 2 more (see {report})" in lines
    src.write_text("email\nok2@example.com\nbad\n")
    code, out, _ = run(capsys, "import", str(src), "-w", ws)
    assert "  rejected row 3: " in out and "more (see" not in out


def test_bulk_delete_says_how_the_leads_can_really_come_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    run(capsys, "lead", "add", "--email", "ann@example.com", "--tag", "old", "-w", ws)
    code, out, _ = run(capsys, "bulk", "delete", "--tag", "old", "-w", ws)
    assert code == 0 and out.startswith("Deleted 1 leads. There is no undo from the command line")
    assert "GUI" not in out and "`nurturedesk backups`" in out
    assert run(capsys, "lead", "list", "-w", ws)[1] == ""


def test_encodings_and_files_that_are_no_text_get_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    src = tmp_path / "leads.csv"
    src.write_bytes("email,name\nann@example.com,Ren\xe9e\n".encode("cp1252"))
    for encoding, message in [
        ("rot13", "nurturedesk: 'rot13' is not a text encoding.\n"),
        ("nosuch", "nurturedesk: Unknown encoding 'nosuch'.\n"),
        ("utf-16", "nurturedesk: leads.csv cannot be read as utf-16: UTF-16 stream does not"),
    ]:
        code, _, err = run(capsys, "import", str(src), "-w", ws, "--encoding", encoding)
        assert code == 1 and err.startswith(message) and err.count("\n") == 1
    code, out, _ = run(capsys, "import", str(src), "-w", ws, "--encoding", "utf-8", "--dry-run")
    assert code == 0
    assert "Warning: 1 character could not be read as utf-8; check the encoding." in out
    code, out, _ = run(capsys, "import", str(src), "-w", ws, "--encoding", "ascii", "--json")
    assert json.loads(out)["warnings"] == [
        "1 character could not be read as ascii; check the encoding"
    ]
    photo = tmp_path / "photo.csv"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 6)
    code, _, err = run(capsys, "import", str(photo), "-w", ws)
    assert (code, err) == (
        1,
        "nurturedesk: photo.csv is not a text (CSV/TSV) or .xlsx file (it is a PNG image).\n",
    )


def test_undoing_an_import_whose_leads_were_worked_on_asks_for_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(tmp_path / "w.sqlite")
    src = tmp_path / "list.csv"
    src.write_text("Email\nann@example.com\nbob@example.com\n", encoding="utf-8")
    assert run(capsys, "import", str(src), "-w", ws)[0] == 0
    assert run(capsys, "lead", "move", "ann@example.com", "Nurturing", "-w", ws)[0] == 0
    code, _, err = run(capsys, "imports", "undo", "1", "-w", ws)
    assert code == 1
    assert (
        "1 of the leads import #1 added were edited, tagged, moved, enrolled or had an interaction"
        in err
    )
    assert "--force" in err
    code, out, _ = run(capsys, "lead", "list", "-w", ws)
    assert "ann@example.com" in out  # nothing was undone
    code, out, _ = run(capsys, "imports", "undo", "1", "--force", "-w", ws)
    assert code == 0 and "2 leads removed" in out


def test_a_name_that_matches_nothing_lists_a_few_of_the_names_there_are() -> None:
    from nurturedesk.core.errors import no_such

    message = str(no_such("tag", "typo", [f"tag{i}" for i in range(300)]))
    assert message.startswith("No tag named 'typo'. Tags: tag0, tag1,")
    assert message.endswith("tag19 and 280 more.") and "tag20" not in message
