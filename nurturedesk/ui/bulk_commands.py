"""Undoable bulk actions on the selected cards: tag, untag, assign owner, enrol, unenrol,
and an import.

Moving and deleting many cards are the board's own MoveLeadsCommand / DeleteLeadsCommand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QWidget

from nurturedesk.core import bulk, importer
from nurturedesk.core.db import Workspace
from nurturedesk.ui.busy import run_busy
from nurturedesk.ui.commands import ErrorReporter, WorkspaceCommand, _plural


def none_of(count: int, has: str, has_not: str) -> str:
    """'None of the 2 selected leads has …' or, for one lead, 'The selected lead has not …'."""
    if count == 1:
        return f"The selected lead {has_not}."
    return f"None of the {count} selected leads {has}."


class TagLeadsCommand(WorkspaceCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        tag: str,
        add: bool,
        report: ErrorReporter,
    ) -> None:
        verb = "Tag" if add else "Untag"
        super().__init__(workspace, f"{verb} {_plural(len(lead_ids), 'lead')} “{tag}”", report)
        self.lead_ids = list(lead_ids)
        self.tag = tag
        self.add = add
        self.change: bulk.TagChange | None = None

    def redo(self) -> None:
        def run() -> None:
            fn = bulk.tag_leads if self.add else bulk.untag_leads
            self.change = fn(self.workspace, self.lead_ids, self.tag)

        self._guard(run)

    def undo(self) -> None:
        change = self.change
        if change is not None:
            self._guard(lambda: bulk.undo_tag_change(self.workspace, change))


class AssignOwnerCommand(WorkspaceCommand):
    def __init__(
        self, workspace: Workspace, lead_ids: Sequence[int], owner: str, report: ErrorReporter
    ) -> None:
        what = f"Assign {_plural(len(lead_ids), 'lead')} to {owner}" if owner else "Clear owner"
        super().__init__(workspace, what, report)
        self.lead_ids = list(lead_ids)
        self.owner = owner
        self.change: bulk.OwnerChange | None = None

    def redo(self) -> None:
        def run() -> None:
            self.change = bulk.assign_owner(self.workspace, self.lead_ids, self.owner)

        self._guard(run)

    def undo(self) -> None:
        change = self.change
        if change is not None:
            self._guard(lambda: bulk.undo_owner_change(self.workspace, change))


class EnrolCommand(WorkspaceCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        sequence: str,
        enrol: bool,
        report: ErrorReporter,
    ) -> None:
        verb = "Enrol" if enrol else "Unenrol"
        where = "in" if enrol else "from"
        super().__init__(
            workspace, f"{verb} {_plural(len(lead_ids), 'lead')} {where} {sequence}", report
        )
        self.lead_ids = list(lead_ids)
        self.sequence = sequence
        self.enrol = enrol
        self.change: bulk.EnrolmentChange | None = None

    def redo(self) -> None:
        def run() -> None:
            fn = bulk.enrol_leads if self.enrol else bulk.unenrol_leads
            self.change = fn(self.workspace, self.lead_ids, self.sequence)
            if self.change.suppressed:
                self.report(
                    f"{_plural(len(self.change.suppressed), 'lead')} left out: "
                    "on the suppression list, never mailed."
                )

        self._guard(run)

    def undo(self) -> None:
        change = self.change
        if change is not None:
            self._guard(lambda: bulk.undo_enrolment_change(self.workspace, change))


class ImportCommand(WorkspaceCommand):
    """A finished import on the undo stack: undo takes the whole batch back; redo imports
    the file again with the same choices (a new batch)."""

    def __init__(
        self,
        workspace: Workspace,
        path: str,
        result: importer.ImportResult,
        options: importer.ImportOptions,
        report: ErrorReporter,
        parent_widget: QWidget | None = None,
    ) -> None:
        super().__init__(workspace, f"Import {Path(path).name}", report)
        self.parent_widget = parent_widget
        self.path = path
        self.options = options
        self.batch_id = result.batch_id
        self._done = True

    def redo(self) -> None:
        if self._done:  # the dialog ran it
            self._done = False
            return

        def run() -> None:
            result = run_busy(
                self.parent_widget,
                f"Importing {Path(self.path).name} again…",
                lambda: importer.import_file(self.workspace, self.path, self.options),
            )
            self.batch_id = result.batch_id

        self._guard(run)

    def undo(self) -> None:
        batch_id = self.batch_id
        if batch_id is None:
            return

        def run() -> None:
            run_busy(
                self.parent_widget,
                "Taking the import back…",
                lambda: importer.undo_import(self.workspace, batch_id),
            )

        self._guard(run)
