"""Template editor: subject and Markdown body, checked as you type (line and column), with a
live preview for a chosen lead."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import templates
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import LeadFilter, list_leads
from nurturedesk.core.preview import preview_for_lead
from nurturedesk.core.templates import TemplateProblem
from nurturedesk.ui.worker import list_panel, named

PREVIEW_DELAY_MS = 300
HELP = (
    'Tokens: {{ lead.first_name | default("there") }}, lead.last_name, lead.company, lead.title, '
    'lead.custom.<field>, sender.name, sender.signature, {{ asset("slug") }}, unsubscribe_url'
)


class TemplateEditor(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Email templates")
        self.resize(1100, 700)
        self.workspace = workspace
        self.current_id: int | None = None
        self.list, left_box = list_panel("templateList", "newTemplate", self.load, self.new)

        self.name = named(QLineEdit(), "name")
        self.subject = named(QLineEdit(), "subject")
        self.body = named(QPlainTextEdit(), "body")
        self.lead = named(QComboBox(), "previewLead")
        self.lead.addItem("Sample lead (Jane Doe, Acme Corp)", None)
        for lead in list_leads(workspace, LeadFilter())[:200]:
            self.lead.addItem(f"{lead.name} <{lead.email}>", lead.id)
        self.problem = named(QLabel(), "problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        self.saved = named(QLabel(), "saved")
        save_button = named(QPushButton("Save"), "save")
        save_button.clicked.connect(self.save)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Subject", self.subject)
        form.addRow(QLabel(HELP, wordWrap=True))
        middle = QVBoxLayout()
        middle.addLayout(form)
        middle.addWidget(self.body, 1)
        middle.addWidget(self.problem)
        row = QHBoxLayout()
        row.addWidget(self.saved, 1)
        row.addWidget(save_button)
        middle.addLayout(row)
        middle_box = QWidget()
        middle_box.setLayout(middle)

        self.preview_subject = named(QLabel(), "previewSubject")
        self.preview_html = named(QTextBrowser(), "previewHtml")
        self.preview_text = named(QPlainTextEdit(), "previewText")
        self.preview_text.setReadOnly(True)
        tabs = QTabWidget()
        tabs.addTab(self.preview_html, "HTML")
        tabs.addTab(self.preview_text, "Plain text")
        right = QVBoxLayout()
        right.addWidget(QLabel("Preview for"))
        right.addWidget(self.lead)
        right.addWidget(self.preview_subject)
        right.addWidget(tabs, 1)
        right_box = QWidget()
        right_box.setLayout(right)

        split = QSplitter()
        for box in (left_box, middle_box, right_box):
            split.addWidget(box)
        split.setSizes([200, 480, 420])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.update_preview)
        for signal in (self.subject.textChanged, self.body.textChanged):
            signal.connect(lambda *_: self._timer.start())
        self.lead.currentIndexChanged.connect(lambda _i: self.update_preview())
        self.fill_list()
        if self.list.count():
            self.list.setCurrentRow(0)

    def fill_list(self, select_id: int | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for t in templates.list_templates(self.workspace):
            item = QListWidgetItem(t.name)
            item.setData(256, t.id)
            self.list.addItem(item)
            if t.id == select_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def load(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        t = templates.find_template(self.workspace, int(item.data(256)))
        self.current_id = t.id
        self.name.setText(t.name)
        self.subject.setText(t.subject)
        self.body.setPlainText(t.body)
        self.saved.clear()
        self.update_preview()

    def new(self) -> None:
        self.list.clearSelection()
        self.current_id = None
        self.name.setText("New template")
        self.subject.setText('Hello {{ lead.first_name | default("there") }}')
        self.body.setPlainText(
            'Hi {{ lead.first_name | default("there") }},\n\n\n\n{{ sender.signature }}\n'
        )
        self.name.setFocus()

    def update_preview(self) -> None:
        self._timer.stop()
        try:
            out = preview_for_lead(
                self.workspace,
                self.subject.text(),
                self.body.toPlainText(),
                self.lead.currentData(),
            )
        except TemplateProblem as exc:
            self.problem.setText(str(exc))
            return
        except UserError as exc:
            self.problem.setText(str(exc))
            return
        self.problem.clear()
        self.preview_subject.setText(f"<b>Subject:</b> {out.subject}")
        self.preview_html.setHtml(out.html)
        self.preview_text.setPlainText(out.text)

    def show_problem(self, exc: TemplateProblem) -> None:
        self.problem.setText(str(exc))
        if exc.field == "body":
            block = self.body.document().findBlockByLineNumber(max(0, exc.line - 1))
            cursor = QTextCursor(block)
            cursor.movePosition(
                QTextCursor.MoveOperation.Right, n=max(0, min(exc.column - 1, block.length() - 1))
            )
            self.body.setTextCursor(cursor)
            self.body.setFocus()
        else:
            self.subject.setFocus()

    def save(self) -> bool:
        try:
            info = templates.save_template(
                self.workspace,
                self.name.text(),
                self.subject.text(),
                self.body.toPlainText(),
                self.current_id,
            )
        except TemplateProblem as exc:
            self.show_problem(exc)
            return False
        except UserError as exc:
            self.problem.setText(str(exc))
            return False
        self.current_id = info.id
        self.fill_list(info.id)
        self.saved.setText(f"Saved {info.name!r}.")
        return True
