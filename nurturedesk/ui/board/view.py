"""The board: one column (header + list view) per stage, side by side, scrolling sideways."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import wait

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nurturedesk.core import leads as lead_service
from nurturedesk.core.db import Workspace
from nurturedesk.core.events import LeadsChanged
from nurturedesk.core.leads import LeadFilter
from nurturedesk.core.release import SCORED
from nurturedesk.core.sequences import next_emails
from nurturedesk.core.stages import StageInfo, list_stages
from nurturedesk.ui.board.delegate import CardDelegate
from nurturedesk.ui.board.model import DropHandler, StageColumnModel
from nurturedesk.ui.board.scoring import attach_sort_menu, scored_board

COLUMN_WIDTH = 260
BOARD_STYLE = """
#stageColumn { background: #eceff3; border: none; border-radius: 8px; }
#stageCount { color: #546e7a; }
"""


class CardListView(QListView):
    """A column's cards: multi-select, drag out, drop in (between cards or at the end)."""

    returnPressed = Signal(QModelIndex)  # Enter on the current card opens it, as a double-click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setItemDelegate(CardDelegate(self))
        self.setMouseTracking(True)
        self.viewport().setAutoFillBackground(False)  # the column's colour shows between cards

    def selectAll(self) -> None:
        """Ctrl+A: every card of the column, loaded first. Only the loaded ones were
        selected before: 40 of 20,000, and a bulk action reached those 40."""
        model = self.model()
        if isinstance(model, StageColumnModel) and model.canFetchMore():
            # (100,000 cards load in about 1.5 s: the cursor says the click was taken)
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                model.fetch_all()
            finally:
                QGuiApplication.restoreOverrideCursor()
        super().selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.returnPressed.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


class StageColumn(QFrame):
    def __init__(self, model: StageColumnModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName("stageColumn")
        self.setFixedWidth(COLUMN_WIDTH)
        self.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        layout.setSpacing(4)
        header = QHBoxLayout()
        self.dot = QLabel("●")
        self.title = QLabel()
        self.title.setObjectName("stageTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.count = QLabel("0")
        self.count.setObjectName("stageCount")
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self.dot)
        header.addWidget(self.title, 1)
        header.addWidget(self.count)
        layout.addLayout(header)
        self.view = CardListView(self)
        self.view.setModel(model)
        self.view.setAccessibleName(f"{model.stage.name} column")
        layout.addWidget(self.view, 1)
        self.update_header()

    def update_header(self) -> None:
        stage = self.model.stage
        self.title.setText(stage.name)
        self.dot.setStyleSheet(f"color: {QColor(stage.colour).name()};")
        self.count.setText(f"{self.model.total:,}")
        self.count.setToolTip(f"{self.model.total:,} leads in {stage.name}")


class BoardWidget(QScrollArea):
    """All stage columns; knows how to refresh itself from a `LeadsChanged` event."""

    leadActivated = Signal(int)  # double-click / Enter on a card
    selectionChanged = Signal()
    refreshed = Signal()  # columns re-counted / re-loaded

    def __init__(
        self,
        workspace: Workspace,
        drop_handler: DropHandler,
        stale_days: int = 14,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.drop_handler = drop_handler
        self.stale_days = stale_days
        self.filter = LeadFilter()
        self.sorted_stages: set[int] = set()  # columns sorted by score instead of board order
        self.columns: list[StageColumn] = []
        self._pending_stages: set[int] | None = set()
        self._pending_edits: set[int] = set()
        self._select_after_refresh: list[int] = []
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.flush_pending)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._inner = QWidget()
        self._inner.setStyleSheet(BOARD_STYLE)
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(8, 8, 8, 8)
        self._row.setSpacing(8)
        self.setWidget(self._inner)
        self.rebuild()

    # --- building ----------------------------------------------------------------------

    def rebuild(self) -> None:
        """(Re)create the columns from the workspace's stages, then load them."""
        selected = self.selected_lead_ids()
        for column in self.columns:
            self._row.removeWidget(column)
            column.deleteLater()
        self.columns = []
        while self._row.count():
            self._row.takeAt(0)
        for stage in list_stages(self.workspace):
            self.columns.append(self._make_column(stage))
        self._row.addStretch(1)
        self.reload()
        self.select_leads(selected)

    def catch_up(self) -> None:
        """Show what changed in the workspace, however it changed (another process, or
        this one: the poll cannot tell them apart). Columns are only re-created when the
        stages changed; otherwise each keeps its loaded cards, scroll and selection, which a
        rebuild two seconds after every bulk action used to throw away."""
        if [c.model.stage for c in self.columns] != list_stages(self.workspace):
            self.rebuild()
        else:
            self.reload(keep_rows=True)

    def _make_column(self, stage: StageInfo) -> StageColumn:
        model = StageColumnModel(self.workspace, stage, stale_days=self.stale_days, parent=self)
        model.drop_handler = self.drop_handler
        model.sort_by_score = stage.id in self.sorted_stages
        column = StageColumn(model, self._inner)
        attach_sort_menu(self, column.title, stage.id)
        column.view.doubleClicked.connect(
            lambda index, m=model: self.leadActivated.emit(m.card(index.row()).id)
        )
        column.view.returnPressed.connect(
            lambda index, m=model: self.leadActivated.emit(m.card(index.row()).id)
        )
        column.view.selectionModel().selectionChanged.connect(
            lambda *_args, c=column: self._on_selection(c)
        )
        self._row.addWidget(column)
        return column

    # --- loading -----------------------------------------------------------------------

    def set_filter(self, flt: LeadFilter) -> None:
        self.filter = flt
        self.reload()

    def reload(self, stage_ids: Iterable[int] | None = None, keep_rows: bool = False) -> None:
        """Re-count and re-load the given columns (all if None), keeping scroll and selection."""
        wanted = [
            c for c in self.columns if stage_ids is None or c.model.stage.id in set(stage_ids)
        ]
        rows = {
            c.model.stage.id: max(c.model.page_size, c.model.rowCount() if keep_rows else 0)
            for c in wanted
        }
        board = lead_service.load_board(
            self.workspace, self.filter, rows, count_all=stage_ids is None
        )
        try:
            cards, badges = scored_board(
                self.workspace, board, self.filter, rows, self.sorted_stages
            )
            upcoming = next_emails(self.workspace, [c.id for page in cards.values() for c in page])
        except BaseException:
            wait([board.counting])  # no count left reading a workspace about to change
            raise
        counts = board.counts  # last: the count ran on its thread while the cards loaded
        for column in wanted:
            model = column.model
            selected = self._selected_in(column)
            scroll = column.view.verticalScrollBar().value()
            stage_id = model.stage.id
            model.set_cards(
                counts.get(stage_id, 0),
                cards.get(stage_id, []),
                self.filter,
                badges,
                upcoming,
            )
            if keep_rows:
                column.view.verticalScrollBar().setValue(scroll)
            self._select_in(column, selected)
            column.update_header()
        self.refreshed.emit()

    @property
    def sort_by_score(self) -> bool:
        return bool(self.sorted_stages)

    def set_sort_by_score(self, on: bool, stage_id: int | None = None) -> None:
        """Sort one column (or every column) by score, highest first; off: board order."""
        ids = {c.model.stage.id for c in self.columns} if stage_id is None else {stage_id}
        self.sorted_stages = (self.sorted_stages | ids) if on else (self.sorted_stages - ids)
        for column in self.columns:
            column.model.sort_by_score = column.model.stage.id in self.sorted_stages
        self.reload(ids if stage_id is not None else None, keep_rows=True)

    def on_leads_changed(self, event: LeadsChanged) -> None:
        """Note what changed; refresh once when control returns to the event loop, so a burst
        of changes (a bulk action, an import, the scheduler) costs one refresh."""
        in_place = (event.reason == "edited" and not self.filter.active) or (
            # Only scores and markers changed: no card moved and no filter (text, tag, owner,
            # source) can change its mind, so repaint in place unless sorted by score.
            event.reason == SCORED and not self.sort_by_score
        )
        if in_place and event.lead_ids:
            self._pending_edits.update(event.lead_ids)
        elif event.stage_ids and self._pending_stages is not None:
            self._pending_stages.update(event.stage_ids)
        else:
            self._pending_stages = None  # unknown scope: everything
        self._refresh_timer.start()

    def flush_pending(self) -> None:
        """Apply the changes noted since the last refresh (now, rather than at the next turn)."""
        self._refresh_timer.stop()
        stages, edits = self._pending_stages, self._pending_edits
        self._pending_stages, self._pending_edits = set(), set()
        if edits:
            for column in self.columns:
                column.model.refresh_cards(list(edits))
        if stages is None or stages:
            self.reload(stages, keep_rows=True)
        if self._select_after_refresh:
            self.select_leads(self._select_after_refresh)
            self._select_after_refresh = []

    def select_after_refresh(self, lead_ids: Sequence[int]) -> None:
        """Select these cards once the pending refresh has put them in their new places."""
        self._select_after_refresh = list(lead_ids)

    def set_stale_days(self, days: int) -> None:
        self.stale_days = days
        for column in self.columns:
            column.model.stale_days = days
            column.view.viewport().update()

    # --- selection ---------------------------------------------------------------------

    def _selected_in(self, column: StageColumn) -> list[int]:
        """The column's selected cards in board order, read by ranges of rows: an index per
        card took 0.6 s for a selected column of 100,000, and four listeners ask."""
        ids = column.model.lead_ids()
        selection = column.view.selectionModel().selection()
        ranges = sorted((r.top(), r.bottom()) for r in map(selection.at, range(selection.count())))
        selected: list[int] = []
        done = -1  # the last row taken (ranges may overlap)
        for top, bottom in ranges:
            top = max(top, done + 1)
            if top <= bottom:
                selected += ids[top : bottom + 1]
                done = bottom
        return selected

    def _select_in(self, column: StageColumn, lead_ids: Iterable[int]) -> list[int]:
        """Select these cards in one go (a select() per card signals each time, and every
        signal re-reads the selection, which froze the window for minutes on 20,000 cards).
        Returns the rows selected."""
        wanted = set(lead_ids)
        model = column.model
        rows = [row for row, lead_id in enumerate(model.lead_ids()) if lead_id in wanted]
        selection = QItemSelection()
        start = 0
        for i, row in enumerate(rows):  # one range per run of adjacent rows
            if i + 1 == len(rows) or rows[i + 1] != row + 1:
                selection.select(model.index(rows[start]), model.index(row))
                start = i + 1
        column.view.selectionModel().select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        return rows

    def selected_lead_ids(self) -> list[int]:
        ids: list[int] = []
        for column in self.columns:
            ids.extend(self._selected_in(column))
        return ids

    def select_leads(self, lead_ids: Sequence[int]) -> None:
        wanted = set(lead_ids)
        first = True
        for column in self.columns:
            rows = self._select_in(column, wanted)
            if rows and first:
                index = column.model.index(rows[0])
                column.view.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.NoUpdate
                )
                column.view.scrollTo(index)
                column.view.setFocus()
                first = False

    def _on_selection(self, column: StageColumn) -> None:
        # One column at a time, as in any kanban tool, unless Ctrl is held.
        ctrl = QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier
        if column.view.selectionModel().hasSelection() and not ctrl:
            for other in self.columns:
                if other is not column and other.view.selectionModel().hasSelection():
                    other.view.selectionModel().blockSignals(True)
                    other.view.clearSelection()
                    other.view.selectionModel().blockSignals(False)
                    other.view.viewport().update()
        self.selectionChanged.emit()

    def stage_of_selection(self) -> int | None:
        for column in self.columns:
            if column.view.selectionModel().hasSelection():
                return column.model.stage.id
        return None

    def column_for(self, stage_id: int) -> StageColumn | None:
        for column in self.columns:
            if column.model.stage.id == stage_id:
                return column
        return None
