"""Sequence editor: steps (template + delay), send window (days, hours), the stage whose
entry enrols a lead, the tag that enrols; and the sequence's enrolments (pause, resume,
unenrol)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import sequences
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.stages import list_stages
from nurturedesk.core.templates import list_templates
from nurturedesk.ui.worker import list_panel, named

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class SequenceEditor(QDialog):
    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sequences")
        self.resize(1000, 640)
        self.workspace = workspace
        self.current_id: int | None = None
        self.templates = list_templates(workspace)

        self.list, left_box = list_panel("sequenceList", "newSequence", self.load, self.new)

        self.name = named(QLineEdit(), "name")
        self.steps = named(QTableWidget(0, 2), "steps")
        self.steps.setHorizontalHeaderLabels(["Template", "Days after previous"])
        self.steps.horizontalHeader().setStretchLastSection(True)
        self.steps.setColumnWidth(0, 320)
        add_step = named(QPushButton("Add step"), "addStep")
        add_step.clicked.connect(lambda: self.add_step())
        remove_step = named(QPushButton("Remove step"), "removeStep")
        remove_step.clicked.connect(self.remove_step)
        step_buttons = QHBoxLayout()
        step_buttons.addWidget(add_step)
        step_buttons.addWidget(remove_step)
        step_buttons.addStretch(1)
        self.days = [named(QCheckBox(d), f"day{i}") for i, d in enumerate(DAY_NAMES)]
        days_row = QHBoxLayout()
        for box in self.days:
            days_row.addWidget(box)
        self.start_hour = named(QSpinBox(), "startHour")
        self.end_hour = named(QSpinBox(), "endHour")
        self.start_hour.setRange(0, 23)
        self.end_hour.setRange(1, 24)
        hours_row = QHBoxLayout()
        hours_row.addWidget(self.start_hour)
        hours_row.addWidget(QLabel("to"))
        hours_row.addWidget(self.end_hour)
        hours_row.addWidget(QLabel("h, in the lead's time zone"))
        hours_row.addStretch(1)
        self.stage = named(QComboBox(), "enrolStage")
        self.stage.addItem("(none)", None)
        for stage in list_stages(workspace):
            self.stage.addItem(stage.name, stage.id)
        self.tag = named(QLineEdit(), "enrolTag")
        self.problem = named(QLabel(), "problem")
        self.problem.setStyleSheet("color: #c62828")
        save_button = named(QPushButton("Save"), "save")
        save_button.clicked.connect(self.save)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Steps", self.steps)
        form.addRow("", step_buttons)
        form.addRow("Send on", days_row)
        form.addRow("Between", hours_row)
        form.addRow("Entering stage enrols", self.stage)
        form.addRow("Leads tagged", self.tag)

        self.enrolments = named(QTableWidget(0, 4), "enrolments")
        self.enrolments.setHorizontalHeaderLabels(["Lead", "State", "Next email", "Due (UTC)"])
        self.enrolments.horizontalHeader().setStretchLastSection(True)
        self.enrolments.setWordWrap(False)
        self.enrolments.verticalHeader().hide()
        for column, width in ((0, 300), (1, 160), (2, 180)):
            self.enrolments.setColumnWidth(column, width)
        actions = QHBoxLayout()
        for name, label in (("pause", "Pause"), ("resume", "Resume"), ("unenroll", "Unenrol")):
            button = named(QPushButton(label), name)
            button.clicked.connect(lambda _c=False, n=name: self.enrolment_action(n))
            actions.addWidget(button)
        actions.addStretch(1)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.problem)
        right.addWidget(save_button)
        right.addWidget(QLabel("Enrolments"))
        right.addWidget(self.enrolments, 1)
        right.addLayout(actions)
        right_box = QWidget()
        right_box.setLayout(right)
        split = QSplitter()
        split.addWidget(left_box)
        split.addWidget(right_box)
        split.setSizes([220, 780])
        QVBoxLayout(self).addWidget(split)
        self.fill_list()
        if self.list.count():
            self.list.setCurrentRow(0)

    def fill_list(self, select_id: int | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for seq in sequences.list_sequences(self.workspace):
            item = QListWidgetItem(f"{seq.name} ({seq.active_enrolments} active)")
            item.setData(256, seq.id)
            self.list.addItem(item)
            if seq.id == select_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def add_step(self, template_id: int | None = None, delay: float = 7.0) -> None:
        row = self.steps.rowCount()
        self.steps.insertRow(row)
        combo = QComboBox()
        for t in self.templates:
            combo.addItem(t.name, t.id)
        if template_id is not None:
            combo.setCurrentIndex(max(0, combo.findData(template_id)))
        spin = QDoubleSpinBox()
        spin.setRange(0, 365)
        spin.setDecimals(1)
        spin.setValue(delay)
        self.steps.setCellWidget(row, 0, combo)
        self.steps.setCellWidget(row, 1, spin)

    def remove_step(self) -> None:
        row = self.steps.currentRow()
        self.steps.removeRow(row if row >= 0 else self.steps.rowCount() - 1)

    def load(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        seq = sequences.find_sequence(self.workspace, int(item.data(256)))
        self.current_id = seq.id
        self.name.setText(seq.name)
        self.steps.setRowCount(0)
        for step in seq.steps:
            self.add_step(step.template_id, step.delay_days)
        for i, box in enumerate(self.days):
            box.setChecked(i in seq.window_days)
        self.start_hour.setValue(seq.window_start_hour)
        self.end_hour.setValue(seq.window_end_hour)
        stage_index = self.stage.findData(seq.stage_ids[0]) if seq.stage_ids else 0
        self.stage.setCurrentIndex(max(0, stage_index))
        self.tag.setText(seq.enroll_tag)
        self.problem.clear()
        self.fill_enrolments()

    def new(self) -> None:
        self.current_id = None
        self.name.setText("New sequence")
        self.steps.setRowCount(0)
        self.add_step(delay=0)
        for i, box in enumerate(self.days):
            box.setChecked(i < 5)
        self.start_hour.setValue(9)
        self.end_hour.setValue(17)
        self.stage.setCurrentIndex(0)
        self.tag.clear()
        self.enrolments.setRowCount(0)

    def step_values(self) -> list[tuple[int, float]]:
        values = []
        for row in range(self.steps.rowCount()):
            combo = self.steps.cellWidget(row, 0)
            spin = self.steps.cellWidget(row, 1)
            assert isinstance(combo, QComboBox) and isinstance(spin, QDoubleSpinBox)
            values.append((int(combo.currentData()), float(spin.value())))
        return values

    def save(self) -> bool:
        try:
            info = sequences.save_sequence(
                self.workspace,
                self.name.text(),
                self.step_values(),
                window_days=[i for i, box in enumerate(self.days) if box.isChecked()],
                window_hours=(self.start_hour.value(), self.end_hour.value()),
                enroll_tag=self.tag.text(),
                sequence_id=self.current_id,
            )
            sequences.set_enrolling_stage(self.workspace, info.id, self.stage.currentData())
        except UserError as exc:
            self.problem.setText(str(exc))
            return False
        self.current_id = info.id
        self.problem.clear()
        self.fill_list(info.id)
        self.fill_enrolments()
        return True

    def fill_enrolments(self) -> None:
        self.enrolments.setRowCount(0)
        if self.current_id is None:
            return
        for e in sequences.list_enrollments(self.workspace, sequence_id=self.current_id):
            row = self.enrolments.rowCount()
            self.enrolments.insertRow(row)
            due = f"{e.next_send_at:%Y-%m-%d %H:%M}" if e.next_send_at else ""
            state = e.state + (f" ({e.stopped_reason})" if e.stopped_reason else "")
            for col, text in enumerate(
                (f"{e.lead_name} <{e.lead_email}>", state, e.next_template, due)
            ):
                cell = QTableWidgetItem(text)
                cell.setData(256, e.id)
                self.enrolments.setItem(row, col, cell)

    def enrolment_action(self, name: str) -> None:
        rows = {i.row() for i in self.enrolments.selectedIndexes()}
        for row in rows:
            cell = self.enrolments.item(row, 0)
            if cell is not None:
                getattr(sequences, name)(self.workspace, int(cell.data(256)))
        self.fill_enrolments()
