"""Bulk enrol/unenrol (nurture sequences) with exact undo, and forget against real nurture
data: enrolments, sent mail, the suppression list."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurturedesk.core import bulk, leads
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.errors import UserError
from nurturedesk.core.mailconfig import configure_file_transport
from nurturedesk.core.privacy import forget_lead, is_suppressed
from nurturedesk.core.sequences import enroll, list_enrollments, save_sequence
from nurturedesk.core.settings import set_setting
from nurturedesk.core.suppression import suppress
from nurturedesk.core.templates import save_template


@pytest.fixture
def mail_ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    configure_file_transport(workspace, tmp_path / "eml", "Alex <alex@example.com>")
    set_setting(workspace, "mail_timezone", "UTC")
    return workspace


def track(ws: Workspace, name: str = "Webinar follow-up") -> int:
    t = save_template(ws, f"T {name}", "Hi {{ lead.first_name }}", "Body")
    return save_sequence(
        ws, name, [(t.id, 0), (t.id, 7)], window_days=range(7), window_hours=(0, 24)
    ).id


def add(ws: Workspace, email: str, first: str = "") -> int:
    return leads.add_lead(ws, leads.LeadData(email=email, first_name=first)).id


def states(ws: Workspace, seq: int) -> dict[int, str]:
    return {e.lead_id: e.state for e in list_enrollments(ws, sequence_id=seq)}


def test_bulk_enrol_leaves_suppressed_out_and_undo_restores_exactly(mail_ws: Workspace) -> None:
    seq = track(mail_ws)
    a, b, c = (
        add(mail_ws, "a@example.com"),
        add(mail_ws, "b@example.com"),
        add(mail_ws, "c@example.com"),
    )
    enroll(mail_ws, [c], seq)
    bulk.unenrol_leads(mail_ws, [c], "Webinar follow-up")  # c has a stopped enrolment
    suppress(mail_ws, "B@example.com", "unsubscribed")
    before = {e.lead_id: e for e in list_enrollments(mail_ws, sequence_id=seq)}

    change = bulk.enrol_leads(mail_ws, [a, b, c], "Webinar follow-up")

    assert change.suppressed == (b,)
    assert states(mail_ws, seq) == {a: "active", c: "active"}
    bulk.undo_enrolment_change(mail_ws, change)
    after = {e.lead_id: e for e in list_enrollments(mail_ws, sequence_id=seq)}
    assert after == before  # a has none again; c is stopped as it was


def test_bulk_unenrol_and_undo(mail_ws: Workspace) -> None:
    seq = track(mail_ws)
    a, b = add(mail_ws, "a@example.com"), add(mail_ws, "b@example.com")
    enroll(mail_ws, [a, b], seq)
    before = list_enrollments(mail_ws, sequence_id=seq)
    change = bulk.unenrol_leads(mail_ws, [a, b], seq)
    assert set(states(mail_ws, seq).values()) == {"stopped"}
    bulk.undo_enrolment_change(mail_ws, change)
    assert list_enrollments(mail_ws, sequence_id=seq) == before


def test_undoing_an_enrolment_that_already_sent_stops_it_and_keeps_the_mail(
    mail_ws: Workspace,
) -> None:
    seq = track(mail_ws)
    a = add(mail_ws, "a@example.com", "Ann")
    change = bulk.enrol_leads(mail_ws, [a], seq)
    assert len(send_due(mail_ws).delivery.sent) == 1
    bulk.undo_enrolment_change(mail_ws, change)
    assert states(mail_ws, seq) == {a: "stopped"}


def test_forget_with_nurture_history_leaves_only_the_hash_and_stays_unmailable(
    mail_ws: Workspace, tmp_path: Path
) -> None:
    seq = track(mail_ws)
    ann = add(mail_ws, "ann.private@example.com", "Annabel")
    bulk.enrol_leads(mail_ws, [ann], seq)
    assert len(send_due(mail_ws).delivery.sent) == 1
    suppress(mail_ws, "ann.private@example.com", "unsubscribed")
    assert mail_ws.path is not None
    from nurturedesk.core.interactions import record
    from nurturedesk.core.privacy import export_personal_data

    record(mail_ws, ann, "whitepaper_downloaded")
    related = export_personal_data(mail_ws, "ann.private@example.com")["related"]
    assert {"enrollments", "outbox", "interactions"} <= set(related)  # emails sent, history
    assert related["outbox"][0]["to_address"] == "ann.private@example.com"

    forget_lead(mail_ws, "ann.private@example.com")

    with mail_ws.engine.connect() as conn:
        dump = "\n".join(conn.connection.driver_connection.iterdump())  # type: ignore[union-attr]
    assert "ann.private" not in dump and "Annabel" not in dump
    for suffix in ("", "-wal"):
        file = Path(f"{mail_ws.path}{suffix}")
        if file.exists():
            assert b"ann.private" not in file.read_bytes()
    assert is_suppressed(mail_ws, "Ann.Private@example.com")

    # Typed in again by hand: straight back on the list the nurture engine checks.
    again = add(mail_ws, "ann.private@example.com", "Ann")
    with pytest.raises(UserError, match="suppression list"):
        enroll(mail_ws, [again], seq)
    assert bulk.enrol_leads(mail_ws, [again], seq).suppressed == (again,)


def test_imported_leads_meet_the_stage_rules_and_undo_takes_them_out(
    mail_ws: Workspace, tmp_path: Path
) -> None:
    from nurturedesk.core.importer import import_file, undo_import
    from nurturedesk.core.sequences import list_sequences, set_stage_sequence
    from nurturedesk.core.stages import find_stage

    default = list_sequences(mail_ws)[0]
    set_stage_sequence(mail_ws, find_stage(mail_ws, "Nurturing").id, default.id)
    src = tmp_path / "fair.csv"
    src.write_text("Email,Stage\nn1@example.com,Nurturing\nn2@example.com,New\n")
    result = import_file(mail_ws, src)
    # A small import names its leads: the enrolment rules apply at once.
    enrolled = {e.lead_email for e in list_enrollments(mail_ws, sequence_id=default.id)}
    assert enrolled == {"n1@example.com"}
    assert result.batch_id is not None
    undo_import(mail_ws, result.batch_id)
    assert list_enrollments(mail_ws, sequence_id=default.id) == []


def test_a_big_import_is_enrolled_at_the_next_tick(
    mail_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nurturedesk.core import importer
    from nurturedesk.core.sequences import list_sequences, set_stage_sequence
    from nurturedesk.core.stages import find_stage

    monkeypatch.setattr(importer, "EVENT_IDS_LIMIT", 1)  # "big": more leads than the limit
    default = list_sequences(mail_ws)[0]
    set_stage_sequence(mail_ws, find_stage(mail_ws, "Nurturing").id, default.id)
    src = tmp_path / "fair.csv"
    src.write_text("Email,Stage\nn1@example.com,Nurturing\nn2@example.com,Nurturing\n")
    importer.import_file(mail_ws, src)
    assert list_enrollments(mail_ws, sequence_id=default.id) == []
    send_due(mail_ws)  # the dispatch tick applies the rules to leads from any path
    assert len(list_enrollments(mail_ws, sequence_id=default.id)) == 2
