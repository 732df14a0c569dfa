"""The lead editor's activity side: score and grade, one-click logging, the timeline, the
"why this score" ledger, qualification answers and the hand-off to sales."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QUndoCommand
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import interactions, qualification, release, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.scoring_rules import INTERACTION_TYPES
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.scoring_commands import log_for

# The activities a user logs most, one click each; the rest are in the combo.
QUICK_TYPES = ("call", "meeting", "webinar_attended", "whitepaper_downloaded", "site_visit", "note")
NO_ANSWER = "—"


class _NoteEdit(QLineEdit):
    """Enter logs the note; it must not also press the editor's default button (Save)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()


class LeadActivityPanel(QWidget):
    changed = Signal()  # something was logged, answered or decided

    def __init__(
        self,
        workspace: Workspace,
        lead_id: int,
        push: Callable[[QUndoCommand], None],
        report: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.lead_id = lead_id
        self.push = push
        self.report = report
        self.setObjectName("leadActivity")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("scoreSummary")
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        layout.addWidget(self.summary)

        quick = QHBoxLayout()
        quick.setSpacing(3)
        self.quick_buttons: dict[str, QToolButton] = {}
        for type_ in QUICK_TYPES:
            button = QToolButton()
            button.setObjectName(f"log_{type_}")
            button.setText(INTERACTION_TYPES[type_].replace("downloaded", "").strip())
            button.setToolTip(f"Log {INTERACTION_TYPES[type_].lower()} now (one click)")
            button.clicked.connect(lambda _c=False, t=type_: self.log(t))
            quick.addWidget(button)
            self.quick_buttons[type_] = button
        quick.addStretch(1)
        layout.addLayout(quick)
        more = QHBoxLayout()
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("logType")
        for type_, label in INTERACTION_TYPES.items():
            self.type_combo.addItem(label, type_)
        self.note = _NoteEdit()
        self.note.setObjectName("logNote")
        self.note.setPlaceholderText("Note (optional), e.g. webinar: pricing deep-dive")
        log_button = QPushButton("&Log")
        log_button.setObjectName("logButton")
        log_button.clicked.connect(lambda: self.log(str(self.type_combo.currentData())))
        self.note.returnPressed.connect(lambda: self.log(str(self.type_combo.currentData())))
        more.addWidget(self.type_combo)
        more.addWidget(self.note, 1)
        more.addWidget(log_button)
        layout.addLayout(more)

        self.tabs = QTabWidget()
        self.timeline = self._tree("timeline", ["When", "What", "Note", "From"])
        self.tabs.addTab(self.timeline, "&Timeline")
        ledger_page = QWidget()
        ledger_layout = QVBoxLayout(ledger_page)
        ledger_layout.setContentsMargins(0, 0, 0, 0)
        self.ledger = self._tree("ledger", ["Points", "When", "Why"])
        self.ledger_total = QLabel()
        self.ledger_total.setObjectName("ledgerTotal")
        ledger_layout.addWidget(self.ledger)
        ledger_layout.addWidget(self.ledger_total)
        self.tabs.addTab(ledger_page, "&Why this score")
        self.tabs.addTab(self._qualification_page(), "&Qualification")
        self.tabs.addTab(self._handoff_page(), "&Hand-off")
        layout.addWidget(self.tabs, 1)
        self.refresh()

    def _tree(self, name: str, headers: list[str]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setObjectName(name)
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        tree.header().setStretchLastSection(True)
        return tree

    def _qualification_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.answers: dict[str, QComboBox] = {}
        for q in scoring.get_rules(self.workspace).questions:
            combo = QComboBox()
            combo.setObjectName(f"answer_{q.key}")
            combo.addItem(NO_ANSWER, "")
            for option, points in q.options.items():
                combo.addItem(f"{option}  ({points:+d})", option)
            combo.activated.connect(
                lambda _i, key=q.key, c=combo: self.answer(key, c.currentData())
            )
            form.addRow(q.label, combo)
            self.answers[q.key] = combo
        self.grade_label = QLabel()
        self.grade_label.setObjectName("gradeLabel")
        form.addRow("Grade", self.grade_label)
        return page

    def _handoff_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.handoff_state = QLabel()
        self.handoff_state.setObjectName("handoffState")
        self.handoff_state.setWordWrap(True)
        form.addRow("Status", self.handoff_state)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton("Sales &accepts")
        self.accept_button.setObjectName("acceptButton")
        self.accept_button.clicked.connect(self.accept_lead)
        self.reject_button = QPushButton("Sales &rejects…")
        self.reject_button.setObjectName("rejectButton")
        self.reject_button.clicked.connect(self.reject_lead)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        return page

    # --- actions -------------------------------------------------------------------------

    def _run(self, fn: Callable[[], object]) -> bool:
        try:
            fn()
        except UserError as exc:
            self.report(str(exc))
            return False
        self.refresh()
        self.changed.emit()
        return True

    def log(self, type_: str) -> None:
        note = self.note.text()
        if self._run(
            lambda: log_for(
                self.workspace, [self.lead_id], type_, note, None, self.push, self.report
            )
        ):
            self.note.clear()

    def answer(self, question: str, value: str) -> None:
        self._run(lambda: qualification.qualify(self.workspace, self.lead_id, {question: value}))

    def accept_lead(self) -> None:
        self._run(lambda: release.accept(self.workspace, self.lead_id))

    def reject_lead(self) -> None:
        reason, ok = QInputDialog.getText(
            self, "Sales rejects the lead", "Why? (kept with the lead)"
        )
        if ok:
            self._run(lambda: release.reject(self.workspace, self.lead_id, reason))

    # --- showing -------------------------------------------------------------------------

    def on_leads_changed(self, event: LeadsChanged) -> None:
        """Another part of the app (a bulk log, the scheduler, a notice) changed this lead."""
        if self.lead_id in event.lead_ids or not event.lead_ids:
            try:
                self.refresh()
            except UserError as exc:  # erased meanwhile ("forget"), or the disk refused
                self.summary.setText(str(exc))
                self.setEnabled(False)

    def refresh(self) -> None:
        ledger = scoring.explain(self.workspace, self.lead_id)  # brings the score up to date
        fit = qualification.get_fit(self.workspace, self.lead_id)
        badge = release.badges(self.workspace, [self.lead_id]).get(self.lead_id, release.Badges())
        handoff = release.get_handoff(self.workspace, self.lead_id)
        parts = [f"Score {ledger.score}", f"Grade {fit.grade or '–'}"]
        if badge.overdue:
            parts.append("follow-up OVERDUE")
        elif badge.sales_ready:
            parts.append("sales-ready")
        self.summary.setText("  ·  ".join(parts))

        self.timeline.clear()
        for i in interactions.timeline(self.workspace, self.lead_id):
            QTreeWidgetItem(
                self.timeline,
                [f"{i.occurred_at:%Y-%m-%d %H:%M}", i.label, i.note, i.source],
            )
        self.ledger.clear()
        for e in reversed(ledger.entries):
            item = QTreeWidgetItem(
                self.ledger, [f"{e.contribution:+d}", f"{e.occurred_at:%Y-%m-%d}", e.why]
            )
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.ledger_total.setText(
            f"Total {ledger.total} = score {ledger.score} (as of {ledger.as_of:%Y-%m-%d})"
        )
        for key, combo in self.answers.items():
            combo.setCurrentIndex(max(0, combo.findData(fit.answers.get(key, ""))))
        self.grade_label.setText(
            f"{fit.grade or '–'} ({fit.fit_points} fit points)" if fit.answers else "not qualified"
        )
        pending = handoff is not None and handoff.state == "pending"
        if handoff is None:
            self.handoff_state.setText("Not released to sales yet.")
        else:
            self.handoff_state.setText(handoff_text(handoff))
        self.accept_button.setEnabled(pending)
        self.reject_button.setEnabled(pending)


def handoff_text(handoff: release.HandoffInfo) -> str:
    if handoff.state == "pending":
        owner = f" ({handoff.owner})" if handoff.owner else ""
        late = " — OVERDUE" if handoff.overdue else ""
        return f"Waiting for sales{owner}: follow up by {handoff.due_at:%Y-%m-%d %H:%M} UTC{late}"
    decided = f"{handoff.decided_at:%Y-%m-%d}" if handoff.decided_at else "?"
    if handoff.state == "accepted":
        return f"With sales since {decided}"
    if handoff.state == "rejected":
        back = f"{handoff.recycle_at:%Y-%m-%d}" if handoff.recycle_at else "later"
        return f"Rejected on {decided}: {handoff.reason}. Back into nurturing on {back}"
    if handoff.state == "recycled":
        return f"Recycled after rejection ({handoff.reason})"
    return handoff.state


def attach_to_editor(
    editor: QWidget,
    workspace: Workspace,
    lead_id: int,
    push: Callable[[QUndoCommand], None],
    report: Callable[[str], None],
    bridge: EventBridge | None = None,
) -> LeadActivityPanel:
    """Put the activity panel under the lead editor's fields, above its buttons."""
    panel = LeadActivityPanel(workspace, lead_id, push, report, editor)
    if bridge is not None:  # a bound slot: disconnected when the panel goes
        bridge.leadsChanged.connect(panel.on_leads_changed)
    outer = editor.layout()
    if isinstance(outer, QBoxLayout):
        outer.insertWidget(1, panel, 1)
    editor.setMinimumWidth(640)
    editor.setProperty("activityPanel", panel)
    return panel
