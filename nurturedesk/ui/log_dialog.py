"""Log one interaction for the selected cards (e.g. "attended webinar X" for 40 leads)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDate, QDateTime, QTime, QTimeZone
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core.scoring_rules import INTERACTION_TYPES


class LogInteractionDialog(QDialog):
    def __init__(self, count: int, now: datetime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log interaction")
        layout = QVBoxLayout(self)
        who = "the selected lead" if count == 1 else f"the {count} selected leads"
        layout.addWidget(QLabel(f"Log for {who}:"))
        form = QFormLayout()
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("bulkType")
        for type_, label in INTERACTION_TYPES.items():
            self.type_combo.addItem(label, type_)
        self.type_combo.setCurrentIndex(self.type_combo.findData("webinar_attended"))
        form.addRow("&What", self.type_combo)
        self.note = QLineEdit()
        self.note.setObjectName("bulkNote")
        self.note.setPlaceholderText("e.g. webinar X: pricing deep-dive")
        form.addRow("&Note", self.note)
        self.when = QDateTimeEdit()
        self.when.setObjectName("bulkWhen")
        self.when.setTimeZone(QTimeZone.utc())
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.when.setCalendarPopup(True)
        utc_now = QDateTime(
            QDate(now.year, now.month, now.day),
            QTime(now.hour, now.minute, now.second),
            QTimeZone.utc(),
        )
        self.when.setDateTime(utc_now)
        self.when.setMaximumDateTime(utc_now)
        form.addRow("W&hen", self.when)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Log")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def type_(self) -> str:
        return str(self.type_combo.currentData())

    def at(self) -> datetime:
        """The chosen time as naive UTC (the domain's time)."""
        value = self.when.dateTime().toUTC()
        d, t = value.date(), value.time()
        return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), t.second())
