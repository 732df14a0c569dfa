"""Undoable scoring actions: logging interactions (one lead or many) and changing the rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtGui import QUndoCommand

from nurturedesk.core import interactions, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.scoring_rules import INTERACTION_TYPES, ScoringRules
from nurturedesk.ui.commands import ErrorReporter, WorkspaceCommand

log = logging.getLogger(__name__)


class _Guarded(WorkspaceCommand):
    def __init__(self, workspace: Workspace, text: str, report: ErrorReporter) -> None:
        super().__init__(workspace, text, report)
        self._first = True


class LogInteractionsCommand(_Guarded):
    """Pushed after the interactions were logged; undo takes them back (and re-scores)."""

    def __init__(
        self,
        workspace: Workspace,
        result: interactions.LogResult,
        report: ErrorReporter,
    ) -> None:
        first = result.interactions[0]
        n = len(result.interactions)
        who = "1 lead" if n == 1 else f"{n} leads"
        super().__init__(
            workspace,
            f"Log {INTERACTION_TYPES.get(first.type, first.type).lower()} for {who}",
            report,
        )
        self.lead_ids = [i.lead_id for i in result.interactions]
        self.type = first.type
        self.at: datetime = first.occurred_at
        self.note = first.note
        self.ids = [i.id for i in result.interactions]

    def redo(self) -> None:
        if self._first:  # the action already ran
            self._first = False
            return

        def again() -> None:
            result = interactions.log_interactions(
                self.workspace, self.lead_ids, self.type, self.at, self.note
            )
            self.ids = [i.id for i in result.interactions]

        self._guard(again)

    def undo(self) -> None:
        self._guard(lambda: interactions.delete_interactions(self.workspace, self.ids))


def log_for(
    workspace: Workspace,
    lead_ids: Sequence[int],
    type_: str,
    note: str,
    at: datetime | None,
    push: Callable[[QUndoCommand], None],
    report: ErrorReporter,
) -> interactions.LogResult:
    """Log now and put the undo on the stack. Raises UserError for bad input."""
    result = interactions.log_interactions(workspace, lead_ids, type_, at, note)
    push(LogInteractionsCommand(workspace, result, report))
    return result


Runner = Callable[[Callable[[], object]], None]  # runs work off the GUI thread, in order


class RulesChangeCommand(_Guarded):
    """Pushed after the rules changed; undo brings the previous rules back (re-scoring every
    lead, so `run` does it on the scoring worker; the board refreshes from the events)."""

    def __init__(
        self,
        workspace: Workspace,
        change: scoring.RulesChange,
        report: ErrorReporter,
        run: Runner | None = None,
    ) -> None:
        super().__init__(workspace, "Change scoring rules", report)
        self.before: ScoringRules = change.before
        self.after: ScoringRules = change.after
        self.run: Runner = run or (lambda fn: self._guard(fn))

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self.run(lambda: scoring.restore_rules(self.workspace, self.after))

    def undo(self) -> None:
        self.run(lambda: scoring.restore_rules(self.workspace, self.before))
