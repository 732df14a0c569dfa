"""Scoring in the main window: menu actions, the notice banner and notifier, the activity
panel in the lead editor. `install(window)` is the one call the main window makes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QVBoxLayout, QWidget

from nurturedesk.core import scoring
from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.scoring_rules import ScoringRules, validate_rules
from nurturedesk.ui.log_dialog import LogInteractionDialog
from nurturedesk.ui.notifications import NoticeBanner, ReleaseNotifier
from nurturedesk.ui.scoring_commands import RulesChangeCommand, log_for
from nurturedesk.ui.scoring_dialog import ScoringRulesDialog

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from nurturedesk.notify import DesktopNotifier
    from nurturedesk.ui.main_window import MainWindow


class _Results(QObject):
    """Signals from the scoring worker, delivered on the GUI thread."""

    rulesChanged = Signal(object)  # scoring.RulesChange
    failed = Signal(str)


class ScoringUi:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.workspace = window.workspace
        lead_menu = window.menu("lead")
        self.log_action = window._action(
            "&Log Interaction…",
            self.log_selected,
            "Ctrl+L",
            "Log an activity for the selected cards",
        )
        lead_menu.insertAction(lead_menu.actions()[2], self.log_action)
        board_menu = window.menu("board")
        self.sort_action = window._action("Sort Cards by &Score", self.toggle_sort)
        self.sort_action.setCheckable(True)
        board_menu.addSeparator()
        board_menu.addAction(self.sort_action)
        board_menu.addAction(window._action("Scoring R&ules…", self.edit_rules))
        window.board.selectionChanged.connect(self._update_actions)
        self._update_actions()
        # The banner sits above the board.
        board = window.takeCentralWidget()
        assert board is not None
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.banner = NoticeBanner(holder)
        column.addWidget(self.banner)
        column.addWidget(board, 1)
        window.setCentralWidget(holder)
        self.banner.openLead.connect(self.open_lead)
        self.notifier: ReleaseNotifier | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring")
        self._results = _Results(window)
        self._results.rulesChanged.connect(self._rules_changed)
        self._results.failed.connect(window.show_error)

    def start_notifications(self, notifier: DesktopNotifier | None = None) -> ReleaseNotifier:
        """Deliver release notices from now on (the composition root calls this)."""
        self.notifier = ReleaseNotifier(self.workspace, notifier, self.window)
        self.notifier.fallback.connect(self.banner.add)
        self.notifier.fallback.connect(
            lambda notices: self.window.statusBar().showMessage(notices[-1].message, 15_000)
        )
        self.notifier.openLead.connect(self.open_lead)
        self.notifier.start()
        return self.notifier

    def stop_notifications(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()

    def shutdown(self) -> None:
        """The window is closing: no more notices, and let queued re-scoring finish."""
        self.stop_notifications()
        self._worker.shutdown(wait=True)

    def _update_actions(self) -> None:
        self.log_action.setEnabled(bool(self.window.board.selected_lead_ids()))

    def open_lead(self, lead_id: int) -> None:
        """From a notification or the banner: bring the window up and open the lead."""
        window = self.window
        if window.isMinimized() or not window.isVisible():
            window.showNormal()
        if QGuiApplication.platformName() not in ("offscreen", "minimal"):
            window.raise_()  # not supported (a warning) without a real window system
            window.activateWindow()
        window.board.select_leads([lead_id])
        window.edit_lead(lead_id)

    def log_selected(self) -> None:
        ids = self.window.board.selected_lead_ids()
        if not ids:
            return
        dialog = LogInteractionDialog(len(ids), self.workspace.clock.now(), self.window)
        if not dialog.exec():
            return
        try:
            result = log_for(
                self.workspace,
                ids,
                dialog.type_(),
                dialog.note.text(),
                dialog.at(),
                self.window.undo_stack.push,
                self.window.show_error,
            )
        except UserError as exc:
            self.window.show_error(str(exc))
            return
        released = f", {len(result.released)} now sales-ready" if result.released else ""
        self.window.statusBar().showMessage(
            f"Logged for {len(result.interactions)} leads{released}", 8000
        )

    def toggle_sort(self) -> None:
        self.window.board.set_sort_by_score(self.sort_action.isChecked())

    def edit_rules(self) -> None:
        dialog = ScoringRulesDialog(scoring.get_rules(self.workspace), self.window)
        while dialog.exec():
            rules = dialog.result_rules()
            try:
                validate_rules(rules)
            except ValidationError as exc:
                dialog.show_error(exc)
                continue
            self.change_rules(rules)
            return

    def change_rules(self, rules: ScoringRules) -> None:
        """Re-score every lead under new rules on the worker; then it goes on the undo stack."""
        self.window.statusBar().showMessage("Re-scoring every lead…")

        def work() -> None:
            change = scoring.set_rules(self.workspace, rules)
            self._results.rulesChanged.emit(change)

        self.run_in_worker(work)

    def run_in_worker(self, fn: Callable[[], object]) -> None:
        """Long work off the GUI thread, one job at a time in order (undo after redo stays
        undo after redo); a UserError comes back as a message."""

        def guarded() -> None:
            try:
                fn()
            except UserError as exc:
                self._results.failed.emit(str(exc))
            except Exception:
                log.exception("scoring work failed")
                self._results.failed.emit("Re-scoring failed; see the log.")

        self._worker.submit(guarded)

    def _rules_changed(self, change: scoring.RulesChange) -> None:
        self.window.undo_stack.push(
            RulesChangeCommand(self.workspace, change, self.window.show_error, self.run_in_worker)
        )
        self.window.statusBar().showMessage(
            f"Re-scored: {change.changed:,} scores changed, "
            f"{len(change.released):,} leads sales-ready",
            10_000,
        )

    def wait_for_worker(self) -> None:
        """Block until queued scoring work is done (tests, closing the window)."""
        self._worker.submit(lambda: None).result()

    def attach_to_editor(self, editor: QWidget, lead_id: int) -> None:
        from nurturedesk.ui.lead_activity import attach_to_editor

        attach_to_editor(
            editor,
            self.workspace,
            lead_id,
            self.window.undo_stack.push,
            self.window.show_error,
            self.window.bridge,
        )


def install(window: MainWindow) -> ScoringUi:
    return ScoringUi(window)
