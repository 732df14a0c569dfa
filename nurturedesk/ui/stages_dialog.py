"""Manage the funnel's stages: add, rename, recolour, change kind, reorder, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import stages as stage_service
from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import UserError
from nurturedesk.core.leads import count_by_stage
from nurturedesk.core.models import StageKind


def colour_icon(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class StagesDialog(QDialog):
    """Every change is saved at once (and announced, so the board follows)."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setWindowTitle("Stages")
        self.setMinimumSize(420, 380)
        layout = QHBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("stageList")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.model().rowsMoved.connect(self._save_order)
        self.list.itemDoubleClicked.connect(lambda _item: self.rename())
        layout.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        for text, slot in (
            ("&Add…", self.add),
            ("&Rename…", self.rename),
            ("&Colour…", self.recolour),
            ("&Kind…", self.change_kind),
            ("Move &up", lambda: self.move_stage(-1)),
            ("Move do&wn", lambda: self.move_stage(1)),
            ("&Delete…", self.delete),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self, select_id: int | None = None) -> None:
        counts = count_by_stage(self.workspace)
        self.list.blockSignals(True)
        self.list.clear()
        for stage in stage_service.list_stages(self.workspace):
            item = QListWidgetItem(
                colour_icon(stage.colour),
                f"{stage.name}   ({counts.get(stage.id, 0)} leads, {stage.kind.value})",
            )
            item.setData(Qt.ItemDataRole.UserRole, stage.id)
            self.list.addItem(item)
            if stage.id == select_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _current(self) -> stage_service.StageInfo | None:
        item = self.list.currentItem()
        if item is None:
            return None
        return stage_service.get_stage(self.workspace, item.data(Qt.ItemDataRole.UserRole))

    def _run(self, fn, select_id: int | None = None) -> None:  # type: ignore[no-untyped-def]
        try:
            result = fn()
        except UserError as exc:
            QMessageBox.warning(self, "Stages", str(exc))
            return
        self.refresh(select_id if select_id is not None else getattr(result, "id", None))

    def add(self) -> None:
        name, ok = QInputDialog.getText(self, "New stage", "Name:")
        if ok and name.strip():
            current = self._current()
            position = current.position + 1 if current else None
            self._run(lambda: stage_service.add_stage(self.workspace, name, position=position))

    def rename(self) -> None:
        stage = self._current()
        if stage is None:
            return
        name, ok = QInputDialog.getText(self, "Rename stage", "Name:", text=stage.name)
        if ok:
            self._run(lambda: stage_service.update_stage(self.workspace, stage.id, name=name))

    def recolour(self) -> None:
        stage = self._current()
        if stage is None:
            return
        colour = QColorDialog.getColor(QColor(stage.colour), self, f"Colour of {stage.name}")
        if colour.isValid():
            self._run(
                lambda: stage_service.update_stage(self.workspace, stage.id, colour=colour.name())
            )

    def change_kind(self) -> None:
        stage = self._current()
        if stage is None:
            return
        kinds = [k.value for k in StageKind]
        kind, ok = QInputDialog.getItem(
            self, "Stage kind", f"{stage.name} is:", kinds, kinds.index(stage.kind.value), False
        )
        if ok:
            self._run(
                lambda: stage_service.update_stage(self.workspace, stage.id, kind=StageKind(kind))
            )

    def move_stage(self, delta: int) -> None:
        row = self.list.currentRow()
        if row < 0 or not 0 <= row + delta < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(row + delta, item)
        self.list.setCurrentRow(row + delta)
        self._save_order()

    def _save_order(self, *_args: object) -> None:
        ids = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
        current = self._current()
        self._run(
            lambda: stage_service.reorder_stages(self.workspace, ids),
            select_id=current.id if current else None,
        )

    def delete(self) -> None:
        stage = self._current()
        if stage is None:
            return
        held = count_by_stage(self.workspace).get(stage.id, 0)
        target_id = None
        if held:
            others = [s for s in stage_service.list_stages(self.workspace) if s.id != stage.id]
            names = [s.name for s in others]
            name, ok = QInputDialog.getItem(
                self,
                "Delete stage",
                f"{stage.name} holds {held} leads. Move them to:",
                names,
                0,
                False,
            )
            if not ok:
                return
            target_id = others[names.index(name)].id
        elif (
            QMessageBox.question(self, "Delete stage", f"Delete the empty stage {stage.name}?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        self._run(lambda: stage_service.delete_stage(self.workspace, stage.id, target_id))
