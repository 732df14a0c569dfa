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
from nurturedesk.ui.commands import ErrorReporter, WorkspaceCommand, plural


def none_of(count: int, has: str, has_not: str) -> str:
    """'None of the 2 selected leads has …' or, for one lead, 'The selected lead has not …'."""
    if count == 1:
        return f"The selected lead {has_not}."
    return f"None of the {count} selected leads {has}."


def all_of(count: int, have: str, has: str) -> str:
    """'All 2 selected leads already have …' or, for one lead, 'The selected lead …'."""
    if count == 1:
        return f"The selected lead {has}."
    return f"All {count} selected leads {have}."


class BulkCommand(WorkspaceCommand):
    """A bulk action that may find nothing to change: then it says why (`tell`, the status
    bar) and marks itself obsolete, which QUndoStack.push takes as "do not keep me"."""

    def __init__(
        self,
        workspace: Workspace,
        text: str,
        lead_ids: Sequence[int],
        report: ErrorReporter,
        tell: ErrorReporter,
    ) -> None:
        super().__init__(workspace, text, report)
        self.lead_ids = list(lead_ids)
        self.tell = tell

    def _check_changed(self, changed: Sequence[int], why_not: str) -> None:
        if not changed:
            self.setObsolete(True)
            if why_not:
                self.tell(why_not)


class TagLeadsCommand(BulkCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        tag: str,
        add: bool,
        report: ErrorReporter,
        tell: ErrorReporter,
    ) -> None:
        verb = "Tag" if add else "Untag"
        text = f"{verb} {plural(len(lead_ids), 'lead')} “{tag}”"
        super().__init__(workspace, text, lead_ids, report, tell)
        self.tag = tag
        self.add = add
        self.change: bulk.TagChange | None = None

    def redo(self) -> None:
        def run() -> None:
            fn = bulk.tag_leads if self.add else bulk.untag_leads
            self.change = fn(self.workspace, self.lead_ids, self.tag)
            n, tag = len(self.lead_ids), f"the tag '{self.change.tag}'"
            if self.add:
                why_not = all_of(n, f"already have {tag}", f"already has {tag}")
            else:
                why_not = none_of(n, f"has {tag}", f"does not have {tag}")
            self._check_changed(self.change.lead_ids, why_not)

        self._guard(run)

    def undo(self) -> None:
        change = self.change
        if change is not None:
            self._guard(lambda: bulk.undo_tag_change(self.workspace, change))


class AssignOwnerCommand(BulkCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        owner: str,
        report: ErrorReporter,
        tell: ErrorReporter,
    ) -> None:
        what = f"Assign {plural(len(lead_ids), 'lead')} to {owner}" if owner else "Clear owner"
        super().__init__(workspace, what, lead_ids, report, tell)
        self.owner = owner
        self.change: bulk.OwnerChange | None = None

    def redo(self) -> None:
        def run() -> None:
            self.change = bulk.assign_owner(self.workspace, self.lead_ids, self.owner)
            n, owner = len(self.lead_ids), self.change.owner
            if owner:
                why_not = all_of(n, f"already belong to {owner}", f"already belongs to {owner}")
            else:
                why_not = none_of(n, "has an owner", "has no owner")
            self._check_changed([lead_id for lead_id, _ in self.change.previous], why_not)

        self._guard(run)

    def undo(self) -> None:
        change = self.change
        if change is not None:
            self._guard(lambda: bulk.undo_owner_change(self.workspace, change))


class EnrolCommand(BulkCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        sequence: str,
        enrol: bool,
        report: ErrorReporter,
        tell: ErrorReporter,
    ) -> None:
        verb = "Enrol" if enrol else "Unenrol"
        where = "in" if enrol else "from"
        text = f"{verb} {plural(len(lead_ids), 'lead')} {where} {sequence}"
        super().__init__(workspace, text, lead_ids, report, tell)
        self.sequence = sequence
        self.enrol = enrol
        self.change: bulk.EnrolmentChange | None = None

    def redo(self) -> None:
        def run() -> None:
            fn = bulk.enrol_leads if self.enrol else bulk.unenrol_leads
            self.change = fn(self.workspace, self.lead_ids, self.sequence)
            if self.change.suppressed:
                self.report(
                    f"{plural(len(self.change.suppressed), 'lead')} left out: "
                    "on the suppression list, never mailed."
                )
            n, where = len(self.lead_ids), self.change.sequence_name
            if self.change.suppressed:
                why_not = ""  # just reported: the suppression list is why
            elif self.enrol:
                why_not = all_of(
                    n, f"are already enrolled in {where}", f"is already enrolled in {where}"
                )
            else:
                why_not = none_of(n, f"is enrolled in {where}", f"is not enrolled in {where}")
            self._check_changed(self.change.lead_ids, why_not)

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
