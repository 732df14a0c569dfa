"""Leads in and out from the window: the import dialog, export of the current filter,
segments as a board filter, bulk actions with undo, and personal data requests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from nurturedesk.core import forked_reader, leads
from nurturedesk.core.clock import FakeClock
from nurturedesk.core.importer import list_batches
from nurturedesk.core.segments import parse_condition, save_segment
from nurturedesk.core.stages import find_stage
from nurturedesk.ui.main_window import MainWindow
from tests.ui.conftest import add


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def column_count(window: MainWindow, stage: str) -> int:
    column = window.board.column_for(find_stage(window.workspace, stage).id)
    assert column is not None
    return column.model.total


def select_all_in(window: MainWindow, stage: str) -> None:
    column = window.board.column_for(find_stage(window.workspace, stage).id)
    assert column is not None
    column.view.setFocus()
    column.view.selectAll()


def test_import_dialog_previews_maps_imports_and_undoes(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "fair.csv",
        [
            ["E-mail", "First Name", "Company Name", "Booth notes"],
            ["ann@example.com", "Ann", "Acme", "wants a demo"],
            ["bob@example.com", "Bob", "Beta", ""],
            ["not an email", "X", "", ""],
            ["ANN@example.com", "Ann", "Acme", ""],
        ],
    )
    dialog = window.data_actions.open_import(path)  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    combos = {c.objectName(): c.currentData() for c in dialog.findChildren(QComboBox)}
    assert combos["map:E-mail"] == "email"
    assert combos["map:Company Name"] == "company"
    assert combos["map:Booth notes"] == "custom:Booth notes"
    assert dialog.table.item(1, 1).text() == "Ann"
    dialog.tags.setText("Fair 2026")

    assert dialog.import_button.isEnabled(), dialog.status.text()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    def imported() -> None:  # on timeout, pytest-qt shows this assertion: the dialog's own words
        assert dialog.import_result is not None, dialog.status.text()

    qtbot.waitUntil(imported, timeout=30_000)

    assert "2 new" in dialog.status.text() and "1 rejected" in dialog.status.text()
    assert "Rejected row 4: " in dialog.status.text()  # (the bad address, and why)
    assert "Skipped: 1 repeated in the file." in dialog.status.text()
    qtbot.waitUntil(lambda: column_count(window, "New") == 2)
    assert leads.find_lead(window.workspace, "ann@example.com").tags == ("Fair 2026",)
    dialog.cancel_or_close()

    window.undo_stack.undo()
    qtbot.waitUntil(lambda: column_count(window, "New") == 0)
    assert list_batches(window.workspace)[0].undone_at is not None
    window.undo_stack.redo()
    qtbot.waitUntil(lambda: column_count(window, "New") == 2)


def test_the_user_picks_the_encoding_when_detection_guesses_wrong(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    """A Hungarian Windows file of a few names: cp1252 reads "Szőke" as "Szõke", which is
    Portuguese enough for the detector. Choosing Central European shows and imports the
    names as they are written."""
    path = tmp_path / "hu.csv"
    rows = "".join(f"p{i}@example.hu;Szőke Ödön;Győr\r\n" for i in range(20))
    path.write_bytes(("email;név;város\r\n" + rows).encode("cp1250"))
    dialog = window.data_actions.open_import(path)  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    assert "cp1252" in dialog.file_info.text()  # the wrong guess this test is about
    assert dialog.table.item(1, 1).text() == "Szõke Ödön"
    dialog.encoding.setCurrentIndex(dialog.encoding.findData("cp1250"))
    assert "cp1250" in dialog.file_info.text()
    assert dialog.table.item(1, 1).text() == "Szőke Ödön"
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.import_result is not None, timeout=30_000)
    lead = leads.find_lead(window.workspace, "p0@example.hu")
    assert lead.custom_fields == {"név": "Szőke Ödön", "város": "Győr"}
    dialog.cancel_or_close()


def import_choices(dialog: QWidget) -> list[QWidget]:
    """The file and the choices the user made for the import, as the dialog shows them."""
    widgets = [
        dialog.findChild(QWidget, name)
        for name in ("importPath", "duplicatePolicy", "importStage", "importTags", "importSource")
    ]
    widgets += [
        b for b in dialog.findChildren(QAbstractButton) if b.text().startswith(("Choose", "Keep"))
    ]
    assert all(w is not None for w in widgets) and len(widgets) == 7
    return widgets  # type: ignore[return-value]


# (read in the import's thread, and in a child forked from that thread, as big files are)
@pytest.mark.parametrize("in_a_child", [False, True])
def test_import_locks_its_choices_while_it_runs_and_is_never_full_before_done(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_a_child: bool,
) -> None:
    monkeypatch.setattr(forked_reader, "worth_it", lambda path: in_a_child)
    rows = [["Email"]] + [[f"p{i}@example.com"] for i in range(50)]
    dialog = window.data_actions.open_import(write_csv(tmp_path / "list.csv", rows))  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    bar = dialog.findChild(QProgressBar)
    seen: list[tuple[bool, int, int, str, bool]] = []
    # After the dialog's own handler: each state the user sees while the import runs.
    dialog._signals.progress.connect(
        lambda _p: seen.append(
            (
                dialog.running,
                bar.value(),
                bar.maximum(),
                dialog.status.text(),
                any(w.isEnabled() for w in import_choices(dialog)),
            )
        )
    )
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.import_result is not None, timeout=30_000)

    assert seen and all(running for running, *_ in seen)
    assert not any(enabled for *_, enabled in seen), "a choice could change mid-import"
    full = [state for state in seen if state[1] == state[2] != 0]
    assert not full, f"the bar was full before the import ended: {full}"
    _running, _value, maximum, text, _enabled = seen[-1]
    assert maximum == 0 and text.startswith("Saving…")  # busy, not 100%
    assert (bar.value(), bar.maximum()) == (1000, 1000)
    assert all(w.isEnabled() for w in import_choices(dialog))


# (read in the import's thread, and in a child forked from that thread, as big files are)
@pytest.mark.parametrize("in_a_child", [False, True])
def test_cancelled_import_keeps_nothing_and_the_dialog_stays_usable(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_a_child: bool,
) -> None:
    monkeypatch.setattr(forked_reader, "worth_it", lambda path: in_a_child)
    rows = [["Email"]] + [[f"p{i}@example.com"] for i in range(60_000)]
    dialog = window.data_actions.open_import(write_csv(tmp_path / "big.csv", rows))  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.running
    assert not any(w.isEnabled() for w in import_choices(dialog))
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=20_000)
    assert "cancelled" in dialog.status.text()
    assert dialog.import_button.isEnabled()
    assert all(w.isEnabled() for w in import_choices(dialog))
    assert leads.count_by_stage(window.workspace) == {}
    assert list_batches(window.workspace) == []


def test_segment_filter_narrows_the_board_and_export_follows_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    add(window.workspace, "a@acme.com", company="Acme", tags=("vip",))
    add(window.workspace, "b@acme.com", "Nurturing", company="Acme")
    add(window.workspace, "c@other.com", company="Other", tags=("vip",))
    save_segment(
        window.workspace,
        "Acme VIPs",
        [parse_condition("company = acme"), parse_condition("tag = vip")],
    )
    actions = window.data_actions  # type: ignore[attr-defined]
    actions.segment_filter.refresh()
    actions.segment_filter.setCurrentIndex(actions.segment_filter.findData("Acme VIPs"))
    qtbot.waitUntil(lambda: column_count(window, "New") == 1)
    assert column_count(window, "Nurturing") == 0
    assert window.status_count.text() == "1 leads match"

    result = actions.export(str(tmp_path / "vips.csv"))
    assert result is not None and result.leads == 1

    window.clear_filters()
    qtbot.waitUntil(lambda: column_count(window, "New") == 2)
    assert actions.segment_filter.currentIndex() == 0


def test_bulk_tag_and_owner_on_selected_cards_undo_and_redo(
    qtbot: QtBot, window: MainWindow
) -> None:
    a = add(window.workspace, "a@example.com")
    b = add(window.workspace, "b@example.com", owner="kim")
    window.board.rebuild()
    select_all_in(window, "New")
    assert sorted(window.board.selected_lead_ids()) == [a, b]
    actions = window.data_actions  # type: ignore[attr-defined]
    assert actions.tag_action.isEnabled()

    actions.tag_selected("webinar")
    assert all("webinar" in leads.get_lead(window.workspace, i).tags for i in (a, b))
    actions.assign_owner("sam")
    assert {leads.get_lead(window.workspace, i).owner for i in (a, b)} == {"sam"}

    window.undo_stack.undo()
    assert leads.get_lead(window.workspace, b).owner == "kim"
    window.undo_stack.undo()
    assert leads.get_lead(window.workspace, a).tags == ()
    assert "webinar" not in leads.all_tags(window.workspace)
    window.undo_stack.redo()
    assert leads.get_lead(window.workspace, a).tags == ("webinar",)


def test_personal_data_export_and_forget_from_the_lead_menu(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    add(window.workspace, "gone@example.com", first_name="Gone")
    add(window.workspace, "stays@example.com", "Qualifying")
    window.board.rebuild()
    select_all_in(window, "New")
    actions = window.data_actions  # type: ignore[attr-defined]
    assert actions.forget_action.isEnabled()

    written = actions.export_personal_data(str(tmp_path / "gone.json"))
    assert written is not None and "Gone" in written.read_text()

    window.undo_stack.push(_noop())
    assert actions.forget_lead(confirmed=True)
    qtbot.waitUntil(lambda: column_count(window, "New") == 0)
    assert window.undo_stack.count() == 0
    assert column_count(window, "Qualifying") == 1


def test_forget_in_the_window_names_the_backups_still_holding_the_person(
    qtbot: QtBot, window: MainWindow
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from nurturedesk.core.backups import make_daily_backup

    add(window.workspace, "held@example.com", first_name="Held")
    backup = make_daily_backup(window.workspace).path
    window.board.rebuild()
    select_all_in(window, "New")
    assert window.data_actions.forget_lead(confirmed=True)  # type: ignore[attr-defined]
    notice = window.findChild(QMessageBox, "forgetCopiesNotice")
    assert notice is not None and str(backup) in notice.text()
    assert "Restoring any of them erases the person again" in notice.text()
    notice.close()


def _noop():  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QUndoCommand

    return QUndoCommand("placeholder")


def test_segment_editor_counts_live_refuses_bad_lines_and_saves(
    qtbot: QtBot, window: MainWindow
) -> None:
    from nurturedesk.ui.segments_panel import SegmentsDialog

    add(window.workspace, "a@acme.com", company="Acme")
    add(window.workspace, "b@beta.com", company="Beta")
    dialog = SegmentsDialog(window.workspace, window)
    qtbot.addWidget(dialog)
    dialog.name.setText("Acme people")
    dialog.conditions.setPlainText("company ~ acm")
    assert dialog.count.text() == "1 leads match now."
    dialog.conditions.setPlainText("company ~ acm\nscore >= lots")
    assert (
        dialog.count.text().startswith("Line 2: ")
        and "'lots' is not a number" in dialog.count.text()
    )
    assert not dialog.save_button.isEnabled()
    dialog.conditions.setPlainText("company ~ acm")
    changed: list[bool] = []
    dialog.segmentsChanged.connect(lambda: changed.append(True))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert changed and dialog.list.currentItem().text() == "Acme people"
    actions = window.data_actions  # type: ignore[attr-defined]
    actions.segment_filter.refresh()
    assert actions.segment_filter.findData("Acme people") > 0
    qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
    assert dialog.name.text() == "" and dialog.conditions.toPlainText() == ""


def test_import_dialog_wants_an_email_column(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    # A column of addresses under a header we do not know is chosen for the email...
    path = write_csv(tmp_path / "names.csv", [["Name", "Kontakt"], ["Ann", "ann@example.com"]])
    dialog = window.data_actions.open_import(path)  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    combo = dialog.table.cellWidget(0, 1)
    assert isinstance(combo, QComboBox) and combo.currentData() == "email"
    assert dialog.import_button.isEnabled()
    dialog.close()
    # ...and with no such column the user is asked for one.
    path = write_csv(tmp_path / "names.csv", [["Name", "Contact"], ["Ann", "ann at example"]])
    dialog = window.data_actions.open_import(path)  # type: ignore[attr-defined]
    qtbot.addWidget(dialog)
    assert not dialog.import_button.isEnabled()
    assert "email address" in dialog.status.text()
    combo = dialog.table.cellWidget(0, 1)
    assert isinstance(combo, QComboBox)
    combo.setCurrentIndex(combo.findData("email"))
    assert dialog.import_button.isEnabled()
    first = dialog.table.cellWidget(0, 0)
    assert isinstance(first, QComboBox)
    first.setCurrentIndex(first.findData("email"))
    assert not dialog.import_button.isEnabled()
    assert "same field: email" in dialog.status.text()


def test_enrol_and_unenrol_selected_cards_with_undo(qtbot: QtBot, window: MainWindow) -> None:
    from nurturedesk.core.sequences import list_enrollments, list_sequences

    sequence = list_sequences(window.workspace)[0]
    a = add(window.workspace, "a@example.com")
    b = add(window.workspace, "b@example.com")
    window.board.rebuild()
    select_all_in(window, "New")
    actions = window.data_actions  # type: ignore[attr-defined]
    assert actions.enrol_action.isEnabled()

    def enrolled() -> dict[int, str]:
        return {
            e.lead_id: e.state for e in list_enrollments(window.workspace, sequence_id=sequence.id)
        }

    actions.enrol_selected(sequence.name)
    assert enrolled() == {a: "active", b: "active"}
    actions.unenrol_selected(sequence.name)
    assert enrolled() == {a: "stopped", b: "stopped"}
    window.undo_stack.undo()
    assert enrolled() == {a: "active", b: "active"}
    window.undo_stack.undo()
    assert enrolled() == {}


def test_undo_an_earlier_import_from_the_file_menu(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QInputDialog

    from nurturedesk.core.importer import import_file
    from tests.ui.conftest import when_modal

    first = import_file(window.workspace, write_csv(tmp_path / "a.csv", [["Email"], ["a@x.com"]]))
    import_file(window.workspace, write_csv(tmp_path / "b.csv", [["Email"], ["b@x.com"]]))
    qtbot.waitUntil(lambda: column_count(window, "New") == 2)

    def pick_first_import(dialog: object) -> None:
        assert isinstance(dialog, QInputDialog)
        labels = dialog.comboBoxItems()
        assert labels[0].startswith(f"#{first.batch_id + 1} b.csv")  # newest first
        dialog.setTextValue(labels[1])
        dialog.accept()

    when_modal(qtbot, pick_first_import)
    window.data_actions.undo_an_import()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: column_count(window, "New") == 1)
    assert [c.email for c in leads.list_leads(window.workspace)] == ["b@x.com"]
    assert "undone" in window.statusBar().currentMessage()


def test_undoing_an_import_whose_leads_were_worked_on_asks_first(
    qtbot: QtBot,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> None:
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    from nurturedesk.core.importer import import_file
    from tests.ui.conftest import when_modal

    import_file(window.workspace, write_csv(tmp_path / "a.csv", [["Email"], ["a@x.com"]]))
    clock.advance(hours=1)
    lead_id = leads.find_lead(window.workspace, "a@x.com").id
    leads.move_leads(window.workspace, [lead_id], find_stage(window.workspace, "Nurturing").id)
    warned: list[str] = []

    def cancel(_parent: object, _title: str, text: str, *_args: object) -> object:
        warned.append(text)
        return QMessageBox.StandardButton.Cancel

    # (the question box itself is Qt's; what matters is what it says and that Cancel keeps all)
    monkeypatch.setattr(QMessageBox, "warning", cancel)

    def pick(dialog: QWidget) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.accept()

    when_modal(qtbot, pick)
    window.data_actions.undo_an_import()  # type: ignore[attr-defined]
    assert "1 of the leads import #1 added were edited, tagged, moved" in warned[0]
    assert [c.email for c in leads.list_leads(window.workspace)] == ["a@x.com"]


def test_right_click_on_a_card_opens_the_lead_menu(qtbot: QtBot, window: MainWindow) -> None:
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication

    add(window.workspace, "a@example.com")
    window.board.rebuild()
    column = window.board.column_for(find_stage(window.workspace, "New").id)
    assert column is not None
    viewport = column.view.viewport()
    point = column.view.visualRect(column.model.index(0)).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, viewport.mapToGlobal(point))
    QApplication.sendEvent(viewport, event)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    popup = QApplication.activePopupWidget()
    assert popup is window.menu("lead")
    popup.close()


def test_export_to_a_folder_that_cannot_be_written_says_why(
    qtbot: QtBot, window: MainWindow, unwritable_dir: Path
) -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox

    add(window.workspace, "a@example.com")
    out = unwritable_dir / "leads.csv"
    assert window.data_actions.export(str(out)) is None  # type: ignore[attr-defined]
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Could not write {out}: "), message
    box = QApplication.activeModalWidget()  # a plain warning, not the crash dialog
    assert isinstance(box, QMessageBox) and box.icon() == QMessageBox.Icon.Warning
    assert box.text() == message
    box.close()


def test_export_writes_the_format_of_the_chosen_filter_when_the_name_has_no_suffix(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import load_workbook
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from tests.ui.conftest import when_modal

    add(window.workspace, "a@example.com")
    typed = tmp_path / "finance_leads"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_args: (str(typed), "Excel (*.xlsx)")
    )
    window.data_actions.export_action.trigger()  # type: ignore[attr-defined]
    out = tmp_path / "finance_leads.xlsx"
    assert not typed.exists()
    sheet = load_workbook(out).active
    assert sheet is not None and sheet["A2"].value == "a@example.com"
    assert window.statusBar().currentMessage() == f"Exported 1 leads to {out}"

    # The dialog asked about replacing "finance_leads" only: replacing the .xlsx is asked here.
    out.write_bytes(b"last week's export")
    questions: list[str] = []

    def keep_it(box: object) -> None:
        assert isinstance(box, QMessageBox)
        questions.append(box.text())
        box.button(QMessageBox.StandardButton.Cancel).click()

    stop = when_modal(qtbot, keep_it)
    window.data_actions.export_action.trigger()  # type: ignore[attr-defined]
    stop()
    assert questions == ["finance_leads.xlsx already exists. Replace it?"]
    assert out.read_bytes() == b"last week's export"


def prompt_parts(prompt: QWidget) -> tuple[str, QComboBox, QDialogButtonBox]:
    """What a user reads and uses in a bulk prompt: its label, its field and its buttons."""
    label, combo, buttons = (
        prompt.findChild(QLabel),
        prompt.findChild(QComboBox),
        prompt.findChild(QDialogButtonBox),
    )
    assert label is not None and combo is not None and buttons is not None
    return label.text(), combo, buttons


def test_bulk_tag_prompt_starts_empty_says_how_many_and_refuses_no_name(
    qtbot: QtBot, window: MainWindow
) -> None:
    from tests.ui.conftest import when_modal

    ids = [add(window.workspace, f"{n}@example.com", tags=("emea",)) for n in "abcd"]
    window.board.rebuild()
    select_all_in(window, "New")
    seen: dict[str, object] = {}

    def answer(prompt: QWidget) -> None:
        label, combo, _buttons = prompt_parts(prompt)
        entry = combo.lineEdit()
        seen.update(label=label, text=entry.text(), width=prompt.width())
        qtbot.keyClick(entry, Qt.Key.Key_Return)  # at once: nothing happens
        seen["open after Enter"] = prompt.isVisible()
        if prompt.isVisible():
            entry.clear()
            qtbot.keyClicks(entry, "webinar")
            qtbot.keyClick(entry, Qt.Key.Key_Return)

    when_modal(qtbot, answer)
    window.data_actions.tag_action.trigger()  # type: ignore[attr-defined]
    assert seen["label"] == "Tag 4 selected leads:"
    assert seen["text"] == ""
    assert seen["open after Enter"] is True
    assert isinstance(seen["width"], int) and seen["width"] >= 360
    assert all(leads.get_lead(window.workspace, i).tags == ("emea", "webinar") for i in ids)
    window.undo_stack.undo()
    assert all(leads.get_lead(window.workspace, i).tags == ("emea",) for i in ids)


def test_remove_tag_offers_the_selected_leads_tags_and_owner_can_be_cleared(
    qtbot: QtBot, window: MainWindow
) -> None:
    from tests.ui.conftest import when_modal

    a = add(window.workspace, "a@example.com", tags=("vip",), owner="alex")
    b = add(window.workspace, "b@example.com", tags=("emea", "vip"))
    add(window.workspace, "c@example.com", "Nurturing", tags=("healthcare",), owner="kim")
    window.board.rebuild()
    select_all_in(window, "New")
    seen: dict[str, object] = {}

    def pick_vip(prompt: QWidget) -> None:
        label, combo, buttons = prompt_parts(prompt)
        seen.update(
            label=label,
            text=combo.currentText(),
            choices=[combo.itemText(i) for i in range(combo.count())],
        )
        combo.setCurrentIndex(combo.findText("vip"))
        buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    when_modal(qtbot, pick_vip)
    window.data_actions.untag_action.trigger()  # type: ignore[attr-defined]
    assert seen == {
        "label": "Remove a tag from 2 selected leads:",
        "text": "",
        "choices": ["emea", "vip"],  # not "healthcare": no selected lead has it
    }
    assert leads.get_lead(window.workspace, a).tags == ()
    assert leads.get_lead(window.workspace, b).tags == ("emea",)

    def clear_owner(prompt: QWidget) -> None:
        label, combo, buttons = prompt_parts(prompt)
        seen.update(label=label, text=combo.currentText())
        qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)  # Enter never clears
        seen["open after Enter"] = prompt.isVisible()
        clear = [b for b in buttons.buttons() if b.text() == "Clear Owner"]
        if prompt.isVisible():
            (clear[0] if clear else buttons.button(QDialogButtonBox.StandardButton.Cancel)).click()

    when_modal(qtbot, clear_owner)
    window.data_actions.owner_action.trigger()  # type: ignore[attr-defined]
    assert seen["label"] == "Owner of 2 selected leads:" and seen["text"] == ""
    assert seen["open after Enter"] is True
    assert leads.get_lead(window.workspace, a).owner == ""
    window.undo_stack.undo()
    assert leads.get_lead(window.workspace, a).owner == "alex"


def test_bulk_actions_that_change_nothing_say_so_and_leave_no_undo(
    qtbot: QtBot, window: MainWindow
) -> None:
    from nurturedesk.core.sequences import list_sequences

    sequence = list_sequences(window.workspace)[0].name
    add(window.workspace, "a@example.com", owner="sam")
    add(window.workspace, "b@example.com", owner="sam")
    add(window.workspace, "c@example.com", "Nurturing", tags=("healthcare",))
    window.board.rebuild()
    select_all_in(window, "New")
    actions = window.data_actions  # type: ignore[attr-defined]

    def says(message: str) -> None:
        assert window.statusBar().currentMessage() == message
        assert window.undo_stack.count() == 0

    actions.untag_selected("healthcare")
    says("None of the 2 selected leads has the tag 'healthcare'.")
    actions.unenrol_selected(sequence)
    says(f"None of the 2 selected leads is enrolled in {sequence}.")
    actions.assign_owner("sam")
    says("All 2 selected leads already belong to sam.")
    actions.untag_action.trigger()  # no prompt: there is nothing to offer
    says("None of the 2 selected leads has a tag.")

    actions.tag_selected("vip")
    assert window.undo_stack.count() == 1  # a change is still undoable
    actions.tag_selected("VIP")
    assert window.statusBar().currentMessage() == (
        "All 2 selected leads already have the tag 'vip'."
    )
    assert window.undo_stack.count() == 1
