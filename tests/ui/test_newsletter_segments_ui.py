"""The newsletter dialog offers saved segments as an audience."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, QTime, QTimeZone
from pytestqt.qtbot import QtBot

from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import list_newsletters, send_due
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import configure_file_transport
from nurturedesk.core.models import OutboxMessage
from nurturedesk.core.segments import parse_condition, save_segment
from nurturedesk.core.settings import set_setting
from nurturedesk.ui.newsletter_dialog import NewsletterDialog


def test_newsletter_dialog_schedules_a_segment_audience(
    qtbot: QtBot, workspace: Workspace, tmp_path: Path
) -> None:
    configure_file_transport(workspace, tmp_path / "eml", "Alex <alex@example.com>")
    set_setting(workspace, "mail_timezone", "UTC")
    save_segment(workspace, "Acme people", [parse_condition("company ~ acme")])
    for name, company in (("ann", "Acme"), ("bob", "Acme GmbH"), ("cy", "Other")):
        add_lead(workspace, LeadData(email=f"{name}@example.org", company=company))

    dialog = NewsletterDialog(workspace)
    qtbot.addWidget(dialog)
    segments = [dialog.segment.itemText(i) for i in range(dialog.segment.count())]
    assert segments == ["(no segment)", "Acme people"]
    assert dialog.stage.currentText() == "Newsletter"  # the default audience
    dialog.segment.setCurrentText("Acme people")
    assert dialog.stage.currentText() == "(any stage)"  # the segment says who it is for
    assert dialog.segment_count.text().startswith("2 leads in it now")
    dialog.name.setText("Acme digest")
    first = QDateTime(QDate(2026, 3, 2), QTime(8, 0), QTimeZone.utc())  # before the test clock
    dialog.first_run.setDateTime(first)
    assert dialog.schedule() is True
    audience = dialog.table.item(0, 1)
    assert audience is not None and audience.text() == "segment Acme people"
    assert [n.audience for n in list_newsletters(workspace)] == ["segment Acme people"]

    sent = send_due(workspace).delivery.sent
    with workspace.session() as s:
        to = sorted(s.get(OutboxMessage, i).to_address for i in sent)  # type: ignore[union-attr]
    assert to == ["ann@example.org", "bob@example.org"]
