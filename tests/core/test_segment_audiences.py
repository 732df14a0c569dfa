"""Segments as newsletter audiences and enrolment targets (issue 5's segments, issue 3's
newsletters and sequences): core and command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from nurturedesk.cli import main
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import list_newsletters, schedule_newsletter, send_due
from nurturedesk.core.errors import NotFoundError, ValidationError
from nurturedesk.core.leads import LeadData, add_lead, delete_leads
from nurturedesk.core.mailconfig import configure_file_transport
from nurturedesk.core.models import Lead, OutboxMessage
from nurturedesk.core.segments import delete_segment, parse_condition, save_segment
from nurturedesk.core.settings import set_setting
from nurturedesk.core.stages import find_stage
from nurturedesk.core.suppression import suppress
from nurturedesk.core.templates import find_template


@pytest.fixture
def mail_ws(workspace: Workspace, tmp_path: Path) -> Workspace:
    configure_file_transport(workspace, tmp_path / "eml", "Alex <alex@example.com>")
    set_setting(workspace, "mail_timezone", "UTC")
    return workspace


def lead(ws: Workspace, name: str, score: int, stage: str = "New") -> int:
    lead_id = add_lead(
        ws, LeadData(email=f"{name}@example.org", first_name=name), find_stage(ws, stage).id
    ).id
    with ws.session() as s:
        s.execute(update(Lead).where(Lead.id == lead_id).values(score=score))
    return lead_id


def set_score(ws: Workspace, lead_id: int, score: int) -> None:
    with ws.session() as s:
        s.execute(update(Lead).where(Lead.id == lead_id).values(score=score))


def recipients(ws: Workspace) -> list[str]:
    """Who one dispatch pass mailed."""
    sent = send_due(ws).delivery.sent
    with ws.session() as s:
        return sorted(s.scalars(select(OutboxMessage.to_address).where(OutboxMessage.id.in_(sent))))


def test_a_newsletter_goes_to_the_segment_members_of_each_run(
    mail_ws: Workspace, clock: FakeClock
) -> None:
    save_segment(mail_ws, "Hot", [parse_condition("score >= 50")])
    ann, bob = lead(mail_ws, "ann", 60), lead(mail_ws, "bob", 10)
    lead(mail_ws, "cy", 70)
    suppress(mail_ws, "cy@example.org", "unsubscribed")
    delete_leads(mail_ws, [lead(mail_ws, "dee", 80)])
    template = find_template(mail_ws, "Newsletter").id
    schedule_newsletter(mail_ws, "Hot news", template, segment="hot", recurrence="monthly")
    assert [n.audience for n in list_newsletters(mail_ws)] == ["segment Hot"]

    assert recipients(mail_ws) == ["ann@example.org"]  # not suppressed, not deleted, not cold
    assert send_due(mail_ws).newsletter_rows == 0  # this run is done

    # Membership is taken when the newsletter runs, not when it was scheduled.
    set_score(mail_ws, ann, 0)
    set_score(mail_ws, bob, 55)
    clock.advance(days=31)
    assert recipients(mail_ws) == ["bob@example.org"]


def test_segment_and_stage_together_narrow_the_audience(mail_ws: Workspace) -> None:
    save_segment(mail_ws, "Hot", [parse_condition("score >= 50")])
    lead(mail_ws, "ann", 60, "Newsletter")
    lead(mail_ws, "bob", 60, "New")
    lead(mail_ws, "cy", 10, "Newsletter")
    template = find_template(mail_ws, "Newsletter").id
    schedule_newsletter(
        mail_ws,
        "Hot readers",
        template,
        segment="Hot",
        stage_id=find_stage(mail_ws, "Newsletter").id,
    )
    assert list_newsletters(mail_ws)[0].audience == "stage Newsletter + segment Hot"
    assert recipients(mail_ws) == ["ann@example.org"]


def test_unknown_segment_or_no_audience_is_refused_clearly(mail_ws: Workspace) -> None:
    template = find_template(mail_ws, "Newsletter").id
    with pytest.raises(NotFoundError, match="No segment named 'Nope'"):
        schedule_newsletter(mail_ws, "X", template, segment="Nope")
    with pytest.raises(ValidationError, match="a stage, a tag or a segment"):
        schedule_newsletter(mail_ws, "X", template)
    assert list_newsletters(mail_ws) == []


def test_a_deleted_segment_holds_the_run_until_it_is_back(
    mail_ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    hot = save_segment(mail_ws, "Hot", [parse_condition("score >= 50")])
    lead(mail_ws, "ann", 60)
    lead(mail_ws, "bob", 10)
    template = find_template(mail_ws, "Newsletter").id
    schedule_newsletter(mail_ws, "Hot news", template, segment="Hot")
    delete_segment(mail_ws, "Hot")

    # Never a wider audience by accident: nobody is mailed and the run stays due.
    assert recipients(mail_ws) == []
    assert recipients(mail_ws) == []
    [held] = list_newsletters(mail_ws)
    assert held.runs == 0 and held.next_run_at is not None
    assert held.audience == "segment Hot + (segment deleted: held)"
    assert sum("held" in r.getMessage() for r in caplog.records) == 1  # said once, not per tick

    save_segment(mail_ws, hot.name, list(hot.conditions))  # what undoing the deletion does
    assert recipients(mail_ws) == ["ann@example.org"]
    assert list_newsletters(mail_ws)[0].runs == 1


def nd(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_segment_audiences_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ("-w", str(tmp_path / "ws.sqlite"))
    nd(capsys, "smtp", "file", str(tmp_path / "eml"), "--from", "Me <me@example.com>", *w)
    for name, company in (("ann", "Acme"), ("bob", "Acme"), ("cy", "Other"), ("dee", "Acme")):
        code, _, err = nd(
            capsys, "lead", "add", "--email", f"{name}@example.org", "--company", company, *w
        )
        assert code == 0, err
    nd(capsys, "suppress", "add", "dee@example.org", *w)
    assert nd(capsys, "segment", "save", "Acme people", "company ~ acme", *w)[0] == 0

    # sequence enroll --segment: the members now; suppressed left out; a second run is a no-op.
    code, out, err = nd(
        capsys, "sequence", "enroll", "Default nurture track", "--segment", "acme people", *w
    )
    assert code == 0, err
    assert "Enrolled 2 of 3 leads in segment 'Acme people'" in out
    assert "1 left out (on the suppression list)" in out
    code, out, _ = nd(
        capsys, "sequence", "enroll", "Default nurture track", "--segment", "Acme people", *w
    )
    assert "Enrolled 0 of 3" in out and "2 already enrolled" in out
    code, out, _ = nd(capsys, "sequence", "enrolments", "--json", *w)
    assert sorted(e["lead_email"] for e in json.loads(out)) == [
        "ann@example.org",
        "bob@example.org",
    ]
    # bulk enrol has the same selection.
    code, out, err = nd(capsys, "bulk", "enrol", "Recycle track", "--segment", "Acme people", *w)
    assert code == 0 and "Enrolled 2 leads in Recycle track" in out, err
    # Usage mistakes get one clear line.
    code, _, err = nd(capsys, "sequence", "enroll", "Default nurture track", *w)
    assert code == 1 and "EMAIL, or --segment NAME" in err
    code, _, err = nd(
        capsys, "sequence", "enroll", "ann@example.org", "Recycle track", "--segment", "x", *w
    )
    assert code == 1 and "not both" in err
    code, _, err = nd(capsys, "sequence", "enroll", "Recycle track", "--segment", "Nope", *w)
    assert code == 1 and "No segment named 'Nope'" in err

    # newsletter add --segment
    code, _, err = nd(
        capsys,
        "newsletter",
        "add",
        "Acme news",
        "--template",
        "Newsletter",
        "--segment",
        "Nope",
        *w,
    )
    assert code == 1 and "No segment named 'Nope'" in err
    code, out, err = nd(
        capsys,
        "newsletter",
        "add",
        "Acme news",
        "--template",
        "Newsletter",
        "--segment",
        "acme PEOPLE",
        *w,
    )
    assert code == 0, err
    assert "\tsegment Acme people\tonce\t" in nd(capsys, "newsletter", "list", *w)[1]
    code, out, err = nd(capsys, "send-due", *w)
    assert code == 0, err
    items = json.loads(nd(capsys, "outbox", "list", "--json", *w)[1])
    newsletter = sorted(i["to_address"] for i in items if i["kind"] == "newsletter")
    assert newsletter == ["ann@example.org", "bob@example.org"]  # not cy (Other), not dee
    assert "runs 1" in nd(capsys, "newsletter", "list", *w)[1]


def test_renaming_a_segment_keeps_its_newsletters_and_makes_no_copy(
    mail_ws: Workspace,
) -> None:
    from nurturedesk.core.segments import list_segments

    save_segment(mail_ws, "Hot", [parse_condition("score >= 50")])
    lead(mail_ws, "ann", 60)
    template = find_template(mail_ws, "Newsletter").id
    schedule_newsletter(mail_ws, "Hot news", template, segment="hot", recurrence="monthly")
    save_segment(mail_ws, "Hot leads", [parse_condition("score >= 40")], renaming="hot")
    assert [s.name for s in list_segments(mail_ws)] == ["Hot leads"]
    assert [n.audience for n in list_newsletters(mail_ws)] == ["segment Hot leads"]
    assert recipients(mail_ws) == ["ann@example.org"]
    save_segment(mail_ws, "Cold", [parse_condition("score < 10")])
    with pytest.raises(ValidationError, match="already exists"):
        save_segment(mail_ws, "cold", [parse_condition("score < 5")], renaming="Hot leads")
