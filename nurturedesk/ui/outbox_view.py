"""The outbox: queued, sent, failed and uncertain messages, with retry, cancel, resend and
"mark as sent" (for a message that may have gone out before a crash)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import outbox
from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import ensure_recovered, send_due
from nurturedesk.core.outbox import OutboxChanged, OutboxItem
from nurturedesk.ui.bridge import EventBridge
from nurturedesk.ui.worker import Background, named

COLUMNS = ("State", "When (UTC)", "To", "Subject", "Tries", "Problem")
STATE_COLOURS = {
    "sent": "#2e7d32",
    "failed": "#c62828",
    "uncertain": "#ef6c00",
    "retry": "#f9a825",
    "cancelled": "#757575",
}
ItemRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class OutboxModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[OutboxItem] = []

    def set_items(self, items: list[OutboxItem]) -> None:
        self.beginResetModel()
        self.items = items
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        if role == ItemRole:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            when = item.sent_at or item.next_attempt_at
            return (
                item.state,
                f"{when:%Y-%m-%d %H:%M}",
                f"{item.to_name} <{item.to_address}>" if item.to_name else item.to_address,
                item.subject,
                str(item.attempts),
                item.last_error,
            )[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            colour = STATE_COLOURS.get(item.state)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and item.last_error:
            return item.last_error
        return None


class OutboxView(QDialog):
    def __init__(self, workspace: Workspace, bridge: EventBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Outbox")
        self.resize(1000, 600)
        self.workspace = workspace
        self.worker = Background(self)
        ensure_recovered(workspace, "gui")  # interrupted sends show up as "uncertain" right away
        self.state = named(QComboBox(), "stateFilter")
        self.state.addItem("All", None)
        for state in ("queued", "retry", "sent", "failed", "uncertain", "cancelled", "sending"):
            self.state.addItem(state.capitalize(), state)
        self.state.currentIndexChanged.connect(lambda _i: self.refresh())
        self.counts = named(QLabel(), "counts")
        self.model = OutboxModel(self)
        self.table = named(QTableView(), "outboxTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 80), (1, 130), (2, 260), (4, 50), (5, 220)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.preview = named(QTextBrowser(), "preview")
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        row.addWidget(self.state)
        row.addWidget(self.counts, 1)
        for name, label, tip in (
            ("retry", "Retry", "Queue failed messages again"),
            ("cancel", "Cancel", "Never send the selected messages"),
            ("resend", "Resend", "An uncertain message did not arrive: send it again"),
            ("mark_sent", "Mark as sent", "An uncertain message is in your Sent folder"),
            ("send_now", "Send due now", "Run a dispatch pass now"),
        ):
            button = named(QPushButton(label), name)
            button.setToolTip(tip)
            button.clicked.connect(lambda _c=False, n=name: self.act(n))
            self.buttons[name] = button
            row.addWidget(button)
        self.status = named(QLabel(), "status")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.preview)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        bridge.published.connect(self._on_event)
        self._timer = QTimer(self, interval=5000)  # the headless sender may work meanwhile
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def _on_event(self, event: object) -> None:
        if isinstance(event, OutboxChanged):
            self.refresh()

    def refresh(self) -> None:
        selected = set(self.selected_ids())
        self.model.set_items(outbox.list_outbox(self.workspace, self.state.currentData()))
        counts = outbox.counts_by_state(self.workspace)
        self.counts.setText(
            "  ".join(f"{k}: {v}" for k, v in counts.items() if v and k != "sending")
        )
        for row, item in enumerate(self.model.items):
            if item.id in selected:
                self.table.selectRow(row)
        self._selection_changed()

    def selected_items(self) -> list[OutboxItem]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.items[r] for r in sorted(rows)]

    def selected_ids(self) -> list[int]:
        return [i.id for i in self.selected_items()]

    def _selection_changed(self) -> None:
        items = self.selected_items()
        states = {i.state for i in items}
        self.buttons["retry"].setEnabled(bool(states & {"failed", "retry", "cancelled"}))
        self.buttons["cancel"].setEnabled(bool(states & {"queued", "retry", "failed", "uncertain"}))
        self.buttons["resend"].setEnabled("uncertain" in states)
        self.buttons["mark_sent"].setEnabled("uncertain" in states)
        if len(items) == 1:
            _item, text, _html = outbox.get_message(self.workspace, items[0].id)
            self.preview.setPlainText(f"Subject: {items[0].subject}\n\n{text}")
        else:
            self.preview.clear()

    def act(self, name: str) -> None:
        if name == "send_now":
            self.buttons["send_now"].setEnabled(False)
            self.status.setText("Sending…")

            def done(report: Any) -> None:
                self.buttons["send_now"].setEnabled(True)
                self.status.setText(report.summary())
                self.refresh()

            def failed(exc: BaseException) -> None:
                self.buttons["send_now"].setEnabled(True)
                self.status.setText(str(exc))

            self.worker.run(lambda: send_due(self.workspace, kind="gui"), done, failed)
            return
        ids = self.selected_ids()
        changed = getattr(outbox, name)(self.workspace, ids)
        self.status.setText(f"{changed} message(s) changed.")
        self.refresh()
