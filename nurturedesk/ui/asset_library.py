"""The content library: whitepapers, webinars, videos, briefings that emails point to."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import assets
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.ui.worker import named


class AssetLibrary(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Content library")
        self.resize(900, 520)
        self.workspace = workspace
        self.current_id: int | None = None
        self.table = named(QTableWidget(0, 4), "assets")
        self.table.setHorizontalHeaderLabels(
            ['Slug (for {{ asset("…") }})', "Title", "Kind", "Link"]
        )
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self.load_selected)
        self.slug = named(QLineEdit(), "slug")
        self.title = named(QLineEdit(), "title")
        self.kind = named(QComboBox(), "kind")
        self.kind.addItems(list(assets.KINDS))
        self.url = named(QLineEdit(), "url")
        self.topic = named(QLineEdit(), "topic")
        self.tags = named(QLineEdit(), "tags")
        self.problem = named(QLabel(), "problem")
        self.problem.setStyleSheet("color: #c62828")
        form = QFormLayout()
        for label, widget in (
            ("Title", self.title),
            ("Slug", self.slug),
            ("Kind", self.kind),
            ("Link", self.url),
            ("Topic", self.topic),
            ("Target tags", self.tags),
        ):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        for name, label, slot in (
            ("new", "New", self.new),
            ("save", "Save", self.save),
            ("delete", "Delete", self.delete),
        ):
            button = named(QPushButton(label), name)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        self.items: list[assets.AssetInfo] = []
        self.refresh()

    def refresh(self) -> None:
        self.items = assets.list_assets(self.workspace)
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for a in self.items:
            row = self.table.rowCount()
            self.table.insertRow(row)
            for col, text in enumerate((a.slug, a.title, a.kind, a.url)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.blockSignals(False)

    def load_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return
        a = self.items[rows.pop()]
        self.current_id = a.id
        self.slug.setText(a.slug)
        self.title.setText(a.title)
        self.kind.setCurrentText(a.kind)
        self.url.setText(a.url)
        self.topic.setText(a.topic)
        self.tags.setText(", ".join(a.target_tags))

    def new(self) -> None:
        self.current_id = None
        for field in (self.slug, self.title, self.url, self.topic, self.tags):
            field.clear()
        self.title.setFocus()

    def save(self) -> None:
        try:
            info = assets.save_asset(
                self.workspace,
                self.title.text(),
                self.url.text(),
                self.kind.currentText(),
                slug=self.slug.text(),
                topic=self.topic.text(),
                target_tags=tuple(t.strip() for t in self.tags.text().split(",")),
                asset_id=self.current_id,
            )
        except UserError as exc:
            self.problem.setText(str(exc))
            return
        self.problem.clear()
        self.current_id = info.id
        self.slug.setText(info.slug)
        self.refresh()

    def delete(self) -> None:
        if self.current_id is not None:
            assets.delete_asset(self.workspace, self.current_id)
            self.new()
            self.refresh()
