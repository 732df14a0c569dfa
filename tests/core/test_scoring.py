"""Scoring arithmetic (points, caps, decay), the ledger, re-scoring and its undo."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from nurturedesk.core import interactions, leads, scoring
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.scoring_rules import Cap, ScoringRules


def add(ws: Workspace, email: str = "jane@acme.example.com", **kw: str) -> leads.LeadDetail:
    data = leads.LeadData(email=email, first_name="Jane", last_name="Doe", company="Acme", **kw)
    return leads.add_lead(ws, data)


def use_rules(ws: Workspace, **changes: object) -> ScoringRules:
    rules = replace(scoring.get_rules(ws), **changes)
    scoring.set_rules(ws, rules)
    return rules


def score_of(ws: Workspace, lead_id: int) -> int:
    return leads.get_lead(ws, lead_id).score


def test_points_add_up_and_negative_points_subtract(workspace: Workspace) -> None:
    use_rules(workspace, half_life_days=None, threshold=1000)
    lead = add(workspace)
    interactions.record(workspace, lead.id, "webinar_attended")
    interactions.record(workspace, lead.id, "whitepaper downloaded")
    assert score_of(workspace, lead.id) == 35
    interactions.record(workspace, lead.id, "email-bounced")
    assert score_of(workspace, lead.id) == 15
    interactions.record(workspace, lead.id, "email_unsubscribed")
    assert score_of(workspace, lead.id) == -35


def test_cap_limits_points_from_one_type_per_period(workspace: Workspace, clock: FakeClock) -> None:
    use_rules(
        workspace, half_life_days=None, caps={"site_visit": Cap(10, 7)}, points={"site_visit": 3}
    )
    lead = add(workspace)
    for _ in range(5):  # 3 + 3 + 3 + 1 (cap reached) + 0
        interactions.record(workspace, lead.id, "site_visit")
    assert score_of(workspace, lead.id) == 10
    ledger = scoring.explain(workspace, lead.id)
    assert [e.contribution for e in ledger.entries] == [3, 3, 3, 1, 0]
    assert "capped at 10 per 7 days" in ledger.entries[3].why
    clock.advance(days=7)  # the next 7-day period has its own allowance
    interactions.record(workspace, lead.id, "site_visit")
    assert score_of(workspace, lead.id) == 13


def test_decay_halves_points_every_half_life(workspace: Workspace, clock: FakeClock) -> None:
    use_rules(workspace, half_life_days=30.0)
    lead = add(workspace)
    interactions.record(workspace, lead.id, "meeting")  # 30
    interactions.record(workspace, lead.id, "email_bounced")  # -20
    assert score_of(workspace, lead.id) == 10
    clock.advance(days=30)
    assert scoring.decay_tick(workspace) is True
    assert scoring.decay_tick(workspace) is False  # once per day
    assert score_of(workspace, lead.id) == 15 - 10
    clock.advance(days=30)
    scoring.decay_tick(workspace)
    # 30 * 0.25 = 7.5 -> 8 and -20 * 0.25 = -5: rounded half away from zero, per interaction
    ledger = scoring.explain(workspace, lead.id)
    assert [e.contribution for e in ledger.entries] == [8, -5]
    assert score_of(workspace, lead.id) == ledger.score == ledger.total == 3
    assert "60 days old, worth 25%" in ledger.entries[0].why


def test_decay_off_keeps_points(workspace: Workspace, clock: FakeClock) -> None:
    use_rules(workspace, half_life_days=None)
    lead = add(workspace)
    interactions.record(workspace, lead.id, "meeting")
    clock.advance(days=400)
    scoring.decay_tick(workspace)
    assert score_of(workspace, lead.id) == 30


def test_backdated_interaction_is_decayed_from_when_it_happened(workspace: Workspace) -> None:
    use_rules(workspace, half_life_days=10.0)
    lead = add(workspace)
    when = workspace.clock.now() - timedelta(days=10)
    interactions.record(workspace, lead.id, "meeting", at=when, note="trade show")
    assert score_of(workspace, lead.id) == 15
    (entry,) = scoring.explain(workspace, lead.id).entries
    assert (entry.points, entry.counted, entry.contribution, entry.note) == (
        30,
        30,
        15,
        "trade show",
    )


def test_future_times_and_unknown_types_are_refused(workspace: Workspace) -> None:
    lead = add(workspace)
    with pytest.raises(ValidationError, match="in the future"):
        interactions.record(
            workspace, lead.id, "call", at=workspace.clock.now() + timedelta(days=2)
        )
    with pytest.raises(
        ValidationError, match=r"Unknown interaction type 'dance'.*webinar_attended"
    ):
        interactions.record(workspace, lead.id, "dance")
    assert interactions.timeline(workspace, lead.id) == []


def test_source_ref_records_an_outbox_event_once(workspace: Workspace) -> None:
    lead = add(workspace)
    first = interactions.record(workspace, lead.id, "email_bounced", source_ref="outbox:7:bounced")
    again = interactions.record(workspace, lead.id, "email_bounced", source_ref="outbox:7:bounced")
    assert first.interaction.id == again.interaction.id
    assert len(interactions.timeline(workspace, lead.id)) == 1
    assert score_of(workspace, lead.id) == -20


def random_history(ws: Workspace, clock: FakeClock, n_leads: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    types = ["site_visit", "video_watched", "meeting", "email_bounced", "call", "note"]
    ids = [add(ws, f"lead{i}@example.com").id for i in range(n_leads)]
    start = clock.now()
    for _ in range(n_leads * 12):
        clock.set(start - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440)))
        interactions.record(ws, rng.choice(ids), rng.choice(types))
    clock.set(start)
    scoring.rescore_all(ws)  # every score as of now
    return ids


def test_set_based_rescore_matches_every_ledger(workspace: Workspace, clock: FakeClock) -> None:
    # Caps on a positive and a negative type, decay on: SQL and Python must agree exactly.
    use_rules(
        workspace,
        half_life_days=7.0,
        threshold=10_000,
        points={
            "site_visit": 3,
            "video_watched": 5,
            "meeting": 30,
            "email_bounced": -7,
            "call": 11,
        },
        caps={"site_visit": Cap(7, 3), "email_bounced": Cap(10, 30)},
    )
    ids = random_history(workspace, clock, 25, seed=4)
    clock.advance(days=3, hours=5)
    scoring.rescore_all(workspace)
    for lead_id in ids:
        stored = score_of(workspace, lead_id)
        ledger = scoring.explain(workspace, lead_id)
        assert ledger.total == ledger.score == stored, lead_id


def test_rule_change_rescores_every_lead_and_undo_restores(
    workspace: Workspace, clock: FakeClock
) -> None:
    use_rules(workspace, threshold=10_000)
    ids = random_history(workspace, clock, 10, seed=9)
    before = {i: score_of(workspace, i) for i in ids}
    rules = scoring.get_rules(workspace)
    change = scoring.set_rules(
        workspace, replace(rules, points={**rules.points, "meeting": 100}, half_life_days=None)
    )
    after = {i: score_of(workspace, i) for i in ids}
    assert change.changed == sum(1 for i in ids if after[i] != before[i]) > 0
    assert all(scoring.explain(workspace, i).total == after[i] for i in ids)
    scoring.undo_rules(workspace)
    assert {i: score_of(workspace, i) for i in ids} == before
    assert scoring.get_rules(workspace) == rules
    # The first change (use_rules) is still remembered; undoing it too restores the defaults.
    scoring.undo_rules(workspace)
    assert scoring.get_rules(workspace) == ScoringRules()
    with pytest.raises(UserError, match="no scoring rule change to undo"):
        scoring.undo_rules(workspace)


def test_bad_rules_are_refused_and_change_nothing(workspace: Workspace) -> None:
    rules = scoring.get_rules(workspace)
    with pytest.raises(ValidationError, match="Half-life"):
        scoring.set_rules(workspace, replace(rules, half_life_days=-1.0))
    with pytest.raises(ValidationError, match="Unknown interaction type"):
        scoring.set_rules(workspace, replace(rules, points={"bogus": 3}))
    assert scoring.get_rules(workspace) == rules


def test_bulk_log_and_its_undo(workspace: Workspace) -> None:
    use_rules(workspace, half_life_days=None)
    ids = [add(workspace, f"p{i}@example.com").id for i in range(40)]
    result = interactions.log_interactions(workspace, ids, "webinar_attended", note="webinar X")
    assert len(result.interactions) == 40
    assert {score_of(workspace, i) for i in ids} == {25}
    scoring_after_undo = interactions.delete_interactions(
        workspace, [i.id for i in result.interactions]
    )
    assert set(scoring_after_undo.values()) == {0}
    assert all(interactions.timeline(workspace, i) == [] for i in ids)


def test_rescore_counts_a_fresh_clock_day(tmp_path: object) -> None:
    # Ages are whole UTC days: a meeting at 23:59 is one day old at 00:01.
    from pathlib import Path

    from nurturedesk.core.db import open_workspace

    clock = FakeClock(datetime(2026, 3, 2, 23, 59))
    ws = open_workspace(Path(str(tmp_path)) / "w.sqlite", clock=clock)
    try:
        use_rules(ws, half_life_days=1.0)
        lead = add(ws)
        interactions.record(ws, lead.id, "meeting")
        clock.advance(minutes=2)
        scoring.decay_tick(ws)
        assert score_of(ws, lead.id) == 15
    finally:
        ws.close()


def test_capped_same_day_interactions_agree_between_sql_and_ledger(
    workspace: Workspace, clock: FakeClock
) -> None:
    use_rules(
        workspace,
        half_life_days=2.0,
        threshold=10_000,
        points={"site_visit": 3},
        caps={"site_visit": Cap(7, 3)},
    )
    lead = add(workspace)
    start = clock.now()
    for hours in (1, 30, 5, 2, 26, 50, 49, 3, 27, 51):  # back-dated, logged out of order
        interactions.record(workspace, lead.id, "site_visit", at=start - timedelta(hours=hours))
    clock.advance(days=1)
    scoring.rescore_all(workspace)
    stored = score_of(workspace, lead.id)
    ledger = scoring.explain(workspace, lead.id)
    assert ledger.total == stored
    assert sum(e.counted for e in ledger.entries) <= 7 * 2  # at most two 3-day periods touched


def test_record_events_is_idempotent_and_skips_deleted_leads(workspace: Workspace) -> None:
    use_rules(workspace, half_life_days=None)
    kept = add(workspace, "kept@example.com")
    gone = add(workspace, "gone@example.com")
    leads.delete_leads(workspace, [gone.id])
    batch = [
        interactions.EventRecord(kept.id, "email_replied", source_ref="inbox:1"),
        interactions.EventRecord(gone.id, "email_replied", source_ref="inbox:2"),
        interactions.EventRecord(kept.id, "email_replied", source_ref="inbox:1"),  # twice
    ]
    first = interactions.record_events(workspace, batch, source="inbox")
    again = interactions.record_events(workspace, batch, source="inbox")
    assert [i.lead_id for i in first.interactions] == [kept.id]
    assert again.interactions == ()
    assert score_of(workspace, kept.id) == 15
    assert [i.source for i in interactions.timeline(workspace, kept.id)] == ["inbox"]
