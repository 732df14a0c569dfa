"""The column model on its own: lazy paging, roles, MIME round trip, drops at model level."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import QModelIndex, Qt

from nurturedesk.core import leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.db import Workspace
from nurturedesk.core.demo import populate_demo
from nurturedesk.core.leads import LeadFilter
from nurturedesk.core.stages import find_stage
from nurturedesk.ui.board.model import (
    CardRole,
    StageColumnModel,
    decode_lead_ids,
    encode_lead_ids,
)
from tests.ui.conftest import add


def column(workspace: Workspace, stage: str, page_size: int = 60) -> StageColumnModel:
    info = find_stage(workspace, stage)
    model = StageColumnModel(workspace, info, page_size=page_size)
    model.reload(leads.count_by_stage(workspace).get(info.id, 0))
    return model


def test_model_passes_qtmodeltester(qtmodeltester, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    populate_demo(workspace, leads=120)
    model = column(workspace, "Nurturing", page_size=10)
    qtmodeltester.check(model)
    model.fetchMore(QModelIndex())
    qtmodeltester.check(model)


def test_column_loads_lazily_in_board_order(workspace: Workspace) -> None:
    ids = [add(workspace, f"lead{i}@example.com", "Nurturing") for i in range(25)]
    model = column(workspace, "Nurturing", page_size=10)
    assert model.total == 25
    assert model.rowCount() == 10
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 25
    assert not model.canFetchMore(QModelIndex())
    assert model.lead_ids() == ids


def test_card_roles_show_what_the_card_paints(workspace: Workspace, clock: FakeClock) -> None:
    add(
        workspace,
        "jane@acme.example",
        "Nurturing",
        first_name="Jane",
        last_name="Doe",
        company="Acme",
        tags=("webinar", "emea"),
    )
    clock.advance(days=15)
    model = column(workspace, "Nurturing")
    index = model.index(0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "Jane Doe"
    assert index.data(CardRole.Company) == "Acme"
    assert index.data(CardRole.Tags) == ["emea", "webinar"]
    assert index.data(CardRole.Score) == 0
    assert index.data(CardRole.DaysInStage) == 15
    assert index.data(CardRole.Stale) is True  # 15 days > the default 14
    # The delegate asks once for the whole face: it says what the single roles say.
    face = index.data(CardRole.Face)
    assert (face.name, face.company, face.tags, face.score) == (
        "Jane Doe",
        "Acme",
        ("emea", "webinar"),
        0,
    )
    assert (face.days_in_stage, face.stale) == (15, True)
    assert face.next_email_label == index.data(CardRole.NextEmailLabel)
    assert face.stage_colour == index.data(CardRole.StageColour)
    assert face.badges == index.data(CardRole.Badges)
    model.stale_days = 30
    assert index.data(CardRole.Stale) is False
    assert index.data(CardRole.Face).stale is False


def test_parked_stages_never_go_stale(workspace: Workspace, clock: FakeClock) -> None:
    add(workspace, "news@example.com", "Newsletter")
    clock.advance(days=400)
    assert column(workspace, "Newsletter").index(0).data(CardRole.Stale) is False


def test_mime_round_trip_and_foreign_data_ignored() -> None:
    mime = encode_lead_ids([3, 1, 2])
    assert decode_lead_ids(mime) == [3, 1, 2]
    other = encode_lead_ids([])
    other.setData("application/x-nurturedesk-lead-ids", b"not json")
    assert decode_lead_ids(other) == []


def test_drop_on_a_column_moves_leads_and_records_history(
    workspace: Workspace, clock: FakeClock
) -> None:
    a = add(workspace, "a@example.com", "Nurturing")
    b = add(workspace, "b@example.com", "Nurturing")
    target_first = add(workspace, "c@example.com", "Sales-ready")
    target_second = add(workspace, "d@example.com", "Sales-ready")
    source = column(workspace, "Nurturing")
    target = column(workspace, "Sales-ready")
    dropped: list[tuple[list[int], int, int | None]] = []

    def handler(ids: list[int], stage_id: int, before: int | None) -> None:
        dropped.append((ids, stage_id, before))
        leads.move_leads(workspace, ids, stage_id, before)

    target.drop_handler = handler
    mime = source.mimeData([source.index(0), source.index(1)])
    assert target.canDropMimeData(mime, Qt.DropAction.MoveAction, 1, 0, QModelIndex())
    clock.advance(hours=1)
    target.dropMimeData(mime, Qt.DropAction.MoveAction, 1, 0, QModelIndex())
    sales_ready = find_stage(workspace, "Sales-ready").id
    assert dropped == [([a, b], sales_ready, target_second)]
    order = [lead.id for lead in leads.list_leads(workspace, stage_id=sales_ready)]
    assert order == [target_first, a, b, target_second]
    lead = leads.get_lead(workspace, a)
    assert lead.stage_entered_at == clock.now()
    assert (
        leads.count_by_stage(workspace, LeadFilter()).get(find_stage(workspace, "Nurturing").id, 0)
        == 0
    )


def test_drop_below_the_last_card_appends(workspace: Workspace) -> None:
    a = add(workspace, "a@example.com", "New")
    first = add(workspace, "c@example.com", "Won")
    source, target = column(workspace, "New"), column(workspace, "Won")
    target.drop_handler = lambda ids, stage, before: leads.move_leads(workspace, ids, stage, before)
    target.dropMimeData(
        source.mimeData([source.index(0)]), Qt.DropAction.MoveAction, -1, 0, QModelIndex()
    )
    won = find_stage(workspace, "Won").id
    assert [lead.id for lead in leads.list_leads(workspace, stage_id=won)] == [first, a]


def test_days_in_stage_follow_the_clock(workspace: Workspace, clock: FakeClock) -> None:
    add(workspace, "a@example.com", "Qualifying")
    clock.set(clock.now() + timedelta(days=3, hours=5))
    assert column(workspace, "Qualifying").index(0).data(CardRole.DaysInStage) == 3


def test_cards_in_an_enrolling_stage_show_their_next_email(
    workspace: Workspace, clock: FakeClock
) -> None:
    """Entering Nurturing enrols in the default track (issue 3): the card says when the next
    email goes out, and the tooltip names it."""
    from nurturedesk.core.sequences import apply_enrolment_rules

    nurtured = add(workspace, "n@example.com", "Nurturing", first_name="Nora")
    add(workspace, "q@example.com", "Qualifying", first_name="Quinn")
    apply_enrolment_rules(workspace)
    nurturing = column(workspace, "Nurturing")
    upcoming = nurturing.index(0).data(CardRole.NextEmail)
    assert upcoming is not None and upcoming.sequence == "Default nurture track"
    assert nurturing.index(0).data(CardRole.NextEmailLabel).startswith("✉ ")
    assert upcoming.template in nurturing.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert nurturing.card(0).id == nurtured
    qualifying = column(workspace, "Qualifying")
    assert qualifying.index(0).data(CardRole.NextEmail) is None
    assert qualifying.index(0).data(CardRole.NextEmailLabel) == ""
