"""Paints a lead card: name, company, tags, days in stage, score badge, stale marker."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from nurturedesk.ui.board.model import CardRole

CARD_HEIGHT = 84
MARGIN = 4
STALE_COLOUR = QColor("#e65100")
# Cards keep their own light look whatever the column's style: a card is a piece of paper.
CARD_COLOUR = QColor("#ffffff")
CARD_SELECTED = QColor("#e3f2fd")
BORDER = QColor("#cfd8dc")
TEXT = QColor("#263238")
MUTED = QColor("#607d8b")
CHIP = QColor("#e8eaf0")


class CardDelegate(QStyledItemDelegate):
    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(max(option.rect.width(), 200), CARD_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        card = index.data(CardRole.Card)
        if card is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette  # type: ignore[attr-defined]
        rect = QRectF(option.rect).adjusted(MARGIN, MARGIN / 2, -MARGIN, -MARGIN / 2)  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        stale = bool(index.data(CardRole.Stale))

        path = QPainterPath()
        path.addRoundedRect(rect, 6, 6)
        painter.fillPath(path, CARD_SELECTED if selected else CARD_COLOUR)
        border = STALE_COLOUR if stale else BORDER
        if selected:
            border = palette.color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(border, 2 if (selected or stale) else 1))
        painter.drawPath(path)

        # Stage colour stripe on the left edge.
        stripe = QRectF(rect.left(), rect.top() + 6, 4, rect.height() - 12)
        painter.fillRect(stripe, QColor(index.data(CardRole.StageColour) or "#607d8b"))

        text_colour = TEXT
        muted = MUTED
        left = rect.left() + 12
        right = rect.right() - 8
        font = QFont(option.font)  # type: ignore[attr-defined]

        # Score badge, top right.
        score = int(index.data(CardRole.Score) or 0)
        badge_font = QFont(font)
        badge_font.setPointSizeF(font.pointSizeF() * 0.85)
        badge_font.setBold(True)
        painter.setFont(badge_font)
        badge_text = str(score)
        fm = QFontMetrics(badge_font)
        badge_w = max(28, fm.horizontalAdvance(badge_text) + 12)
        badge = QRectF(right - badge_w, rect.top() + 8, badge_w, fm.height() + 4)
        badge_path = QPainterPath()
        badge_path.addRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.fillPath(badge_path, QColor("#1565c0") if score > 0 else QColor("#b0bec5"))
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)

        # Name and company.
        name_font = QFont(font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(text_colour)
        name_rect = QRectF(
            left, rect.top() + 6, badge.left() - left - 6, QFontMetrics(name_font).height()
        )
        name = QFontMetrics(name_font).elidedText(
            index.data(Qt.ItemDataRole.DisplayRole),
            Qt.TextElideMode.ElideRight,
            int(name_rect.width()),
        )
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name
        )

        painter.setFont(font)
        painter.setPen(muted)
        fm = QFontMetrics(font)
        company_rect = QRectF(left, name_rect.bottom() + 2, right - left, fm.height())
        company = fm.elidedText(
            index.data(CardRole.Company) or "—",
            Qt.TextElideMode.ElideRight,
            int(company_rect.width()),
        )
        painter.drawText(
            company_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, company
        )

        # Bottom row: tags as chips on the left, days in stage on the right.
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.82)
        painter.setFont(small)
        sfm = QFontMetrics(small)
        days = int(index.data(CardRole.DaysInStage) or 0)
        days_text = f"{days} d" + (" · stale" if stale else "")
        days_w = sfm.horizontalAdvance(days_text)
        bottom = rect.bottom() - 6 - sfm.height()
        painter.setPen(STALE_COLOUR if stale else muted)
        painter.drawText(
            QRectF(right - days_w, bottom, days_w, sfm.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            days_text,
        )
        x = left
        limit = right - days_w - 8
        for tag in index.data(CardRole.Tags) or []:
            w = sfm.horizontalAdvance(tag) + 10
            if x + w > limit:
                break
            chip = QRectF(x, bottom - 1, w, sfm.height() + 2)
            chip_path = QPainterPath()
            chip_path.addRoundedRect(chip, 4, 4)
            painter.fillPath(chip_path, CHIP)
            painter.setPen(text_colour)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, tag)
            x += w + 4
        painter.restore()
