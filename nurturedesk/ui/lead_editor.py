"""Add or edit a lead, with validation as you type and errors shown beside the field."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core.errors import UserError, ValidationError
from nurturedesk.core.leads import TEXT_FIELDS, LeadData, LeadDetail
from nurturedesk.core.stages import StageInfo
from nurturedesk.core.validation import normalize_email

LABELS = {
    "email": "&Email",
    "first_name": "&First name",
    "last_name": "&Last name",
    "company": "&Company",
    "title": "&Title",
    "phone": "&Phone",
    "source": "&Source",
    "owner": "&Owner",
    "timezone": "Time &zone",
}

# Saves the data; returns nothing or raises ValidationError / UserError.
SaveFunction = Callable[[LeadData, int | None], None]


class LeadEditor(QDialog):
    def __init__(
        self,
        save: SaveFunction,
        lead: LeadDetail | None = None,
        stages: list[StageInfo] | None = None,
        default_stage_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.save = save
        self.lead = lead
        self.setWindowTitle(f"Edit {lead.name}" if lead else "New lead")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.fields: dict[str, QLineEdit] = {}
        self.errors: dict[str, QLabel] = {}
        for name in ("email", *TEXT_FIELDS):
            edit = QLineEdit(getattr(lead, name) if lead else "")
            edit.setObjectName(f"field_{name}")
            self.fields[name] = edit
            error = QLabel()
            error.setObjectName(f"error_{name}")
            error.setStyleSheet("color: #c62828;")
            error.setWordWrap(True)
            error.hide()
            self.errors[name] = error
            box = QVBoxLayout()
            box.setSpacing(1)
            box.addWidget(edit)
            box.addWidget(error)
            label = QLabel(LABELS[name])
            label.setBuddy(edit)  # Alt+letter jumps to the field (and shows "Email", not "&Email")
            form.addRow(label, box)
        self.fields["email"].setPlaceholderText("name@company.com")
        self.fields["timezone"].setPlaceholderText("e.g. Europe/Paris (empty: yours)")
        self.tags = QLineEdit(", ".join(lead.tags) if lead else "")
        self.tags.setObjectName("field_tags")
        self.tags.setPlaceholderText("comma-separated, e.g. webinar, emea")
        form.addRow("T&ags", self.tags)
        self.custom = QPlainTextEdit(
            "\n".join(f"{k}: {v}" for k, v in (lead.custom_fields if lead else {}).items())
        )
        self.custom.setObjectName("field_custom")
        self.custom.setPlaceholderText("one per line, e.g. industry: retail")
        self.custom.setFixedHeight(70)
        form.addRow("C&ustom fields", self.custom)
        self.stage: QComboBox | None = None
        if lead is None and stages:
            self.stage = QComboBox()
            self.stage.setObjectName("field_stage")
            for stage in stages:
                self.stage.addItem(stage.name, stage.id)
            if default_stage_id is not None:
                self.stage.setCurrentIndex(max(0, self.stage.findData(default_stage_id)))
            form.addRow("Sta&ge", self.stage)
        layout.addLayout(form)
        self.general_error = QLabel()
        self.general_error.setObjectName("error_general")
        self.general_error.setStyleSheet("color: #c62828;")
        self.general_error.setWordWrap(True)
        self.general_error.hide()
        layout.addWidget(self.general_error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.fields["email"].textChanged.connect(self._check_email)
        self._check_email(self.fields["email"].text(), quiet_if_empty=True)
        self.fields["email" if lead is None else "first_name"].setFocus(
            Qt.FocusReason.OtherFocusReason
        )

    def _check_email(self, text: str, quiet_if_empty: bool = False) -> bool:
        if not text.strip() and quiet_if_empty:
            self._show_error("email", "")
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
            return False
        try:
            normalize_email(text)
        except ValidationError as exc:
            self._show_error("email", str(exc))
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
            return False
        self._show_error("email", "")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
        return True

    def _show_error(self, field: str, message: str) -> None:
        label = self.errors.get(field, self.general_error)
        label.setText(message)
        label.setVisible(bool(message))

    def data(self) -> LeadData:
        custom = {}
        for line in self.custom.toPlainText().splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                custom[key.strip()] = value.strip()
        tags = tuple(t.strip() for t in self.tags.text().split(",") if t.strip())
        values = {name: edit.text() for name, edit in self.fields.items()}
        return LeadData(**values, custom_fields=custom, tags=tags)

    def selected_stage_id(self) -> int | None:
        return self.stage.currentData() if self.stage is not None else None

    def accept(self) -> None:
        for name in self.errors:
            self._show_error(name, "")
        self.general_error.hide()
        try:
            self.save(self.data(), self.selected_stage_id())
        except ValidationError as exc:
            self._show_error(exc.field if exc.field in self.errors else "general", str(exc))
            target = self.fields.get(exc.field)
            if target is not None:
                target.setFocus()
            return
        except UserError as exc:
            self._show_error("general", str(exc))
            return
        super().accept()
