# ruff: noqa: F811  (pytest fixtures imported by name)
"""The nurture screens as a user meets them: sending settings with a real test email, the
outbox, the template editor with preview, the sequence editor and the status bar."""

from __future__ import annotations

import keyring
from keyring.backends.fail import Keyring as FailKeyring
from PySide6.QtWidgets import QLabel, QMenu
from pytestqt.qtbot import QtBot

from nurturedesk.core import outbox
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import send_due
from nurturedesk.core.leads import LeadData, add_lead
from nurturedesk.core.mailconfig import configure_file_transport, load_config
from nurturedesk.core.models import OutboxMessage
from nurturedesk.core.sequences import enroll, find_sequence, list_enrollments
from nurturedesk.core.settings import set_setting
from nurturedesk.ui.main_window import MainWindow
from nurturedesk.ui.outbox_view import OutboxView
from nurturedesk.ui.sequence_editor import SequenceEditor
from nurturedesk.ui.smtp_dialog import SmtpDialog
from nurturedesk.ui.template_editor import TemplateEditor
from tests.integration.smtp_fixtures import smtp_server, test_keyring  # noqa: F401
from tests.integration.smtp_server import PASSWORD, USER, SmtpServer


def test_nurture_menu_and_status_bar(window: MainWindow) -> None:
    menu = window.findChild(QMenu, "nurtureMenu")
    assert menu is not None
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Nurture") == titles.index("&Help") - 1
    status = window.statusBar().findChild(QLabel, "sendingStatus")
    assert status.text() == "Sending not set up"
    configure_file_transport(window.workspace, "", "Me <me@example.com>")
    assert status.text().startswith("Sent 0")  # refreshed by the settings event


def test_settings_dialog_sends_a_real_test_email(
    qtbot: QtBot, workspace: Workspace, smtp_server: SmtpServer, test_keyring: None
) -> None:
    dialog = SmtpDialog(workspace)
    qtbot.addWidget(dialog)
    dialog.transport.setCurrentIndex(dialog.transport.findData("smtp"))
    dialog.host.setText("localhost")
    dialog.port.setValue(smtp_server.port)
    dialog.user.setText(USER)
    dialog.password.setText(PASSWORD)
    dialog.from_.setText("Alex Sender <alex@example.com>")
    dialog.test_to.setText("me@example.org")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "Test email sent" in dialog.message.text(), timeout=20_000)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["me@example.org"]]
    assert dialog.password.text() == ""  # handed to the keyring, not kept in the form
    assert load_config(workspace).host == "localhost"
    assert PASSWORD not in str(workspace.path.read_bytes() if workspace.path else b"")


def test_settings_dialog_explains_a_missing_keyring(qtbot: QtBot, workspace: Workspace) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        dialog = SmtpDialog(workspace)
        qtbot.addWidget(dialog)
        dialog.transport.setCurrentIndex(dialog.transport.findData("smtp"))
        dialog.host.setText("smtp.example.com")
        dialog.user.setText("me")
        dialog.password.setText("secret")
        dialog.from_.setText("me@example.com")
        assert dialog.save() is False
        assert "no system keyring" in dialog.message.text()
        assert "secret" not in dialog.message.text()
        assert load_config(workspace).host == "smtp.example.com"  # the rest was saved
    finally:
        keyring.set_keyring(previous)


def test_outbox_view_marks_an_uncertain_message_as_sent(
    qtbot: QtBot, window: MainWindow, tmp_path: object
) -> None:
    ws = window.workspace
    configure_file_transport(ws, str(tmp_path), "Me <me@example.com>")
    set_setting(ws, "mail_timezone", "UTC")
    lead = add_lead(ws, LeadData(email="u@example.org", first_name="Uma"))
    seq = find_sequence(ws, "Default nurture track")
    enroll(ws, [lead.id], seq.id)
    send_due(ws, limit=0)
    with ws.session() as s:
        s.query(OutboxMessage).update({"state": "uncertain"})
    view = OutboxView(ws, window.bridge)
    qtbot.addWidget(view)
    assert [i.state for i in view.model.items] == ["uncertain"]
    view.table.selectRow(0)
    assert view.buttons["mark_sent"].isEnabled() and not view.buttons["retry"].isEnabled()
    assert "Hi Uma" in view.preview.toPlainText()
    view.buttons["mark_sent"].click()
    assert [i.state for i in outbox.list_outbox(ws)] == ["sent"]
    assert view.model.items[0].state == "sent"


def test_template_editor_points_at_the_problem_and_previews(
    qtbot: QtBot, workspace: Workspace
) -> None:
    add_lead(workspace, LeadData(email="p@example.org", first_name="Priya", company="Hooli"))
    editor = TemplateEditor(workspace)
    qtbot.addWidget(editor)
    editor.new()
    editor.name.setText("Mine")
    editor.body.setPlainText("Hello\n{{ lead.compnay }}")
    assert editor.save() is False
    assert "line 2, column 4" in editor.problem.text()
    assert editor.body.textCursor().blockNumber() == 1  # the cursor went to the problem
    editor.body.setPlainText("Hello {{ lead.first_name }} at **{{ lead.company }}**")
    editor.lead.setCurrentIndex(editor.lead.findText("Priya <p@example.org>"))
    editor.update_preview()
    html = editor.preview_html.toHtml()
    assert "Hello Priya at" in html and 'font-weight:700;">Hooli<' in html  # bold rendered
    assert "Hello Priya at **Hooli**" in editor.preview_text.toPlainText()  # readable text
    assert editor.save() is True
    assert editor.list.currentItem().text() == "Mine"


def test_sequence_editor_saves_steps_window_and_stage(qtbot: QtBot, workspace: Workspace) -> None:
    editor = SequenceEditor(workspace)
    qtbot.addWidget(editor)
    editor.new()
    editor.name.setText("Webinar follow-up")
    editor.add_step(delay=3)
    editor.days[5].setChecked(True)
    editor.stage.setCurrentIndex(editor.stage.findText("Qualifying"))
    assert editor.save(), editor.problem.text()
    seq = find_sequence(workspace, "Webinar follow-up")
    assert [s.delay_days for s in seq.steps] == [0, 3]
    assert seq.window_days == (0, 1, 2, 3, 4, 5) and seq.stages == ("Qualifying",)
    lead = add_lead(workspace, LeadData(email="q@example.org"))
    from nurturedesk.core.leads import move_leads
    from nurturedesk.core.stages import find_stage

    move_leads(workspace, [lead.id], find_stage(workspace, "Qualifying").id)
    editor.fill_enrolments()
    assert editor.enrolments.rowCount() == 1
    editor.enrolments.selectRow(0)
    editor.enrolment_action("pause")
    assert list_enrollments(workspace, lead_id=lead.id)[0].state == "paused"


def test_lead_editor_shows_the_next_email(qtbot: QtBot, window: MainWindow) -> None:
    from nurturedesk.core.leads import move_leads
    from nurturedesk.core.stages import find_stage
    from nurturedesk.ui.lead_editor import LeadEditor
    from tests.ui.conftest import when_modal

    ws = window.workspace
    lead = add_lead(ws, LeadData(email="n@example.org", first_name="Nia"))
    move_leads(ws, [lead.id], find_stage(ws, "Nurturing").id)
    seen: list[str] = []

    def look(dialog: object) -> None:
        assert isinstance(dialog, LeadEditor)
        label = dialog.findChild(QLabel, "nurtureSummary")
        seen.append(label.text() if label else "")
        dialog.reject()

    when_modal(qtbot, look)  # type: ignore[arg-type]
    window.edit_lead(lead.id)
    assert "Nurture 1: guide (Default nurture track)" in seen[0]
    assert "Default nurture track: active" in seen[0]


def test_newsletter_dialog_schedules_a_broadcast(qtbot: QtBot, workspace: Workspace) -> None:
    from nurturedesk.ui.newsletter_dialog import NewsletterDialog

    dialog = NewsletterDialog(workspace)
    qtbot.addWidget(dialog)
    assert dialog.schedule() is False and "needs a name" in dialog.problem.text()
    dialog.name.setText("Quarterly digest")
    dialog.recurrence.setCurrentText("quarterly")
    assert dialog.schedule() is True
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 1).text() == "stage Newsletter"
    assert dialog.table.item(0, 2).text() == "quarterly"
