"""Newsletters: a broadcast from a template to a stage, a tag and/or a saved segment, once,
monthly or quarterly. A segment's members are taken when the newsletter runs."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core.db import Workspace
from nurturedesk.core.dispatch import RECURRENCES, list_newsletters, schedule_newsletter
from nurturedesk.core.errors import UserError
from nurturedesk.core.segments import count_segment, list_segments
from nurturedesk.core.stages import list_stages
from nurturedesk.core.templates import list_templates
from nurturedesk.ui.worker import named

ToolTipRole = Qt.ItemDataRole.ToolTipRole


class NewsletterDialog(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Newsletters")
        self.resize(760, 480)
        self.workspace = workspace
        self.table = named(QTableWidget(0, 5), "newsletters")
        self.table.setHorizontalHeaderLabels(["Name", "Audience", "Repeats", "Next (UTC)", "Runs"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.name = named(QLineEdit(), "name")
        self.template = named(QComboBox(), "template")
        for t in list_templates(workspace):
            self.template.addItem(t.name, t.id)
        self.template.setCurrentIndex(max(0, self.template.findText("Newsletter")))
        self.stage = named(QComboBox(), "stage")
        self.stage.addItem("(any stage)", None)
        for s in list_stages(workspace):
            self.stage.addItem(s.name, s.id)
        self.stage.setCurrentIndex(max(0, self.stage.findText("Newsletter")))
        self.tag = named(QLineEdit(), "tag")
        self.segment = named(QComboBox(), "segment")
        self.segment.addItem("(no segment)", "")
        for seg in list_segments(workspace):
            self.segment.addItem(seg.name, seg.name)
            self.segment.setItemData(self.segment.count() - 1, seg.description, ToolTipRole)
        self.segment_count = named(QLabel(), "segmentCount")
        self.segment.currentIndexChanged.connect(self.segment_chosen)
        self.recurrence = named(QComboBox(), "recurrence")
        self.recurrence.addItems(list(RECURRENCES))
        self.first_run = named(QDateTimeEdit(QDateTime.currentDateTimeUtc()), "firstRun")
        self.first_run.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.problem = named(QLabel(), "problem")
        self.problem.setStyleSheet("color: #c62828")
        schedule = named(QPushButton("Schedule"), "schedule")
        schedule.clicked.connect(self.schedule)
        form = QFormLayout()
        for label, widget in (
            ("Name", self.name),
            ("Template", self.template),
            ("Stage", self.stage),
            ("And tag", self.tag),
            ("And segment", self.segment),
            ("", self.segment_count),
            ("Repeats", self.recurrence),
            ("First run", self.first_run),
        ):
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(schedule)
        self.refresh()

    def refresh(self) -> None:
        self.table.setRowCount(0)
        for n in list_newsletters(self.workspace):
            row = self.table.rowCount()
            self.table.insertRow(row)
            when = f"{n.next_run_at:%Y-%m-%d %H:%M}" if n.next_run_at else "done"
            for col, text in enumerate((n.name, n.audience, n.recurrence, when, str(n.runs))):
                self.table.setItem(row, col, QTableWidgetItem(text))

    def segment_chosen(self) -> None:
        """A segment usually says who it is for (it can name a stage itself): choosing one
        clears the default stage, and the label says how many leads it holds right now."""
        name = str(self.segment.currentData() or "")
        if not name:
            self.segment_count.clear()
            return
        self.stage.setCurrentIndex(0)  # (any stage); the user can still narrow it again
        try:
            count = count_segment(self.workspace, name)
        except UserError as exc:
            self.segment_count.setText(str(exc))
            return
        self.segment_count.setText(
            f"{count:,} lead{'s' if count != 1 else ''} in it now; taken again at each run"
        )

    def schedule(self) -> bool:
        first = self.first_run.dateTime().toSecsSinceEpoch()
        try:
            schedule_newsletter(
                self.workspace,
                self.name.text(),
                int(self.template.currentData()),
                stage_id=self.stage.currentData(),
                tag=self.tag.text(),
                segment=str(self.segment.currentData() or ""),
                recurrence=self.recurrence.currentText(),
                first_run=datetime.fromtimestamp(first, UTC).replace(tzinfo=None),
            )
        except UserError as exc:
            self.problem.setText(str(exc))
            return False
        self.problem.clear()
        self.refresh()
        return True
