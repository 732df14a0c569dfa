"""Scores on the board: paging a column by score, the card's grade and hand-off markers,
and how the card delegate paints them. Kept apart so the board's own modules only call in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QMenu, QWidget

from nurturedesk.core import leads as lead_service
from nurturedesk.core import release, scoring
from nurturedesk.core.db import Workspace
from nurturedesk.core.leads import LeadCard, LeadFilter
from nurturedesk.ui.board.painting import PillStyle, draw_pill

WHITE = QColor("white")
SALES_READY_COLOUR = QColor("#ef6c00")
OVERDUE_COLOUR = QColor("#c62828")
GRADE_COLOURS = {
    "A": QColor("#2e7d32"),
    "B": QColor("#558b2f"),
    "C": QColor("#f9a825"),
    "D": QColor("#8d6e63"),
}


def fetch_page(
    workspace: Workspace,
    stage_id: int,
    flt: LeadFilter,
    last: LeadCard | None,
    limit: int,
    by_score: bool,
) -> list[LeadCard]:
    """The next page of a column, in board order or by score (highest first)."""
    if by_score:
        after_score = (last.score, last.id) if last else None
        return scoring.page_cards_by_score(workspace, stage_id, flt, after_score, limit)
    after = (last.position, last.id) if last else None
    return lead_service.page_cards(workspace, stage_id, flt, after=after, limit=limit)


def scored_board(
    workspace: Workspace,
    board: lead_service.BoardSlice,
    flt: LeadFilter,
    rows: dict[int, int],
    sorted_stages: set[int],
) -> tuple[dict[int, list[LeadCard]], dict[int, release.Badges]]:
    """The board's first pages (columns sorted by score re-read in that order) and the
    markers of every card on them, in one query."""
    cards = {
        stage_id: (
            fetch_page(workspace, stage_id, flt, None, rows[stage_id], True)
            if stage_id in sorted_stages
            else page
        )
        for stage_id, page in board.cards.items()
    }
    every = [card for page in cards.values() for card in page]
    return cards, load_badges(workspace, every)


def load_badges(workspace: Workspace, cards: Sequence[LeadCard]) -> dict[int, release.Badges]:
    return release.badges(workspace, [c.id for c in cards])


_marker_pills: dict[str, PillStyle] = {}


def _marker_pill(font: QFont) -> PillStyle:
    """The chips' look for a view font, built once (painting runs for every visible card)."""
    key = font.key()
    if key not in _marker_pills:
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.75)
        small.setBold(True)
        fm = QFontMetrics(small)
        _marker_pills[key] = PillStyle(small, fm, WHITE, fm.height() + 2, 3, padding=8)
    return _marker_pills[key]


def paint_markers(
    painter: QPainter, font: QFont, badges: release.Badges | None, right: float, top: float
) -> float:
    """Paint the grade, sales-ready and overdue chips ending at `right` (beside the score
    badge); returns the x where they start, so the name can be elided before them."""
    if badges is None:
        return right
    chips: list[tuple[str, QColor]] = []
    if badges.overdue:
        chips.append(("OVERDUE", OVERDUE_COLOUR))
    elif badges.sales_ready:
        chips.append(("READY", SALES_READY_COLOUR))
    if badges.grade:
        chips.append((badges.grade, GRADE_COLOURS.get(badges.grade, QColor("#607d8b"))))
    if not chips:
        return right
    style = _marker_pill(font)
    x = right
    for text, colour in chips:  # right to left: grade next to the score
        x -= draw_pill(painter, style, text, colour, x, top, right_aligned=True) + 3
    return x


def accessible_text(card: LeadCard, badges: release.Badges | None) -> str:
    text = f"{card.name}, {card.company}, score {card.score}"
    if badges is not None:
        if badges.grade:
            text += f", grade {badges.grade}"
        if badges.overdue:
            text += ", follow-up overdue"
        elif badges.sales_ready:
            text += ", sales-ready"
    return text


class _SortsByScore(Protocol):
    sorted_stages: set[int]

    def set_sort_by_score(self, on: bool, stage_id: int | None = None) -> None: ...


def attach_sort_menu(board: _SortsByScore, title: QWidget, stage_id: int) -> None:
    """Right-click a column's title: sort that column by score (or back to board order)."""
    title.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    title.setToolTip("Right-click to sort this column by score")

    def show_menu(pos: QPoint) -> None:
        menu = QMenu(title)
        action = menu.addAction("Sort by &Score")
        action.setCheckable(True)
        action.setChecked(stage_id in board.sorted_stages)
        action.toggled.connect(lambda on: board.set_sort_by_score(on, stage_id))
        menu.exec(title.mapToGlobal(pos))
        menu.deleteLater()

    title.customContextMenuRequested.connect(show_menu)
