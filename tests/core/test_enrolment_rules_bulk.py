"""The set-based enrolment rules against the per-lead code they replaced.

`apply_enrolment_rules` used to enrol one lead at a time (`_enrol_in` per candidate). It now
runs one UPDATE and one INSERT ... SELECT per rule. `_per_lead_rules` below is that earlier
code, verbatim in substance, kept as the reference: both run on identical workspaces of 5,000
leads covering every case the rules distinguish, and every enrolment row must come out the same,
then the same again after a queue pass (send window in the lead's time zone, frequency cap).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, func, insert, or_, select, text, true, update

from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.mailconfig import configure_file_transport, load_config
from nurturedesk.core.models import (
    Enrollment,
    Lead,
    NurtureSequence,
    OutboxMessage,
    StageSequence,
    Suppression,
    Tag,
    lead_tags,
)
from nurturedesk.core.sequences import (
    ACTIVE,
    PAUSED,
    STOPPED,
    _enrol_in,
    _first_delay,
    apply_enrolment_rules,
    find_sequence,
    queue_due_steps,
    save_sequence,
)
from nurturedesk.core.settings import set_setting
from nurturedesk.core.stages import find_stage
from nurturedesk.core.templates import save_template
from nurturedesk.core.timestamps import to_micros

START = datetime(2026, 3, 2, 9, 0)  # a Monday: 18:00 in Tokyo, 04:00 in New York, 10:00 Paris
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "")
TOTAL = 5000


def _per_lead_rules(workspace: Workspace, lead_ids: Sequence[int] | None = None) -> int:
    """The per-lead implementation this change replaced (the reference)."""
    from sqlalchemy import String, cast

    now = workspace.clock.now()
    started = 0
    with workspace.session() as session:
        only = Lead.id.in_(lead_ids) if lead_ids is not None else true()
        lead_stage = select(Lead.stage_id).where(Lead.id == Enrollment.lead_id).scalar_subquery()
        in_scope = Enrollment.lead_id.in_(lead_ids) if lead_ids is not None else true()
        session.execute(
            update(Enrollment)
            .where(
                in_scope,
                Enrollment.state.in_((ACTIVE, PAUSED)),
                Enrollment.how.like("stage:%"),
                Enrollment.how != "stage:" + cast(lead_stage, String),
            )
            .values(state=STOPPED, stopped_reason="left the stage that enrolled it")
            .execution_options(synchronize_session=False)
        )
        suppressed = exists().where(Suppression.email_key == Lead.email_key)
        for rule in session.scalars(select(StageSequence)).all():
            try:
                delay = _first_delay(session, rule.sequence_id)
            except UserError:
                continue
            since_entry = exists().where(
                Enrollment.lead_id == Lead.id,
                Enrollment.sequence_id == rule.sequence_id,
                or_(Enrollment.enrolled_at >= Lead.stage_entered_at, Enrollment.state == ACTIVE),
            )
            for lead_id in session.scalars(
                select(Lead.id).where(
                    only,
                    Lead.stage_id == rule.stage_id,
                    Lead.deleted_at.is_(None),
                    ~since_entry,
                    ~suppressed,
                )
            ).all():
                started += _enrol_in(
                    session, lead_id, rule.sequence_id, now, f"stage:{rule.stage_id}", delay
                )
        for seq in session.scalars(
            select(NurtureSequence).where(NurtureSequence.enroll_tag != "")
        ).all():
            try:
                delay = _first_delay(session, seq.id)
            except UserError:
                continue
            ever = exists().where(Enrollment.lead_id == Lead.id, Enrollment.sequence_id == seq.id)
            tagged = exists().where(
                lead_tags.c.lead_id == Lead.id,
                lead_tags.c.tag_id == Tag.id,
                func.lower(Tag.name) == seq.enroll_tag.casefold(),
            )
            for lead_id in session.scalars(
                select(Lead.id).where(only, Lead.deleted_at.is_(None), tagged, ~ever, ~suppressed)
            ).all():
                started += _enrol_in(session, lead_id, seq.id, now, f"tag:{seq.enroll_tag}", delay)
    return started


def _build(path: Path) -> Workspace:
    """5,000 leads, mostly arriving in Nurturing (as an import would), with every case the
    rules tell apart: new, deleted, suppressed, tagged (any case), Recycled, other stages,
    a finished enrolment from an earlier stay (restarts), one from this stay (stays finished),
    a paused one, and an active stage enrolment of a lead that has since left the stage."""
    ws = open_workspace(path, clock=FakeClock(START))
    configure_file_transport(ws, path.parent / f"{path.stem}-eml", "Alex <alex@example.com>")
    set_setting(ws, "mail_timezone", "UTC")
    set_setting(ws, "nurture_cap_days", 3)  # the default, stated: the cap is under test
    template = save_template(ws, "Webinar T", "Hi {{ lead.first_name }}", "Body")
    webinar = save_sequence(
        ws, "Webinar", [(template.id, 1.5), (template.id, 7)], enroll_tag="webinar"
    ).id
    default = find_sequence(ws, "Default nurture track").id
    nurturing = find_stage(ws, "Nurturing").id
    recycled = find_stage(ws, "Recycled").id
    new = find_stage(ws, "New").id
    earlier = START - timedelta(days=40)
    rows = []
    for i in range(TOTAL):
        stage = nurturing if i % 10 < 7 else recycled if i % 10 == 7 else new
        rows.append(
            dict(
                id=i + 1,
                email=f"lead{i}@example.org",
                email_key=f"lead{i}@example.org",
                first_name=f"Lead{i}",
                last_name="",
                company="Acme",
                title="",
                phone="",
                source="",
                owner="",
                timezone=ZONES[i % 4],
                custom_fields={},
                search_text="",
                stage_id=stage,
                position=float(i),
                stage_entered_at=START - timedelta(days=i % 30),
                score=0,
                created_at=earlier,
                updated_at=earlier,
                deleted_at=START if i % 97 == 0 else None,
            )
        )
    with ws.session() as s:
        s.execute(insert(Lead), rows)
        s.execute(
            insert(Suppression),
            [
                dict(email_key=f"lead{i}@example.org", reason="unsubscribed", created_at=earlier)
                for i in range(0, TOTAL, 53)
            ],
        )
        s.execute(insert(Tag), [dict(id=900, name="Webinar"), dict(id=901, name="other")])
        s.execute(
            insert(lead_tags),
            [dict(lead_id=i + 1, tag_id=900 if i % 3 else 901) for i in range(0, TOTAL, 5)],
        )
        old = []
        for i in range(0, TOTAL, 7):
            kind = (i // 7) % 5
            stage_entered = START - timedelta(days=i % 30)
            state, enrolled, how = {
                0: ("completed", stage_entered - timedelta(days=1), f"stage:{nurturing}"),
                1: ("stopped", stage_entered - timedelta(hours=1), f"stage:{nurturing}"),
                2: ("completed", stage_entered + timedelta(hours=1), f"stage:{nurturing}"),
                3: ("paused", stage_entered - timedelta(days=2), f"stage:{nurturing}"),
                4: ("active", stage_entered - timedelta(days=3), f"stage:{new}"),
            }[kind]
            old.append(
                dict(
                    lead_id=i + 1,
                    sequence_id=default,
                    state=state,
                    next_step=1,
                    next_send_at=START + timedelta(days=2) if state == "active" else None,
                    round=kind % 3,
                    enrolled_at=enrolled,
                    how=how,
                    stopped_reason="earlier" if state == "stopped" else "",
                )
            )
        s.execute(insert(Enrollment), old)
        # Sent mail yesterday for some leads: the frequency cap postpones their first step.
        s.execute(
            insert(OutboxMessage),
            [
                dict(
                    lead_id=i + 1,
                    kind="nurture",
                    to_address=f"lead{i}@example.org",
                    subject="Earlier",
                    body_text="",
                    body_html="",
                    message_id=f"<earlier{i}@example.com>",
                    state="sent",
                    attempts=1,
                    next_attempt_at=START - timedelta(days=1),
                    last_error="",
                    created_at=START - timedelta(days=1),
                )
                for i in range(1, TOTAL, 11)
            ],
        )
    assert webinar
    return ws


def _enrolments(ws: Workspace) -> list[tuple[object, ...]]:
    with ws.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT lead_id, sequence_id, state, next_step, next_send_at, round,"
                    " enrolled_at, how, stopped_reason FROM enrollments"
                    " ORDER BY lead_id, sequence_id"
                )
            )
        ]


def _outbox(ws: Workspace) -> list[tuple[object, ...]]:
    with ws.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT lead_id, enrollment_id IS NOT NULL, round, step_position, state"
                    " FROM outbox WHERE kind = 'nurture' ORDER BY lead_id, id"
                )
            )
        ]


def _both(tmp_path: Path) -> tuple[Workspace, Workspace]:
    return _build(tmp_path / "per_lead.sqlite"), _build(tmp_path / "set_based.sqlite")


def _rules(ws: Workspace, lead_ids: Sequence[int] | None = None) -> int:
    """Each workspace with its own implementation: the reference, or the code under test."""
    if "per_lead" in str(ws.path):
        return _per_lead_rules(ws, lead_ids)
    return apply_enrolment_rules(ws, lead_ids)


def _same(
    reference: Workspace, bulk: Workspace, step: Callable[[Workspace], object]
) -> list[tuple[object, ...]]:
    """Run `step` on both; the results and every enrolment row must be equal."""
    assert step(reference) == step(bulk)
    rows = _enrolments(bulk)
    assert rows == _enrolments(reference)
    return rows


def test_a_big_batch_is_enrolled_once_exactly_as_lead_by_lead(tmp_path: Path) -> None:
    reference, bulk = _both(tmp_path)
    try:
        before = _enrolments(bulk)
        rows = _same(reference, bulk, _rules)
        assert len(rows) - len(before) > 3000  # most of the batch takes the common path

        # What a user would check: every live, unsuppressed lead in Nurturing is enrolled in
        # the default track exactly once, and its first email is due now (delay 0).
        default = find_sequence(bulk, "Default nurture track").id
        nurturing = f"stage:{find_stage(bulk, 'Nurturing').id}"
        active_default = [r[0] for r in rows if r[1] == default and r[2] == "active"]
        assert len(active_default) == len(set(active_default))
        fresh = [r for r in rows if r[7] == nurturing and r[2] == "active" and r not in before]
        nine = to_micros(datetime(2026, 3, 2, 9))  # (stored as microseconds)
        assert fresh and all(r[4] == nine for r in fresh)
        with bulk.session() as s:
            eligible = set(
                s.scalars(
                    select(Lead.id).where(
                        Lead.stage_id == find_stage(bulk, "Nurturing").id,
                        Lead.deleted_at.is_(None),
                        ~exists().where(Suppression.email_key == Lead.email_key),
                    )
                )
            )
        enrolled_here = {r[0] for r in rows if r[7] == nurturing and r[2] == "active"}
        assert enrolled_here <= eligible  # no deleted, suppressed or other-stage lead
        # The eligible leads left out are exactly those paused, or finished in this stay.
        kept = {r[0] for r in before if r[1] == default and r[2] in ("paused", "completed")}
        assert eligible - enrolled_here <= kept and len(eligible - enrolled_here) < len(kept)
        # The webinar tag rule: first step 1.5 days later, tag matched in any case.
        webinar = find_sequence(bulk, "Webinar").id
        tagged = [r for r in rows if r[1] == webinar]
        assert tagged and all(r[7] == "tag:webinar" and r[2] == "active" for r in tagged)
        assert {r[4] for r in tagged} == {to_micros(datetime(2026, 3, 3, 21))}

        # Idempotent: the next tick enrols nobody and changes nothing.
        assert _same(reference, bulk, _rules) == rows
        assert _rules(bulk) == 0

        # A queue pass over a sample: the send window in each lead's time zone and the
        # frequency cap give the same next_send_at (and the same outbox rows) either way.
        cfg = load_config(bulk)
        after_queue = _same(reference, bulk, lambda ws: queue_due_steps(ws, cfg, limit=400))
        assert _outbox(bulk) == _outbox(reference)
        assert any(r[4] == "queued" for r in _outbox(bulk))  # some queued now (Paris, UTC)...
        postponed = [r for r in after_queue if r[2] == "active" and r[3] == 0 and r not in rows]
        assert postponed  # ...and some postponed to their window or past the cap
    finally:
        reference.close()
        bulk.close()


def test_moves_and_a_scoped_pass_match_the_per_lead_rules(tmp_path: Path) -> None:
    reference, bulk = _both(tmp_path)
    try:
        _same(reference, bulk, _rules)
        nurturing = find_stage(bulk, "Nurturing").id
        recycled = find_stage(bulk, "Recycled").id
        ids = list(range(1, 1001, 3))
        for ws in (reference, bulk):
            assert isinstance(ws.clock, FakeClock)
            later = ws.clock.advance(days=3)
            with ws.session() as s:  # some leave Nurturing, others arrive in it
                s.execute(
                    update(Lead)
                    .where(Lead.id.in_(ids))
                    .values(
                        stage_id=func.iif(Lead.stage_id == nurturing, recycled, nurturing),
                        stage_entered_at=later,
                    )
                )
        rows = _same(reference, bulk, lambda ws: _rules(ws, ids))  # the watcher's scoped pass
        assert any(r[8] == "left the stage that enrolled it" for r in rows)
        assert _same(reference, bulk, _rules) == rows  # the tick after it: nothing more
    finally:
        reference.close()
        bulk.close()


def _per_lead_bulk_enrol(workspace: Workspace, lead_ids: Sequence[int], sequence: str) -> object:
    """`bulk.enrol_leads` as it was before it read and wrote in bulk (the reference)."""
    from nurturedesk.core.bulk import EnrolmentChange, _snapshot
    from nurturedesk.core.privacy import suppressed_keys

    info = find_sequence(workspace, sequence)
    now = workspace.clock.now()
    before: list[tuple[int, tuple[object, ...] | None]] = []
    left_out: list[int] = []
    with workspace.session() as session:
        delay = _first_delay(session, info.id)
        leads = session.execute(
            select(Lead.id, Lead.email_key).where(
                Lead.id.in_(list(lead_ids)), Lead.deleted_at.is_(None)
            )
        ).all()
        keys = {key for _id, key in leads}
        blocked = set(
            session.scalars(select(Suppression.email_key).where(Suppression.email_key.in_(keys)))
        ) | suppressed_keys(session, keys)
        for lead_id, key in leads:
            if key in blocked:
                left_out.append(lead_id)
                continue
            row = session.scalar(
                select(Enrollment).where(
                    Enrollment.lead_id == lead_id, Enrollment.sequence_id == info.id
                )
            )
            snapshot = _snapshot(row)
            if _enrol_in(session, lead_id, info.id, now, "bulk", delay):
                before.append((lead_id, snapshot))
    return EnrolmentChange(info.id, info.name, True, tuple(before), tuple(left_out))


def test_bulk_enrol_of_a_big_selection_matches_lead_by_lead_and_undoes_exactly(
    tmp_path: Path,
) -> None:
    """`bulk enrol` / `sequence enroll --segment` / Lead > Enrol in Sequence on thousands of
    leads: the same rows and the same undo record as the per-lead code, and undo restores
    the table exactly."""
    from nurturedesk.core.bulk import enrol_leads, undo_enrolment_change

    reference, bulk = _both(tmp_path)
    try:
        original = _enrolments(bulk)
        assert original == _enrolments(reference)
        chosen = [*range(1, TOTAL + 1, 2), 2, 2, 999_999]  # a repeat, an unknown id
        expected = _per_lead_bulk_enrol(reference, chosen, "Default nurture track")
        change = enrol_leads(bulk, chosen, "Default nurture track")
        assert change == expected
        rows = _enrolments(bulk)
        assert rows == _enrolments(reference)
        assert len(change.before) > 2000 and change.suppressed
        assert any(before is not None for _lead, before in change.before)  # some restarted

        undo_enrolment_change(bulk, change)
        undo_enrolment_change(reference, expected)  # type: ignore[arg-type]
        assert _enrolments(bulk) == _enrolments(reference) == original
    finally:
        reference.close()
        bulk.close()
