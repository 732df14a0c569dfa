"""Segments in the GUI: a toolbar filter that narrows the board to a segment, and a dialog
to write, check (live count) and save segments."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import segments
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import LeadFilter
from nurturedesk.ui.confirm import user_confirms

ALL = ""
HELP = (
    "One condition per line: FIELD OP VALUE. Fields: email, first_name, last_name, company, "
    'title, phone, source, owner, timezone, custom.NAME or custom."Name with spaces" '
    "(= != ~ contains, !~, ^ starts with); "
    "stage, tag (= !=); score (= != > >= < <=); grade (= != A,B); created, stage_entered, "
    "last_interaction (< > date, within N days; last_interaction = never)."
)


class SegmentFilter(QComboBox):
    """'All leads' or one saved segment; the board shows only its members."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setObjectName("segmentFilter")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.refresh()

    def refresh(self) -> None:
        current = self.currentData() or ALL
        self.blockSignals(True)
        self.clear()
        self.addItem("All segments", ALL)
        for info in segments.list_segments(self.workspace):
            self.addItem(info.name, info.name)
        self.setCurrentIndex(max(0, self.findData(current)))
        self.blockSignals(False)

    def reset(self) -> None:
        self.blockSignals(True)
        self.setCurrentIndex(0)
        self.blockSignals(False)

    def narrow(self, flt: LeadFilter) -> LeadFilter:
        name = self.currentData() or ALL
        if not name:
            return flt
        try:
            return replace(flt, segment=segments.get_segment(self.workspace, name))
        except UserError:  # deleted meanwhile
            return flt


class SegmentsDialog(QDialog):
    segmentsChanged = Signal()

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setWindowTitle("Segments")
        self.setObjectName("segmentsDialog")
        self.resize(760, 420)
        layout = QHBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("segmentList")
        self.list.currentTextChanged.connect(self.show_segment)
        layout.addWidget(self.list, 1)
        right = QVBoxLayout()
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setObjectName("segmentName")
        form.addRow("Name:", self.name)
        self.match = QComboBox()
        self.match.setObjectName("segmentMatch")
        self.match.addItem("all of these conditions", "all")
        self.match.addItem("any of these conditions", "any")
        self.match.currentIndexChanged.connect(lambda _i: self.check())
        form.addRow("Leads matching:", self.match)
        right.addLayout(form)
        self.conditions = QPlainTextEdit()
        self.conditions.setObjectName("segmentConditions")
        self.conditions.setPlaceholderText("score >= 50\ntag = webinar\nstage != Won")
        self.conditions.textChanged.connect(self.check)
        right.addWidget(self.conditions, 1)
        hint = QLabel(HELP)
        hint.setWordWrap(True)
        right.addWidget(hint)
        self.count = QLabel()
        self.count.setObjectName("segmentCount")
        right.addWidget(self.count)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.new_button = QPushButton("New")
        self.new_button.setObjectName("newSegment")
        self.new_button.clicked.connect(self.new_segment)
        buttons.addButton(self.new_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveSegment")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("deleteSegment")
        self.delete_button.setEnabled(False)  # until a saved segment is chosen
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self.delete)
        buttons.rejected.connect(self.reject)
        right.addWidget(buttons)
        layout.addLayout(right, 2)
        self.editing = ""  # the saved segment shown (Save renames it if the name changed)
        self.reload()

    def reload(self, select: str = "") -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for info in segments.list_segments(self.workspace):
            self.list.addItem(info.name)
        self.list.blockSignals(False)
        for row in range(self.list.count()):
            item = self.list.item(row)
            if select and item.text() == select:
                self.list.setCurrentItem(item)

    def new_segment(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.editing = ""
        self.name.clear()
        self.match.setCurrentIndex(0)
        self.conditions.clear()
        self.name.setFocus()

    def show_segment(self, name: str) -> None:
        self.delete_button.setEnabled(bool(name))
        if not name:
            return
        try:
            info = segments.get_segment(self.workspace, name)
        except UserError:
            return
        self.editing = info.name
        self.name.setText(info.name)
        self.match.setCurrentIndex(max(0, self.match.findData(info.match)))
        self.conditions.setPlainText("\n".join(str(c) for c in info.conditions))

    def parsed(self) -> list[segments.Condition]:
        """The conditions written, one a line; an error names its line."""
        found = []
        for number, line in enumerate(self.conditions.toPlainText().splitlines(), 1):
            if not line.strip():
                continue
            try:
                found.append(segments.parse_condition(line))
            except UserError as exc:
                raise UserError(f"Line {number}: {exc}") from exc
        return found

    def check(self) -> bool:
        try:
            conditions = self.parsed()
            info = segments.SegmentInfo(0, "", str(self.match.currentData()), tuple(conditions))
            n = len(segments.lead_ids_for(self.workspace, info))
        except UserError as exc:
            self.count.setText(str(exc))
            self.save_button.setEnabled(False)
            return False
        self.count.setText(f"{n:,} leads match now.")
        self.save_button.setEnabled(True)
        return True

    def save(self) -> None:
        if not self.check():
            return
        try:
            info = segments.save_segment(
                self.workspace,
                self.name.text(),
                self.parsed(),
                str(self.match.currentData()),
                renaming=self.editing or None,
            )
        except UserError as exc:
            self.count.setText(str(exc))
            return
        self.reload(info.name)
        self.segmentsChanged.emit()

    def delete(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        if not user_confirms(
            self,
            "Delete segment",
            f"Delete the segment {item.text()!r}? Its leads stay as they are; a board filtered"
            " by it shows all leads again, and newsletters sent to it stop until it is back.",
        ):
            return
        segments.delete_segment(self.workspace, item.text())
        self.new_segment()
        self.reload()
        self.segmentsChanged.emit()
