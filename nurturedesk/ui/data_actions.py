"""Leads in and out from the main window: the menu actions for import (and undoing one),
export of what the board shows, segments as a board filter, bulk actions on the selected
cards, and personal data requests. `install(window)` is the only hook in the main window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import exporter, importer, privacy
from nurturedesk.core import leads as lead_service
from nurturedesk.core.errors import UserError
from nurturedesk.core.events import LeadsChanged
from nurturedesk.ui.bulk_commands import (
    AssignOwnerCommand,
    EnrolCommand,
    ImportCommand,
    TagLeadsCommand,
    none_of,
)
from nurturedesk.ui.busy import run_busy
from nurturedesk.ui.commands import plural
from nurturedesk.ui.confirm import user_confirms
from nurturedesk.ui.import_dialog import ImportDialog
from nurturedesk.ui.segments_panel import SegmentFilter, SegmentsDialog

if TYPE_CHECKING:
    from nurturedesk.ui.main_window import MainWindow

# Reasons after which the tag/owner/source filter menus may have new choices.
_REFILL = ("import undone", "tagged", "untagged", "tags restored", "owner", "forgotten")
# The save dialog's filters and the format each one writes.
_EXPORT_FILTERS = {"CSV (*.csv)": "csv", "Excel (*.xlsx)": "xlsx"}


class ValuePrompt(QDialog):
    """Asks for one name (a tag, an owner) for many leads at once. It starts empty and OK
    needs a name, so Enter pressed at once changes nothing; the existing names are offered
    in the drop-down and as completions. An optional second button clears the value."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        label: str,
        choices: list[str],
        clear_text: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(360)
        self.cleared = False
        self.combo = QComboBox()
        self.combo.setObjectName("promptValue")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.addItems(choices)
        self.combo.setCurrentIndex(-1)  # nothing chosen for the user
        completer = QCompleter(choices, self.combo)  # any part of a name, any case
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.combo.setCompleter(completer)
        self.label = QLabel(label)
        self.label.setBuddy(self.combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(False)
        self.combo.editTextChanged.connect(
            lambda text: self.ok_button.setEnabled(bool(text.strip()))
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        if clear_text is not None:
            clear = buttons.addButton(clear_text, QDialogButtonBox.ButtonRole.ActionRole)
            clear.setAutoDefault(False)  # only a click clears, never Enter
            clear.clicked.connect(self._clear)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.combo)
        layout.addWidget(buttons)

    def _clear(self) -> None:
        self.cleared = True
        self.accept()

    def value(self) -> str:
        return "" if self.cleared else self.combo.currentText().strip()


class DataActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.workspace = window.workspace
        self.import_dialog: ImportDialog | None = None
        self._build()

    def _build(self) -> None:
        w = self.window
        file_menu = w.menu("file")
        self.import_action = w._action("&Import Leads…", self.open_import, "Ctrl+I")
        self.export_action = w._action(
            "&Export Leads…", self.export, "Ctrl+Shift+E", "Export the leads the board shows"
        )
        self.undo_import_action = w._action("&Undo an Import…", self.undo_an_import)
        for action in (self.import_action, self.export_action, self.undo_import_action):
            file_menu.insertAction(w.quit_action, action)
        file_menu.insertSeparator(w.quit_action)

        lead = w.menu("lead")
        lead.addSeparator()
        self.tag_action = w._action("&Tag Selected…", self.tag_selected, "Ctrl+T")
        self.untag_action = w._action("Remove Ta&g…", self.untag_selected)
        self.owner_action = w._action("Assign &Owner…", self.assign_owner)
        self.enrol_action = w._action("En&rol in Sequence…", self.enrol_selected)
        self.unenrol_action = w._action("Unenrol from Se&quence…", self.unenrol_selected)
        for action in (
            self.tag_action,
            self.untag_action,
            self.owner_action,
            self.enrol_action,
            self.unenrol_action,
        ):
            lead.addAction(action)
        lead.addSeparator()
        self.export_data_action = w._action("Export Personal Dat&a…", self.export_personal_data)
        self.forget_action = w._action("&Forget Lead…", self.forget_lead)
        lead.addAction(self.export_data_action)
        lead.addAction(self.forget_action)
        self.selection_actions = (
            self.tag_action,
            self.untag_action,
            self.owner_action,
            self.enrol_action,
            self.unenrol_action,
            self.export_data_action,
            self.forget_action,
        )

        self.segment_filter = SegmentFilter(self.workspace)
        self.segment_filter.currentIndexChanged.connect(lambda _i: w.apply_filter())
        bar = w.findChild(QToolBar, "boardToolbar")
        if bar is not None:
            bar.insertWidget(w.clear_filters_action, self.segment_filter)
        w.filter_hooks.append(self.segment_filter.narrow)
        w.filter_resets.append(self.segment_filter.reset)
        w.menu("board").addAction(w._action("S&egments…", self.manage_segments))

        # Right-click on the cards: the Lead menu (the columns leave the event to the board).
        w.board.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        w.board.customContextMenuRequested.connect(
            lambda pos: w.menu("lead").popup(w.board.mapToGlobal(pos))
        )
        w.board.selectionChanged.connect(self.update_actions)
        w.bridge.leadsChanged.connect(self._on_leads_changed)
        self.update_actions()

    def update_actions(self) -> None:
        ids = self.window.board.selected_lead_ids()
        for action in self.selection_actions:
            action.setEnabled(bool(ids))
        for action in (self.export_data_action, self.forget_action):
            action.setEnabled(len(ids) == 1)

    def _on_leads_changed(self, event: LeadsChanged) -> None:
        if event.reason in _REFILL:
            self.window._fill_filter_choices()
        self.update_actions()

    # --- import / export ---------------------------------------------------------------

    def open_import(self, path: str | Path | None = None) -> ImportDialog:
        dialog = ImportDialog(self.workspace, self.window, path)
        dialog.imported.connect(
            lambda result, options: (
                self.window.undo_stack.push(
                    ImportCommand(
                        self.workspace,
                        dialog.path_edit.text().strip(),
                        result,
                        options,
                        self.window.show_error,
                        self.window,
                    )
                )
                if result.batch_id is not None
                else None
            )
        )
        self.import_dialog = dialog
        dialog.open()
        return dialog

    def undo_an_import(self) -> None:
        batches = [b for b in importer.list_batches(self.workspace) if b.undone_at is None]
        if not batches:
            self.window.show_error("There is no import to undo.")
            return
        labels = [
            f"#{b.id} {Path(b.file_name).name} — {b.imported:,} new, {b.updated:,} updated"
            + (f" ({b.finished_at:%Y-%m-%d %H:%M})" if b.finished_at else "")
            for b in batches
        ]
        choice, ok = QInputDialog.getItem(
            self.window, "Undo an import", "Take this import back as a whole:", labels, 0, False
        )
        if not ok:
            return
        batch = batches[labels.index(choice)]
        busy = importer.worked_on_since(self.workspace, batch.id)
        if busy and not user_confirms(
            self.window,
            "Undo an import",
            f"{importer.worked_on_warning(busy, batch.id)}\n\nUndo it anyway?",
        ):
            return
        try:
            result = run_busy(
                self.window,
                f"Taking import #{batch.id} back…",
                lambda: importer.undo_import(self.workspace, batch.id),
            )
        except UserError as exc:
            self.window.show_error(str(exc))
            return
        self.window.undo_stack.clear()  # older commands may refer to leads just removed
        self.window.statusBar().showMessage(result.summary(batch.id), 10_000)

    def _ask_export_path(self) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Export leads", str(Path.home() / "leads.csv"), ";;".join(_EXPORT_FILTERS)
        )
        if not path:
            return None
        target = Path(path)
        fmt = _EXPORT_FILTERS.get(chosen)
        # A name typed without .csv/.xlsx would become a CSV without a suffix, whatever the
        # filter said: the filter's suffix is added, and so its format written.
        if fmt is not None and target.suffix.lower().lstrip(".") not in exporter.FORMATS:
            target = target.with_name(f"{target.name}.{fmt}")
            # The dialog asked about replacing the name typed, not this one.
            if target.exists() and not user_confirms(
                self.window, "Export leads", f"{target.name} already exists. Replace it?"
            ):
                return None
        return str(target)

    def export(self, path: str | None = None) -> exporter.ExportResult | None:
        if path is None:
            path = self._ask_export_path()
            if path is None:
                return None
        flt = self.window.current_filter()
        target = path
        try:
            result = run_busy(
                self.window,
                f"Exporting to {Path(target).name}…",
                lambda: exporter.export_leads(self.workspace, target, flt=flt),
            )
        except UserError as exc:
            self.window.show_error(str(exc))
            return None
        self.window.statusBar().showMessage(
            f"Exported {result.leads:,} leads to {result.path}", 10_000
        )
        return result

    # --- segments ------------------------------------------------------------------------

    def manage_segments(self) -> None:
        dialog = SegmentsDialog(self.workspace, self.window)
        dialog.segmentsChanged.connect(self.segment_filter.refresh)
        dialog.segmentsChanged.connect(self.window.apply_filter)
        dialog.exec()

    # --- bulk actions on the selection ---------------------------------------------------

    def tell(self, message: str) -> None:
        """News that needs no answer, such as a bulk action that found nothing to change."""
        self.window.statusBar().showMessage(message, 10_000)

    def _prompt(
        self, title: str, label: str, choices: list[str], clear_text: str | None = None
    ) -> str | None:
        """The name typed or chosen; "" if cleared; None if cancelled."""
        dialog = ValuePrompt(self.window, title, label, choices, clear_text)
        try:
            return dialog.value() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    def tag_selected(self, tag: str | None = None) -> None:
        ids = self.window.board.selected_lead_ids()
        if not ids:
            return
        tag = tag or self._prompt(
            "Tag leads",
            f"Tag {plural(len(ids), 'selected lead')}:",
            lead_service.all_tags(self.workspace),
        )
        if tag:
            self.window.undo_stack.push(
                TagLeadsCommand(self.workspace, ids, tag, True, self.window.show_error, self.tell)
            )

    def untag_selected(self, tag: str | None = None) -> None:
        ids = self.window.board.selected_lead_ids()
        if not ids:
            return
        if not tag:
            choices = lead_service.tags_of(self.workspace, ids)
            if not choices:
                self.tell(none_of(len(ids), "has a tag", "has no tag"))
                return
            tag = self._prompt(
                "Remove a tag", f"Remove a tag from {plural(len(ids), 'selected lead')}:", choices
            )
        if tag:
            self.window.undo_stack.push(
                TagLeadsCommand(self.workspace, ids, tag, False, self.window.show_error, self.tell)
            )

    def assign_owner(self, owner: str | None = None) -> None:
        ids = self.window.board.selected_lead_ids()
        if not ids:
            return
        if owner is None:
            owner = self._prompt(
                "Assign owner",
                f"Owner of {plural(len(ids), 'selected lead')}:",
                lead_service.distinct_values(self.workspace, "owner"),
                clear_text="Clear Owner",
            )
            if owner is None:
                return
        self.window.undo_stack.push(
            AssignOwnerCommand(self.workspace, ids, owner, self.window.show_error, self.tell)
        )

    def _sequence_names(self) -> list[str]:
        from nurturedesk.core.sequences import list_sequences

        return [s.name for s in list_sequences(self.workspace)]

    def enrol_selected(self, sequence: str | None = None, enrol: bool = True) -> None:
        ids = self.window.board.selected_lead_ids()
        if not ids:
            return
        if sequence is None:
            names = self._sequence_names()
            if not names:
                self.window.show_error(
                    "There is no nurture sequence yet: add one in Nurture > Sequences…."
                )
                return
            title = "Enrol in a sequence" if enrol else "Unenrol from a sequence"
            choice, ok = QInputDialog.getItem(self.window, title, "Sequence:", names, 0, False)
            if not ok:
                return
            sequence = choice
        self.window.undo_stack.push(
            EnrolCommand(self.workspace, ids, sequence, enrol, self.window.show_error, self.tell)
        )

    def unenrol_selected(self, sequence: str | None = None) -> None:
        self.enrol_selected(sequence, enrol=False)

    # --- personal data -------------------------------------------------------------------

    def _selected_email(self) -> str | None:
        ids = self.window.board.selected_lead_ids()
        if len(ids) != 1:
            return None
        try:
            return lead_service.get_lead(self.workspace, ids[0]).email
        except UserError as exc:
            self.window.show_error(str(exc))
            return None

    def export_personal_data(self, path: str | None = None) -> Path | None:
        email = self._selected_email()
        if email is None:
            return None
        if path is None:
            suggested = Path.home() / f"{email.replace('@', '_at_')}.json"
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export personal data", str(suggested), "JSON (*.json)"
            )
            if not path:
                return None
        try:
            written = privacy.write_personal_data(self.workspace, email, path)
        except UserError as exc:
            self.window.show_error(str(exc))
            return None
        self.window.statusBar().showMessage(f"Wrote all data about {email} to {written}", 10_000)
        return written

    def forget_lead(self, confirmed: bool = False) -> bool:
        email = self._selected_email()
        if email is None:
            return False
        if not confirmed and not user_confirms(
            self.window,
            "Forget lead",
            f"Erase {email} and everything about them (history, emails, notes)?\n\n"
            "This cannot be undone, and it clears the undo history. Only a one-way hash "
            "of the address is kept, so it is never imported or mailed again.",
        ):
            return False
        try:
            result = privacy.forget_lead(self.workspace, email)
        except UserError as exc:
            self.window.show_error(str(exc))
            return False
        self.window.undo_stack.clear()  # nothing may bring the erased lead back
        self.window.statusBar().showMessage(f"Forgot {email}.", 10_000)
        if result.copies:  # the user must know where the person is still held
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Forget lead",
                result.copies_advice(),
                parent=self.window,
            )
            box.setObjectName("forgetCopiesNotice")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # not exec(): the event loop keeps running
        return True


def install(window: MainWindow) -> DataActions:
    actions = DataActions(window)
    window.data_actions = actions  # type: ignore[attr-defined]
    return actions
