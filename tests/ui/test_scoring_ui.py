"""Scores on the board and in the lead editor; bulk log; rules dialog; the notice banner."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from nurturedesk.core import interactions, leads, release, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.notify import DesktopNotifier, NotificationUnavailable
from nurturedesk.ui.board.model import CardRole
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.lead_activity import LeadActivityPanel
from nurturedesk.ui.main_window import MainWindow
from nurturedesk.ui.scoring_dialog import ScoringRulesDialog


def add(ws: Workspace, email: str, first: str = "Jane", company: str = "Acme") -> int:
    data = leads.LeadData(email=email, first_name=first, last_name="Doe", company=company)
    return leads.add_lead(ws, data).id


@pytest.fixture
def window(qtbot: QtBot, workspace: Workspace) -> Iterator[MainWindow]:
    scoring.set_rules(workspace, replace(scoring.get_rules(workspace), half_life_days=None))
    bridge = EventBridge(workspace.events)
    win = MainWindow(workspace, bridge)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.scoring.shutdown()
    bridge.detach()


def card_data(win: MainWindow, stage: str, lead_id: int, role: int) -> object:
    win.board.flush_pending()  # the board refreshes when the event loop turns; now, please
    column = next(c for c in win.board.columns if c.model.stage.name == stage)
    row = column.model.row_of(lead_id)
    assert row is not None, f"lead {lead_id} not in {stage}"
    return column.model.index(row).data(role)


def test_card_shows_score_grade_and_sales_ready_marker(
    window: MainWindow, workspace: Workspace, qtbot: QtBot
) -> None:
    from nurturedesk.core import qualification

    lead_id = add(workspace, "jane@acme.example.com")
    interactions.record(workspace, lead_id, "meeting")
    qtbot.waitUntil(lambda: card_data(window, "New", lead_id, CardRole.Score) == 30)
    qualification.qualify(workspace, lead_id, {"budget": "yes", "authority": "decision_maker"})
    for _ in range(3):
        interactions.record(workspace, lead_id, "meeting")  # 120: released, moved
    badges = card_data(window, "Sales-ready", lead_id, CardRole.Badges)
    assert isinstance(badges, release.Badges)
    assert (badges.grade, badges.sales_ready, badges.overdue) == ("C", True, False)
    assert "grade C, sales-ready" in str(
        card_data(window, "Sales-ready", lead_id, Qt.ItemDataRole.AccessibleTextRole)
    )
    assert not window.grab().isNull()  # the delegate paints the markers without complaint


def test_sort_column_by_score(window: MainWindow, workspace: Workspace) -> None:
    ids = [add(workspace, f"p{i}@example.com") for i in range(4)]
    for lead_id, n in zip(ids, (1, 3, 0, 2), strict=True):
        for _ in range(n):
            interactions.record(workspace, lead_id, "call")
    window.board.flush_pending()
    column = window.board.columns[0]
    assert column.model.lead_ids() == ids
    window.scoring.sort_action.trigger()
    assert [column.model.card(r).score for r in range(4)] == [60, 40, 20, 0]
    window.scoring.sort_action.trigger()
    assert column.model.lead_ids() == ids
    # One column only (right-click its title), and it survives a rebuild of the board.
    assert column.title.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    window.board.set_sort_by_score(True, column.model.stage.id)
    window.board.rebuild()
    column = window.board.columns[0]
    assert [column.model.card(r).score for r in range(4)] == [60, 40, 20, 0]
    assert not window.board.columns[1].model.sort_by_score


def test_one_click_log_updates_ledger_and_undo(
    window: MainWindow, workspace: Workspace, qtbot: QtBot
) -> None:
    lead_id = add(workspace, "jane@acme.example.com")
    panel = LeadActivityPanel(workspace, lead_id, window.undo_stack.push, window.show_error, window)
    qtbot.addWidget(panel)
    panel.note.setText("pricing questions")
    qtbot.mouseClick(panel.quick_buttons["call"], Qt.MouseButton.LeftButton)
    assert panel.summary.text().startswith("Score 20")
    assert panel.timeline.topLevelItemCount() == 1
    assert panel.timeline.topLevelItem(0).text(2) == "pricing questions"
    assert panel.ledger.topLevelItem(0).text(0) == "+20"
    assert panel.ledger_total.text().startswith("Total 20 = score 20")
    qtbot.waitUntil(lambda: card_data(window, "New", lead_id, CardRole.Score) == 20)
    window.undo_stack.undo()
    panel.refresh()
    assert panel.summary.text().startswith("Score 0")
    assert panel.timeline.topLevelItemCount() == 0
    qtbot.waitUntil(lambda: card_data(window, "New", lead_id, CardRole.Score) == 0)
    window.bridge.leadsChanged.connect(panel.on_leads_changed)
    interactions.record(workspace, lead_id, "meeting")  # logged elsewhere (e.g. bulk log)
    qtbot.waitUntil(lambda: panel.summary.text().startswith("Score 30"))


def test_bulk_log_for_selected_cards(
    window: MainWindow, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nurturedesk.ui import log_dialog

    ids = [add(workspace, f"p{i}@example.com") for i in range(40)]
    window.board.flush_pending()
    window.board.select_leads(ids)
    monkeypatch.setattr(log_dialog.LogInteractionDialog, "exec", lambda self: 1)
    window.scoring.log_selected()  # "webinar attended" preselected
    assert {leads.get_lead(workspace, i).score for i in ids} == {25}
    window.undo_stack.undo()
    assert {leads.get_lead(workspace, i).score for i in ids} == {0}
    window.undo_stack.redo()
    assert {leads.get_lead(workspace, i).score for i in ids} == {25}


def test_rules_dialog_rescores_off_the_gui_thread_and_undo(
    window: MainWindow, workspace: Workspace, qtbot: QtBot
) -> None:
    lead_id = add(workspace, "jane@acme.example.com")
    interactions.record(workspace, lead_id, "meeting")
    dialog = ScoringRulesDialog(scoring.get_rules(workspace), window)
    dialog.spins["meeting"][0].setValue(45)
    window.scoring.change_rules(dialog.result_rules())
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1)
    assert leads.get_lead(workspace, lead_id).score == 45
    qtbot.waitUntil(lambda: card_data(window, "New", lead_id, CardRole.Score) == 45)
    window.undo_stack.undo()
    window.scoring.wait_for_worker()
    assert leads.get_lead(workspace, lead_id).score == 30
    window.undo_stack.redo()
    window.scoring.wait_for_worker()
    assert leads.get_lead(workspace, lead_id).score == 45
    dialog.spins["meeting"][0].setValue(-5000)  # out of the spin box's range: clamped
    assert dialog.result_rules().points["meeting"] == -1000
    dialog.deleteLater()


class NoService(DesktopNotifier):
    def notify(self, *args: object, **kwargs: object) -> int:
        raise NotificationUnavailable("no notification service: test")


def test_without_a_notification_service_a_banner_opens_the_lead(
    window: MainWindow, workspace: Workspace, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    monkeypatch.setattr(window, "edit_lead", opened.append)
    window.scoring.start_notifications(NoService())
    lead_id = add(workspace, "jane@acme.example.com")
    for _ in range(4):
        interactions.record(workspace, lead_id, "meeting")
    banner = window.scoring.banner
    qtbot.waitUntil(banner.isVisible)
    assert banner.label.text() == "Jane Doe (Acme) is sales-ready, score 120"
    assert release.recent_notices(workspace)[0].delivered_via == "banner"
    qtbot.mouseClick(banner.open_button, Qt.MouseButton.LeftButton)
    assert opened == [lead_id]
    assert not banner.isVisible()


def test_hand_off_tab_for_a_released_lead(
    window: MainWindow, workspace: Workspace, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QInputDialog

    lead_id = add(workspace, "jane@acme.example.com")
    other_id = add(workspace, "john@acme.example.com", first="John")
    for _ in range(4):
        interactions.log_interactions(workspace, [lead_id, other_id], "meeting")
    panel = LeadActivityPanel(workspace, lead_id, window.undo_stack.push, window.show_error)
    qtbot.addWidget(panel)
    assert panel.handoff_state.text().startswith("Waiting for sales: follow up by ")
    assert "sales-ready" in panel.summary.text()
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert panel.handoff_state.text().startswith("With sales since ")
    assert not panel.accept_button.isEnabled()
    assert leads.get_lead(workspace, lead_id).stage_name == "With sales"

    other = LeadActivityPanel(workspace, other_id, window.undo_stack.push, window.show_error)
    qtbot.addWidget(other)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("no budget", True))
    qtbot.mouseClick(other.reject_button, Qt.MouseButton.LeftButton)
    assert "Rejected on" in other.handoff_state.text()
    assert "no budget. Back into nurturing on" in other.handoff_state.text()
    assert leads.get_lead(workspace, other_id).stage_name == "Recycled"


def test_enter_in_the_note_logs_without_closing_the_editor(
    window: MainWindow, workspace: Workspace, qtbot: QtBot
) -> None:
    from nurturedesk.ui.lead_editor import LeadEditor

    lead_id = add(workspace, "jane@acme.example.com")
    editor = LeadEditor(lambda data, stage: None, leads.get_lead(workspace, lead_id), parent=window)
    qtbot.addWidget(editor)
    window.scoring.attach_to_editor(editor, lead_id)
    panel = editor.property("activityPanel")
    editor.show()
    panel.type_combo.setCurrentIndex(panel.type_combo.findData("call"))
    panel.note.setFocus()
    qtbot.keyClicks(panel.note, "asked for pricing")
    qtbot.keyClick(panel.note, Qt.Key.Key_Return)
    assert editor.isVisible() and editor.result() == 0
    assert [i.note for i in interactions.timeline(workspace, lead_id)] == ["asked for pricing"]
    editor.reject()
