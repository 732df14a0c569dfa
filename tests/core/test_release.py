"""Release to sales: one release per crossing, notices delivered once, the hand-off."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from nurturedesk.core import interactions, leads, qualification, release, scoring
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.models import StageHistory


def add(ws: Workspace, email: str = "jane@acme.example.com", **kw: str) -> leads.LeadDetail:
    data = leads.LeadData(email=email, first_name="Jane", last_name="Doe", company="Acme", **kw)
    return leads.add_lead(ws, data)


def rules(ws: Workspace, **changes: object) -> None:
    scoring.set_rules(ws, replace(scoring.get_rules(ws), **changes))


def sales_ready_notices(ws: Workspace) -> list[release.Notice]:
    return [n for n in release.recent_notices(ws) if n.kind == "sales_ready"]


class Recorder:
    def __init__(self, via: str = "test") -> None:
        self.seen: list[release.Notice] = []
        self.via = via

    def __call__(self, notices: Sequence[release.Notice]) -> str:
        self.seen.extend(notices)
        return self.via


def test_crossing_releases_once_moves_card_and_sets_a_deadline(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None)
    lead = add(workspace)
    released = []
    workspace.events.subscribe(release.LeadReleased, released.append)
    for _ in range(3):
        interactions.record(workspace, lead.id, "meeting")  # 30, 60, 90
    assert sales_ready_notices(workspace) == []
    result = interactions.record(workspace, lead.id, "call")  # 110
    assert result.released == (lead.id,)
    assert leads.get_lead(workspace, lead.id).stage_name == "Sales-ready"
    (notice,) = sales_ready_notices(workspace)
    assert notice.message == "Jane Doe (Acme) is sales-ready, score 110"
    assert [e.lead_id for e in released] == [lead.id]
    handoff = release.get_handoff(workspace, lead.id)
    assert handoff is not None and handoff.state == "pending"
    assert handoff.due_at - handoff.released_at == release.timedelta(hours=48)
    badge = release.badges(workspace, [lead.id])[lead.id]
    assert badge.sales_ready and not badge.overdue


def test_no_flapping_near_the_threshold(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None, hysteresis=10)
    lead = add(workspace)
    for _ in range(3):
        interactions.record(workspace, lead.id, "meeting")
    interactions.record(workspace, lead.id, "video_watched")  # 95
    interactions.record(workspace, lead.id, "video_watched")  # 100: release
    assert len(sales_ready_notices(workspace)) == 1
    # Wobbling between 91 and 105 does not fire again.
    bounce = interactions.record(workspace, lead.id, "email_bounced")  # 80: below 90, re-armed
    assert bounce.scores[lead.id] == 80
    interactions.delete_interactions(workspace, [bounce.interaction.id])  # back to 100
    assert len(sales_ready_notices(workspace)) == 2  # a real second crossing
    wobble = interactions.record(workspace, lead.id, "video_watched")  # 105
    interactions.delete_interactions(workspace, [wobble.interaction.id])  # 100
    small = scoring.get_rules(workspace)
    rules(workspace, points={**small.points, "email_failed": -9})
    dip = interactions.record(workspace, lead.id, "email_failed")  # 91: still armed-out
    interactions.delete_interactions(workspace, [dip.interaction.id])  # 100
    assert len(sales_ready_notices(workspace)) == 2


def test_minimum_grade_holds_release_until_qualified(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None, min_grade="B")
    lead = add(workspace)
    for _ in range(4):
        interactions.record(workspace, lead.id, "meeting")  # 120, but no grade
    assert sales_ready_notices(workspace) == []
    fit = qualification.qualify(workspace, lead.id, {"budget": "yes", "need": "no"})
    assert (fit.fit_points, fit.grade) == (20, "C")
    assert sales_ready_notices(workspace) == []
    fit = qualification.qualify(
        workspace, lead.id, {"authority": "decision_maker", "timing": "now"}
    )
    assert (fit.fit_points, fit.grade) == (60, "B")
    (notice,) = sales_ready_notices(workspace)
    assert notice.grade == "B"
    with pytest.raises(ValidationError, match="Answers: yes, unknown, no"):
        qualification.qualify(workspace, lead.id, {"budget": "lots"})


def test_flag_mode_leaves_the_card_in_its_stage(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None, release_mode="flag")
    lead = add(workspace)
    for _ in range(4):
        interactions.record(workspace, lead.id, "meeting")
    assert leads.get_lead(workspace, lead.id).stage_name == "New"
    assert release.badges(workspace, [lead.id])[lead.id].sales_ready


def test_rule_change_can_release_many_leads_in_one_go(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None)
    ids = [add(workspace, f"p{i}@example.com").id for i in range(5)]
    interactions.log_interactions(workspace, ids, "meeting")
    change = scoring.set_rules(workspace, replace(scoring.get_rules(workspace), threshold=30))
    assert sorted(change.released) == ids
    recorder = Recorder()
    assert len(release.deliver_pending(workspace, recorder)) == 5
    assert release.deliver_pending(workspace, recorder) == []


def test_notices_are_claimed_exactly_once(workspace: Workspace, tmp_path: Path) -> None:
    from nurturedesk.core.db import open_workspace

    rules(workspace, half_life_days=None, threshold=20)
    ids = [add(workspace, f"p{i}@example.com").id for i in range(30)]
    interactions.log_interactions(workspace, ids, "meeting")
    other = open_workspace(workspace.path or tmp_path, clock=workspace.clock)  # a second app
    try:
        first = release.claim_notices(workspace, limit=10)
        second = release.claim_notices(other)
        third = release.claim_notices(workspace)
    finally:
        other.close()
    got = [n.lead_id for n in [*first, *second, *third]]
    assert sorted(got) == ids  # all 30, none twice
    assert third == []


def test_failing_sink_keeps_the_notice_visible(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None, threshold=20)
    lead = add(workspace)
    interactions.record(workspace, lead.id, "meeting")

    def broken(_: Sequence[release.Notice]) -> str:
        raise RuntimeError("display gone")

    delivered = release.deliver_pending(workspace, broken)
    assert len(delivered) == 1
    (notice,) = release.recent_notices(workspace)
    assert notice.delivered_via == "failed" and "sales-ready" in notice.message


def cli(workspace: Workspace, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "nurturedesk", *args, "--workspace", str(workspace.path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_crossing_in_another_process_is_released_once_and_notified_here(
    workspace: Workspace,
) -> None:
    # Another process (the command line) logs; this process (the running app) notifies.
    rules(workspace, half_life_days=None)
    lead = add(workspace)
    interactions.record(workspace, lead.id, "meeting")
    interactions.record(workspace, lead.id, "meeting")  # 60
    procs = [cli(workspace, "lead", "log", lead.email, "meeting") for _ in range(2)]  # racing
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum("now sales-ready" in out for out, _ in outputs) == 1
    assert leads.get_lead(workspace, lead.id).score == 120
    recorder = Recorder()
    release.deliver_pending(workspace, recorder)
    release.deliver_pending(workspace, recorder)
    # 60 -> 90 (no crossing) -> 120 (the crossing), whichever process logged first.
    assert [n.message for n in recorder.seen] == ["Jane Doe (Acme) is sales-ready, score 120"]
    assert len(sales_ready_notices(workspace)) == 1


def test_follow_up_goes_overdue_under_the_clock(workspace: Workspace, clock: FakeClock) -> None:
    rules(workspace, half_life_days=None, follow_up_hours=48)
    lead = add(workspace)
    for _ in range(4):
        interactions.record(workspace, lead.id, "meeting")
    release.assign(workspace, lead.id, "Sam")
    clock.advance(hours=47, minutes=59)
    assert release.follow_up_tick(workspace) == []
    assert not release.badges(workspace, [lead.id])[lead.id].overdue
    clock.advance(minutes=2)
    assert release.badges(workspace, [lead.id])[lead.id].overdue
    assert release.follow_up_tick(workspace) == [lead.id]
    assert release.follow_up_tick(workspace) == []  # notified once
    (overdue,) = [n for n in release.recent_notices(workspace) if n.kind == "overdue"]
    assert overdue.message.startswith("Follow-up overdue (Sam): Jane Doe (Acme)")
    release.accept(workspace, lead.id)
    assert not release.badges(workspace, [lead.id])[lead.id].overdue
    assert leads.get_lead(workspace, lead.id).stage_name == "With sales"


def test_rejected_lead_is_recycled_after_n_days(workspace: Workspace, clock: FakeClock) -> None:
    rules(workspace, half_life_days=None, recycle_days=30)
    lead = add(workspace)
    for _ in range(4):
        interactions.record(workspace, lead.id, "meeting")
    with pytest.raises(ValidationError, match="Say why"):
        release.reject(workspace, lead.id, "  ")
    info = release.reject(workspace, lead.id, "no budget this year")
    assert info.reason == "no budget this year"
    assert leads.get_lead(workspace, lead.id).stage_name == "Recycled"
    with pytest.raises(UserError, match="not waiting for sales"):
        release.accept(workspace, lead.id)
    clock.advance(days=29)
    assert release.recycle_tick(workspace) == []
    clock.advance(days=1)
    assert release.recycle_tick(workspace) == [lead.id]
    assert leads.get_lead(workspace, lead.id).stage_name == "Nurturing"
    with workspace.session() as session:
        reasons = [h.reason for h in session.query(StageHistory).order_by(StageHistory.id)]
    assert "rejected by sales: no budget this year" in reasons


def test_release_hook_runs_inside_the_release(workspace: Workspace) -> None:
    rules(workspace, half_life_days=None)
    lead = add(workspace)
    paused: list[int] = []
    release.RELEASE_HOOKS.append(lambda session, ids, now: paused.extend(ids))
    try:
        for _ in range(4):
            interactions.record(workspace, lead.id, "meeting")
    finally:
        release.RELEASE_HOOKS.clear()
    assert paused == [lead.id]


def test_scheduler_ticks_decay_follow_up_and_deliver(
    workspace: Workspace, clock: FakeClock
) -> None:
    from nurturedesk.core.scheduler import Scheduler

    rules(workspace, half_life_days=None)
    lead = add(workspace)
    for _ in range(4):
        interactions.record(workspace, lead.id, "meeting")
    recorder = Recorder()
    previous = release.set_notice_sink(recorder)
    try:
        scheduler = Scheduler(workspace)  # not started: ticks run by hand
        scheduler.run_now("release-notices")
        clock.advance(hours=49)
        scheduler.run_now("release-follow-up")
        scheduler.run_now("release-notices")
        scheduler.run_now("scoring-decay")
        scheduler.run_now("release-recycle")
    finally:
        release.set_notice_sink(previous)
    assert [n.kind for n in recorder.seen] == ["sales_ready", "overdue"]
