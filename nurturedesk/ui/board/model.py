"""A board column: a lazy list model over one stage's cards.

Rows are fetched a page at a time (canFetchMore/fetchMore) so a stage of 100,000 leads costs
the same to open as one of 100. Drags carry lead ids in our own MIME type; a drop is handed to
the board (which records it on the undo stack) rather than applied here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from nurturedesk.core import leads as lead_service
from nurturedesk.core.db import Workspace
from nurturedesk.core.leads import LeadCard, LeadFilter
from nurturedesk.core.release import Badges
from nurturedesk.core.sequences import NextEmail, next_emails
from nurturedesk.core.stages import StageInfo
from nurturedesk.ui.board.scoring import accessible_text, fetch_page, load_badges
from nurturedesk.ui.timefmt import long_due, short_due

LEAD_IDS_MIME = "application/x-nurturedesk-lead-ids"
PAGE_SIZE = 40  # a screenful or two; fetchMore brings the rest as the user scrolls

Index = QModelIndex | QPersistentModelIndex
DropHandler = Callable[[list[int], int, int | None], None]  # ids, stage id, before lead id


class CardRole(IntEnum):
    Card = Qt.ItemDataRole.UserRole + 1  # the LeadCard dataclass
    LeadId = Qt.ItemDataRole.UserRole + 2
    Company = Qt.ItemDataRole.UserRole + 3
    Score = Qt.ItemDataRole.UserRole + 4
    Tags = Qt.ItemDataRole.UserRole + 5
    DaysInStage = Qt.ItemDataRole.UserRole + 6
    Stale = Qt.ItemDataRole.UserRole + 7
    StageColour = Qt.ItemDataRole.UserRole + 8
    Badges = Qt.ItemDataRole.UserRole + 9  # release.Badges: grade, sales-ready, overdue
    Grade = Qt.ItemDataRole.UserRole + 10
    NextEmail = Qt.ItemDataRole.UserRole + 11  # sequences.NextEmail: template, sequence, due
    NextEmailLabel = Qt.ItemDataRole.UserRole + 12  # "✉ Tue 09:00", or "" with none due
    Face = Qt.ItemDataRole.UserRole + 13  # CardFace: everything the delegate paints


@dataclass(frozen=True)
class CardFace:
    """Everything a painted card shows, in one call: asking role by role cost a Python round
    trip each, nine per card, a third of the time it took to paint a column."""

    name: str
    company: str
    score: int
    tags: tuple[str, ...]
    days_in_stage: int
    stale: bool
    stage_colour: str
    badges: Badges | None
    next_email_label: str


def encode_lead_ids(ids: Sequence[int]) -> QMimeData:
    mime = QMimeData()
    mime.setData(LEAD_IDS_MIME, json.dumps(list(ids)).encode())
    mime.setText("\n".join(f"lead #{i}" for i in ids))
    return mime


def decode_lead_ids(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(LEAD_IDS_MIME):
        return []
    try:
        ids = json.loads(bytes(mime.data(LEAD_IDS_MIME).data()).decode())
    except ValueError:
        return []
    return [int(i) for i in ids if isinstance(i, int)]


class StageColumnModel(QAbstractListModel):
    def __init__(
        self,
        workspace: Workspace,
        stage: StageInfo,
        *,
        stale_days: int = 14,
        page_size: int = PAGE_SIZE,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.stage = stage
        self.stale_days = stale_days
        self.page_size = page_size
        self.filter = LeadFilter()
        self.total = 0
        self._cards: list[LeadCard] = []
        self._badges: dict[int, Badges] = {}
        self._next_email: dict[int, NextEmail] = {}
        self.sort_by_score = False  # highest score first instead of the board's order
        self.drop_handler: DropHandler | None = None
        self._fetching = False

    # --- loading -----------------------------------------------------------------------

    def reload(self, total: int, flt: LeadFilter | None = None, keep_rows: int = 0) -> None:
        """Start over from the first page (keeping about as many rows as were loaded)."""
        if flt is not None:
            self.filter = flt
        self.beginResetModel()
        self.total = total
        want = min(total, max(self.page_size, keep_rows))
        self._cards = (
            fetch_page(self.workspace, self.stage.id, self.filter, None, want, self.sort_by_score)
            if want
            else []
        )
        self._badges, self._next_email = {}, {}
        self._remember_extras(self._cards)
        self.endResetModel()

    def _remember_extras(
        self,
        cards: Sequence[LeadCard],
        badges: dict[int, Badges] | None = None,
        upcoming: dict[int, NextEmail] | None = None,
    ) -> None:
        """What the cards show beside their own fields: markers and the next email (loaded
        here unless the board already loaded them for every column at once)."""
        if badges is None:
            badges = load_badges(self.workspace, cards)
        if upcoming is None:
            upcoming = next_emails(self.workspace, [c.id for c in cards])
        self._badges.update({c.id: badges[c.id] for c in cards if c.id in badges})
        self._next_email.update({c.id: upcoming[c.id] for c in cards if c.id in upcoming})

    def set_cards(
        self,
        total: int,
        cards: list[LeadCard],
        flt: LeadFilter,
        badges: dict[int, Badges] | None = None,
        upcoming: dict[int, NextEmail] | None = None,
    ) -> None:
        """Start over with cards the board loaded for this column (see `load_board`)."""
        self.beginResetModel()
        self.filter = flt
        self.total = total
        self._cards = list(cards)
        self._badges, self._next_email = {}, {}
        self._remember_extras(self._cards, badges, upcoming)
        self.endResetModel()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and len(self._cards) < self.total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        # Views (and the model tester) may ask again from inside beginInsertRows: once is enough.
        if parent.isValid() or self._fetching or not self.canFetchMore():
            return
        self._fetching = True
        try:
            self._fetch_page()
        finally:
            self._fetching = False

    def fetch_all(self) -> None:
        """Load every card not loaded yet, in one query (Select All means the whole column,
        not the cards the user happened to scroll past)."""
        if not self._fetching and self.canFetchMore():
            self._fetching = True
            try:
                self._fetch_page(self.total - len(self._cards))
            finally:
                self._fetching = False

    def _fetch_page(self, limit: int | None = None) -> None:
        last = self._cards[-1] if self._cards else None
        page = fetch_page(
            self.workspace,
            self.stage.id,
            self.filter,
            last,
            limit or self.page_size,
            self.sort_by_score,
        )
        if not page:  # the column shrank under us; stop asking
            self.total = len(self._cards)
            return
        self.beginInsertRows(QModelIndex(), len(self._cards), len(self._cards) + len(page) - 1)
        self._cards.extend(page)
        self._remember_extras(page)
        self.endInsertRows()

    def refresh_cards(self, lead_ids: Sequence[int]) -> None:
        """Repaint cards edited in place (same stage, same order)."""
        rows = {card.id: row for row, card in enumerate(self._cards) if card.id in lead_ids}
        if not rows:
            return
        fresh = lead_service.cards_by_id(self.workspace, list(rows))
        for lead_id in rows:
            self._next_email.pop(lead_id, None)
        self._remember_extras(list(fresh.values()))
        for lead_id, row in rows.items():
            if lead_id in fresh and fresh[lead_id].stage_id == self.stage.id:
                self._cards[row] = fresh[lead_id]
                index = self.index(row)
                self.dataChanged.emit(index, index)

    # --- reading -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cards)

    def card(self, row: int) -> LeadCard:
        return self._cards[row]

    def row_of(self, lead_id: int) -> int | None:
        for row, card in enumerate(self._cards):
            if card.id == lead_id:
                return row
        return None

    def lead_ids(self) -> list[int]:
        return [c.id for c in self._cards]

    def days_in_stage(self, card: LeadCard) -> int:
        return max(0, (self.workspace.clock.now() - card.stage_entered_at).days)

    def _stale(self, days_in_stage: int) -> bool:
        return self.stage.kind.value == "open" and days_in_stage > self.stale_days

    def _next_email_label(self, card: LeadCard) -> str:
        upcoming = self._next_email.get(card.id)
        if upcoming is None:
            return ""
        return "✉ " + short_due(upcoming.due, self.workspace.clock.now())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._cards):
            return None
        card = self._cards[index.row()]
        if role == CardRole.Face:  # first: asked for every card painted
            days = self.days_in_stage(card)
            return CardFace(
                card.name,
                card.company,
                card.score,
                card.tags,
                days,
                self._stale(days),
                self.stage.colour,
                self._badges.get(card.id),
                self._next_email_label(card),
            )
        if role == Qt.ItemDataRole.DisplayRole:
            return card.name
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{card.name} <{card.email}>" + (f"\n{card.company}" if card.company else "")
            upcoming = self._next_email.get(card.id)
            if upcoming is not None:
                tip += (
                    f"\nNext email: {upcoming.template} ({upcoming.sequence}), "
                    f"{long_due(upcoming.due)}"
                )
            return tip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return accessible_text(card, self._badges.get(card.id))
        if role == CardRole.Card:
            return card
        if role == CardRole.LeadId:
            return card.id
        if role == CardRole.Company:
            return card.company
        if role == CardRole.Score:
            return card.score
        if role == CardRole.Tags:
            return list(card.tags)
        if role == CardRole.DaysInStage:
            return self.days_in_stage(card)
        if role == CardRole.Stale:
            return self._stale(self.days_in_stage(card))
        if role == CardRole.StageColour:
            return self.stage.colour
        if role == CardRole.Badges:
            return self._badges.get(card.id)
        if role == CardRole.NextEmail:
            return self._next_email.get(card.id)
        if role == CardRole.NextEmailLabel:
            return self._next_email_label(card)
        if role == CardRole.Grade:
            badges = self._badges.get(card.id)
            return badges.grade if badges else ""
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(r): QByteArray(r.name.encode()) for r in CardRole})
        return names

    # --- drag and drop -----------------------------------------------------------------

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsDragEnabled
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [LEAD_IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return encode_lead_ids([self._cards[r].id for r in rows])

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        return action == Qt.DropAction.MoveAction and bool(decode_lead_ids(data))

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        ids = decode_lead_ids(data)
        if not ids or action != Qt.DropAction.MoveAction or self.drop_handler is None:
            return False
        if parent.isValid():  # dropped onto a card: land above it
            row = parent.row()
        before = self._first_card_not_moving(row, set(ids))
        self.drop_handler(ids, self.stage.id, before)
        # The board reloads from the change event; the source keeps its rows until then.
        return False

    def _first_card_not_moving(self, row: int, moving: set[int]) -> int | None:
        if row < 0:
            return None
        for card in self._cards[row:]:
            if card.id not in moving:
                return card.id
        # Dropped below the loaded cards: the end of the column (if it is fully loaded).
        return None
