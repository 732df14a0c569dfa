"""Personal data requests: export everything; forget leaves nothing but the hash."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from nurturedesk.cli import main
from nurturedesk.core import leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import NotFoundError
from nurturedesk.core.importer import (
    ImportOptions,
    import_file,
    undo_import,
    worked_on_since,
)
from nurturedesk.core.interactions import log_interactions
from nurturedesk.core.privacy import (
    export_personal_data,
    forget_lead,
    is_suppressed,
    write_personal_data,
)
from nurturedesk.core.stages import find_stage


def make_person(ws: Workspace, tmp_path: Path) -> int:
    lead = leads.add_lead(
        ws,
        leads.LeadData(
            email="Secret.Person@Example.com",
            first_name="Secreta",
            last_name="Persona",
            company="Hidden Co",
            custom_fields={"Note": "met in Lisbon"},
            tags=("vip",),
        ),
    )
    leads.move_leads(ws, [lead.id], find_stage(ws, "Nurturing").id)
    path = tmp_path / "update.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([["Email", "Phone"], ["secret.person@example.com", "+1 555 0100"]])
    import_file(ws, path, ImportOptions(on_duplicate="merge"))  # leaves a before-image
    leads.delete_leads(ws, [lead.id])
    leads.add_lead(ws, leads.LeadData(email="secret.person@example.com", first_name="Again"))
    leads.add_lead(ws, leads.LeadData(email="other@example.com", first_name="Other"))
    return lead.id


def test_export_data_has_fields_tags_history_and_related_rows(
    workspace: Workspace, tmp_path: Path
) -> None:
    make_person(workspace, tmp_path)
    again = leads.find_lead(workspace, "secret.person@example.com").id
    log_interactions(workspace, [again], "call", note="asked for the price list")
    data = export_personal_data(workspace, "SECRET.PERSON@example.com")
    assert [lead["first_name"] for lead in data["leads"]] == ["Secreta", "Again"]
    first = data["leads"][0]
    assert first["tags"] == ["vip"] and first["phone"] == "+1 555 0100"
    assert first["custom_fields"] == {"Note": "met in Lisbon"}
    assert {"stage_history", "import_batch_updates"} <= set(data["related"])
    # Readable by the person: stages by name, no internal copies of other columns.
    moves = data["related"]["stage_history"]
    assert ("New", "Nurturing") in [(m["from_stage"], m["to_stage"]) for m in moves]
    (call,) = data["related"]["interactions"]
    assert call["note"] == "asked for the price list" and "day" not in call
    assert call["occurred_at"].startswith("2026-")
    out = write_personal_data(workspace, "secret.person@example.com", tmp_path / "data.json")
    assert json.loads(out.read_text())["email"] == "secret.person@example.com"
    with pytest.raises(NotFoundError):
        export_personal_data(workspace, "nobody@example.com")


def test_forget_leaves_no_trace_but_the_suppression_hash(
    workspace: Workspace, tmp_path: Path
) -> None:
    make_person(workspace, tmp_path)
    result = forget_lead(workspace, "secret.person@EXAMPLE.com")
    assert result.leads == 2
    assert workspace.path is not None

    with workspace.engine.connect() as conn:
        dump = "\n".join(conn.connection.driver_connection.iterdump())  # type: ignore[union-attr]
    for secret in ("secret.person", "Secreta", "Persona", "Hidden Co", "Lisbon", "555 0100"):
        assert secret.lower() not in dump.lower()
        for suffix in ("", "-wal"):
            file = Path(f"{workspace.path}{suffix}")
            if file.exists():
                assert secret.lower().encode() not in file.read_bytes().lower(), (secret, suffix)
    digest = hashlib.sha256(b"secret.person@example.com").hexdigest()
    assert digest in dump
    assert is_suppressed(workspace, "Secret.Person@example.com")
    assert not is_suppressed(workspace, "other@example.com")
    assert leads.find_lead(workspace, "other@example.com").first_name == "Other"

    path = tmp_path / "again.csv"
    path.write_text("Email\nsecret.person@example.com\n")
    assert import_file(workspace, path).skipped == 1


def test_cli_export_data_and_forget(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_person(workspace, tmp_path)
    ws_path = str(workspace.path)
    out = tmp_path / "person.json"
    assert (
        main(["lead", "export-data", "secret.person@example.com", "--out", str(out), "-w", ws_path])
        == 0
    )
    assert json.loads(out.read_text())["leads"]
    assert main(["lead", "forget", "secret.person@example.com", "-w", ws_path]) == 0
    assert "only a hash remains" in capsys.readouterr().out
    assert main(["lead", "forget", "secret.person@example.com", "-w", ws_path]) == 1
    assert "No lead with email" in capsys.readouterr().err


def test_forget_also_erases_rows_keyed_by_the_address(workspace: Workspace) -> None:
    """Tables of other capabilities that keep the address itself (a plain-text suppression
    list, an outbox row detached from its lead) lose those rows too."""
    import sqlalchemy as sa

    from nurturedesk.core.models import Base

    table = sa.Table(
        "test_mail_log",
        Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("to_address", sa.String(320)),
    )
    try:
        table.create(workspace.engine)
        with workspace.engine.begin() as conn:
            conn.execute(
                table.insert(),
                [{"to_address": "Kept@Example.com"}, {"to_address": "GONE@example.com"}],
            )
        leads.add_lead(workspace, leads.LeadData(email="gone@example.com"))
        result = forget_lead(workspace, "gone@example.com")
        assert result.rows_by_table["test_mail_log"] == 1
        with workspace.engine.connect() as conn:
            left = [r.to_address for r in conn.execute(sa.select(table))]
        assert left == ["Kept@Example.com"]
    finally:
        Base.metadata.remove(table)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_address_only_on_the_suppression_list_can_be_exported_and_forgotten(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(workspace.path)
    run_cli(capsys, "suppress", "add", "Only@Sup.com", "--note", "asked by phone", "-w", ws)

    # What is held about the person (a GDPR access request): the suppression entry.
    code, out, _ = run_cli(capsys, "lead", "export-data", "only@sup.com", "-w", ws)
    data = json.loads(out)
    assert code == 0 and data["leads"] == []
    assert [(r["email_key"], r["detail"]) for r in data["related"]["suppressions"]] == [
        ("only@sup.com", "asked by phone")
    ]

    code, out, _ = run_cli(capsys, "lead", "forget", "only@sup.com", "-w", ws)
    assert code == 0
    assert "no lead had this address; 1 row(s) holding it erased (suppressions)" in out
    with workspace.engine.connect() as conn:
        dump = "\n".join(conn.connection.driver_connection.iterdump())  # type: ignore[union-attr]
    assert "only@sup.com" not in dump.lower() and "asked by phone" not in dump
    for suffix in ("", "-wal"):
        file = Path(f"{ws}{suffix}")
        if file.exists():
            assert b"only@sup.com" not in file.read_bytes().lower(), suffix
    assert hashlib.sha256(b"only@sup.com").hexdigest() in dump
    assert is_suppressed(workspace, "only@sup.com")  # erased, and still never mailed
    path = tmp_path / "again.csv"
    path.write_text("Email\nonly@sup.com\n")
    assert import_file(workspace, path).skipped == 1

    code, _, err = run_cli(capsys, "lead", "forget", "only@sup.com", "-w", ws)
    assert code == 1 and "it was forgotten earlier and only its hash is kept" in err
    code, _, err = run_cli(capsys, "lead", "export-data", "only@sup.com", "-w", ws)
    assert code == 1 and "it was forgotten earlier" in err
    code, _, err = run_cli(capsys, "lead", "forget", "nowhere@sup.com", "-w", ws)
    assert (code, err) == (1, "nurturedesk: No lead with email 'nowhere@sup.com'.\n")


def test_suppress_remove_says_what_it_did(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(workspace.path)
    run_cli(capsys, "suppress", "add", "listed@example.com", "-w", ws)
    code, out, _ = run_cli(capsys, "suppress", "remove", "Listed@example.com", "-w", ws)
    assert code == 0 and out == "Listed@example.com removed from the suppression list.\n"
    assert not is_suppressed(workspace, "listed@example.com")

    code, out, err = run_cli(capsys, "suppress", "remove", "listed@example.com", "-w", ws)
    assert (code, out) == (1, "")
    assert err == "nurturedesk: listed@example.com is not on the suppression list.\n"

    # A forgotten address is kept only as a hash so that it stays blocked: never let go.
    leads.add_lead(workspace, leads.LeadData(email="gone@example.com"))
    forget_lead(workspace, "gone@example.com")
    code, out, err = run_cli(capsys, "suppress", "remove", "gone@example.com", "-w", ws)
    assert (code, out) == (1, "")
    assert err == (
        "nurturedesk: gone@example.com was forgotten at the person's request; it stays blocked.\n"
    )
    # Typed in again by hand, it is back on the plain list: removing that is refused too.
    leads.add_lead(workspace, leads.LeadData(email="gone@example.com"))
    code, _, err = run_cli(capsys, "suppress", "remove", "gone@example.com", "-w", ws)
    assert code == 1 and "it stays blocked" in err
    assert is_suppressed(workspace, "gone@example.com")


def test_restoring_a_backup_from_before_a_forget_does_not_bring_the_person_back(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backup taken before the forget still holds the person. Restored, they were back on
    the board (enrolments and all) and no longer blocked: imported and mailed again."""
    make_person(workspace, tmp_path)
    ws = str(workspace.path)
    backup = tmp_path / "before.sqlite"
    run_cli(capsys, "backup", str(backup), "-w", ws)
    run_cli(capsys, "suppress", "add", "later@example.com", "-w", ws)  # only after the backup
    run_cli(capsys, "lead", "forget", "secret.person@example.com", "-w", ws)
    run_cli(capsys, "lead", "forget", "later@example.com", "-w", ws)
    workspace.close()

    code, out, _ = run_cli(capsys, "restore", str(backup), "-w", ws)
    assert code == 0
    assert "1 address forgotten since the backup was taken was erased" in out
    restored = open_workspace(Path(ws))
    try:
        assert [lead.email for lead in leads.list_leads(restored)] == ["other@example.com"]
        with pytest.raises(NotFoundError, match="forgotten earlier"):
            export_personal_data(restored, "secret.person@example.com")
        with restored.engine.connect() as conn:
            dump = "\n".join(conn.connection.driver_connection.iterdump())  # type: ignore[union-attr]
        for secret in ("secret.person", "Secreta", "Hidden Co", "Lisbon"):
            assert secret.lower() not in dump.lower(), secret
        assert is_suppressed(restored, "later@example.com")  # its hash came along
        path = tmp_path / "again.csv"
        path.write_text("Email\nsecret.person@example.com\nlater@example.com\n")
        assert import_file(restored, path).skipped == 2
    finally:
        restored.close()


def test_forget_deletes_the_sent_mail_files_and_names_the_backups_still_holding_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file transport's .eml files hold the address, the name and the text; they stayed
    after a forget that said "only a hash remains". The automatic backups hold the person
    too, and nothing said so."""
    from nurturedesk.core.backups import make_daily_backup

    ws_path = tmp_path / "ws.sqlite"
    w = ("-w", str(ws_path))
    eml = tmp_path / "eml"
    run_cli(capsys, "smtp", "file", str(eml), "--from", "Me <me@example.com>", *w)
    for email, first in (("Gone@Example.org", "Goneria"), ("stays@example.org", "Stayer")):
        assert run_cli(capsys, "lead", "add", "--email", email, "--first-name", first, *w)[0] == 0
    run_cli(capsys, "newsletter", "add", "--template", "Newsletter", "--stage", "New", "News", *w)
    code, out, err = run_cli(capsys, "send-due", *w)
    assert code == 0 and "sent 2" in out, (out, err)
    assert len(list(eml.glob("*.eml"))) == 2
    ws = open_workspace(ws_path)
    try:
        backup = make_daily_backup(ws).path
    finally:
        ws.close()

    code, out, _ = run_cli(capsys, "lead", "forget", "gone@example.org", *w)
    assert code == 0 and "1 sent-mail file(s) deleted" in out
    (left,) = eml.glob("*.eml")
    assert b"Stayer" in left.read_bytes()
    assert "1 earlier copy of the workspace still holds this person" in out
    assert str(backup) in out
    run_cli(capsys, "lead", "forget", "stays@example.org", *w)
    assert not list(eml.glob("*.eml"))


def test_undoing_an_import_after_forgetting_its_last_lead_keeps_a_lead_added_since(
    workspace: Workspace, clock: FakeClock, tmp_path: Path
) -> None:
    """SQLite hands the id of the erased last lead to the next one: undoing the import (its
    id range) then erased that new lead, with a warning that called it one of the import's."""
    path = tmp_path / "two.csv"
    path.write_text("Email\na@example.org\nb@example.org\n")
    batch = import_file(workspace, path).batch_id
    assert batch is not None
    forget_lead(workspace, "b@example.org")
    clock.advance(minutes=5)
    later = leads.add_lead(workspace, leads.LeadData(email="later@example.org")).id
    assert later == leads.find_lead(workspace, "a@example.org").id + 1  # the id reused

    assert worked_on_since(workspace, batch) == 0
    assert undo_import(workspace, batch).removed == 1
    assert [lead.email for lead in leads.list_leads(workspace)] == ["later@example.org"]


def test_export_data_says_which_import_a_lead_came_from(
    workspace: Workspace, clock: FakeClock, tmp_path: Path
) -> None:
    """A person may ask where their data came from when it was not from them."""
    path = tmp_path / "fair-2026.csv"
    path.write_text("Email,First name\nbought@example.org,Bought\n")
    batch = import_file(workspace, path).batch_id
    clock.advance(minutes=1)
    leads.add_lead(workspace, leads.LeadData(email="typed@example.org"))
    (lead,) = export_personal_data(workspace, "bought@example.org")["leads"]
    assert [(i["import"], Path(i["file"]).name) for i in lead["imported_from"]] == [
        (batch, "fair-2026.csv")
    ]
    (typed,) = export_personal_data(workspace, "typed@example.org")["leads"]
    assert typed["imported_from"] == []
