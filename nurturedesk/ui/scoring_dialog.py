"""Scoring rules: points per interaction, caps, decay, the release rule. Saving re-scores every
lead and goes on the undo stack."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core.errors import ValidationError
from nurturedesk.core.scoring_rules import GRADES, INTERACTION_TYPES, Cap, ScoringRules

POINTS, CAP, PERIOD = 1, 2, 3


def _spin(low: int, high: int, value: int, name: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setObjectName(name)
    return spin


class ScoringRulesDialog(QDialog):
    def __init__(self, rules: ScoringRules, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rules = rules
        self.setWindowTitle("Scoring rules")
        self.setMinimumSize(620, 640)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(INTERACTION_TYPES), 4)
        self.table.setObjectName("pointsTable")
        self.table.setHorizontalHeaderLabels(["Interaction", "Points", "Cap (points)", "per days"])
        self.table.verticalHeader().hide()
        self.spins: dict[str, tuple[QSpinBox, QSpinBox, QSpinBox]] = {}
        for row, (type_, label) in enumerate(INTERACTION_TYPES.items()):
            item = QTableWidgetItem(label)
            item.setToolTip(type_)
            self.table.setItem(row, 0, item)
            cap = rules.caps.get(type_)
            spins = (
                _spin(-1000, 1000, rules.points_for(type_), f"points_{type_}"),
                _spin(0, 10000, cap.points if cap else 0, f"cap_{type_}"),
                _spin(1, 3650, cap.days if cap else 7, f"period_{type_}"),
            )
            spins[1].setSpecialValueText("no cap")
            for col, spin in enumerate(spins, start=1):
                self.table.setCellWidget(row, col, spin)
            self.spins[type_] = spins
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table, 1)

        decay = QGroupBox("Decay")
        decay_row = QHBoxLayout(decay)
        self.decay_on = QCheckBox("Points lose half their value every")
        self.decay_on.setObjectName("decayOn")
        self.half_life = QDoubleSpinBox()
        self.half_life.setObjectName("halfLife")
        self.half_life.setRange(0.5, 3650)
        self.half_life.setSuffix(" days")
        self.half_life.setValue(rules.half_life_days or 30.0)
        self.decay_on.setChecked(rules.half_life_days is not None)
        self.decay_on.toggled.connect(self.half_life.setEnabled)
        self.half_life.setEnabled(rules.half_life_days is not None)
        decay_row.addWidget(self.decay_on)
        decay_row.addWidget(self.half_life)
        decay_row.addStretch(1)
        layout.addWidget(decay)

        box = QGroupBox("Release to sales")
        form = QFormLayout(box)
        self.threshold = _spin(-100000, 100000, rules.threshold, "threshold")
        form.addRow("Sales-ready at score", self.threshold)
        self.hysteresis = _spin(0, 100000, rules.hysteresis, "hysteresis")
        form.addRow("Fires again only after falling", self.hysteresis)
        self.min_grade = QComboBox()
        self.min_grade.setObjectName("minGrade")
        self.min_grade.addItem("any (even not qualified)", "")
        for grade in GRADES:
            self.min_grade.addItem(f"{grade} or better", grade)
        self.min_grade.setCurrentIndex(max(0, self.min_grade.findData(rules.min_grade)))
        form.addRow("Minimum grade", self.min_grade)
        self.mode = QComboBox()
        self.mode.setObjectName("releaseMode")
        self.mode.addItem(f"Move the card to {rules.release_stage}", "move")
        self.mode.addItem("Only flag the card", "flag")
        self.mode.setCurrentIndex(max(0, self.mode.findData(rules.release_mode)))
        form.addRow("On release", self.mode)
        self.owner = QLineEdit(rules.default_owner)
        self.owner.setObjectName("defaultOwner")
        self.owner.setPlaceholderText("the lead's owner, else this")
        form.addRow("Default owner", self.owner)
        self.follow_up = _spin(1, 24 * 365, rules.follow_up_hours, "followUpHours")
        self.follow_up.setSuffix(" h")
        form.addRow("Sales follows up within", self.follow_up)
        self.recycle = _spin(0, 3650, rules.recycle_days, "recycleDays")
        self.recycle.setSuffix(" days")
        form.addRow("Rejected leads back into nurturing after", self.recycle)
        self.lost = _spin(0, 3650, rules.lost_recycle_days, "lostRecycleDays")
        self.lost.setSpecialValueText("never")
        self.lost.setSuffix(" days")
        form.addRow("Lost leads back into nurturing after", self.lost)
        layout.addWidget(box)
        self.error = QLabel()
        self.error.setObjectName("rulesError")
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def result_rules(self) -> ScoringRules:
        points = {t: s[0].value() for t, s in self.spins.items()}
        caps = {t: Cap(s[1].value(), s[2].value()) for t, s in self.spins.items() if s[1].value()}
        return replace(
            self.rules,
            points=points,
            caps=caps,
            half_life_days=self.half_life.value() if self.decay_on.isChecked() else None,
            threshold=self.threshold.value(),
            hysteresis=self.hysteresis.value(),
            min_grade=str(self.min_grade.currentData()),
            release_mode=str(self.mode.currentData()),
            default_owner=self.owner.text().strip(),
            follow_up_hours=self.follow_up.value(),
            recycle_days=self.recycle.value(),
            lost_recycle_days=self.lost.value(),
        )

    def show_error(self, exc: ValidationError) -> None:
        self.error.setText(str(exc))
        self.error.show()
