"""Undoable user actions. Each command calls core services; the board refreshes from events.

The first `redo()` of a command pushed after the action already ran (add, edit) is skipped:
the dialog ran it first so a validation error never lands on the undo stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from nurturedesk.core import leads as lead_service
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import LeadDetail, MoveRecord

log = logging.getLogger(__name__)

ErrorReporter = Callable[[str], None]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class WorkspaceCommand(QUndoCommand):
    """Base: reports a UserError (say, the disk filled up) instead of raising from Qt."""

    def __init__(self, workspace: Workspace, text: str, report: ErrorReporter) -> None:
        super().__init__(text)
        self.workspace = workspace
        self.report = report

    def _guard(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except UserError as exc:
            log.warning("%s failed: %s", self.text(), exc)
            self.setObsolete(True)
            self.report(str(exc))


class MoveLeadsCommand(WorkspaceCommand):
    def __init__(
        self,
        workspace: Workspace,
        lead_ids: Sequence[int],
        stage_id: int,
        stage_name: str,
        before_lead_id: int | None,
        report: ErrorReporter,
    ) -> None:
        super().__init__(workspace, f"Move {plural(len(lead_ids), 'lead')} to {stage_name}", report)
        self.lead_ids = list(lead_ids)
        self.stage_id = stage_id
        self.before_lead_id = before_lead_id
        self.records: list[MoveRecord] = []

    def redo(self) -> None:
        def run() -> None:
            self.records = lead_service.move_leads(
                self.workspace, self.lead_ids, self.stage_id, self.before_lead_id
            )

        self._guard(run)

    def undo(self) -> None:
        self._guard(lambda: lead_service.undo_move(self.workspace, self.records))


class AddLeadCommand(WorkspaceCommand):
    def __init__(self, workspace: Workspace, lead: LeadDetail, report: ErrorReporter) -> None:
        super().__init__(workspace, f"Add {lead.name}", report)
        self.lead_id = lead.id
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._guard(lambda: lead_service.restore_leads(self.workspace, [self.lead_id]))

    def undo(self) -> None:
        def run() -> None:
            lead_service.delete_leads(self.workspace, [self.lead_id])

        self._guard(run)


class EditLeadCommand(WorkspaceCommand):
    def __init__(
        self, workspace: Workspace, before: LeadDetail, after: LeadDetail, report: ErrorReporter
    ) -> None:
        super().__init__(workspace, f"Edit {after.name}", report)
        self.before = before
        self.after = after
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._guard(lambda: self._apply(self.after))

    def undo(self) -> None:
        self._guard(lambda: self._apply(self.before))

    def _apply(self, detail: LeadDetail) -> None:
        lead_service.update_lead(self.workspace, detail.id, detail.data())


class DeleteLeadsCommand(WorkspaceCommand):
    def __init__(
        self, workspace: Workspace, lead_ids: Sequence[int], report: ErrorReporter
    ) -> None:
        super().__init__(workspace, f"Delete {plural(len(lead_ids), 'lead')}", report)
        self.lead_ids = list(lead_ids)

    def redo(self) -> None:
        def run() -> None:
            self.lead_ids = lead_service.delete_leads(self.workspace, self.lead_ids)

        self._guard(run)

    def undo(self) -> None:
        self._guard(lambda: lead_service.restore_leads(self.workspace, self.lead_ids))
