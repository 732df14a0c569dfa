"""Paints a lead card: name, company, tags, days in stage, score badge, stale marker."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from nurturedesk.ui.board.model import CardFace, CardRole
from nurturedesk.ui.board.painting import PillStyle, draw_line, draw_pill
from nurturedesk.ui.board.scoring import paint_markers

CARD_HEIGHT = 84
MARGIN = 4
# Cards keep their own light look whatever the column's style: a card is a piece of paper.
CARD_COLOUR = QColor("#ffffff")
CARD_SELECTED = QColor("#e3f2fd")
SELECTED_BORDER = QColor("#1e88e5")
BORDER = QColor("#cfd8dc")
STALE_COLOUR = QColor("#e65100")
TEXT = QColor("#263238")
MUTED = QColor("#607d8b")
CHIP = QColor("#e8eaf0")
NEXT_EMAIL = QColor("#00796b")
BADGE = QColor("#1565c0")
BADGE_ZERO = QColor("#b0bec5")
WHITE = QColor("#ffffff")


@dataclass
class _Fonts:
    """Fonts and metrics derived from the view's font, built once rather than per card."""

    body: QFont
    bold: QFont
    small: QFont
    badge: QFont
    body_m: QFontMetrics
    bold_m: QFontMetrics
    small_m: QFontMetrics
    badge_m: QFontMetrics
    score_pill: PillStyle
    tag_pill: PillStyle

    @classmethod
    def from_font(cls, view_font: QFont) -> _Fonts:
        font = QFont(view_font)  # a copy: the option's font belongs to Qt and dies with it
        bold = QFont(font)
        bold.setBold(True)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.82)
        badge = QFont(font)
        badge.setPointSizeF(font.pointSizeF() * 0.85)
        badge.setBold(True)
        small_m, badge_m = QFontMetrics(small), QFontMetrics(badge)
        score_h = badge_m.height() + 4
        return cls(
            font, bold, small, badge,
            QFontMetrics(font), QFontMetrics(bold), small_m, badge_m,
            PillStyle(badge, badge_m, WHITE, score_h, score_h / 2, padding=12, min_width=28),
            PillStyle(small, small_m, TEXT, small_m.height() + 2, 4, padding=10),
        )  # fmt: skip


# Per view font, shared by every column's delegate (and so are the pills they render).
_fonts_by_key: dict[str, _Fonts] = {}


class CardDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: _Fonts | None = None
        self._font_key = ""

    def _fonts_for(self, font: QFont) -> _Fonts:
        key = font.key()
        if self._fonts is None or key != self._font_key:
            if key not in _fonts_by_key:
                _fonts_by_key[key] = _Fonts.from_font(font)
            self._fonts, self._font_key = _fonts_by_key[key], key
        return self._fonts

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(max(option.rect.width(), 200), CARD_HEIGHT)  # type: ignore[attr-defined]

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        face: CardFace | None = index.data(CardRole.Face)
        if face is None:
            return
        f = self._fonts_for(option.font)  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        stale = face.stale
        rect = QRectF(option.rect).adjusted(MARGIN, MARGIN / 2, -MARGIN, -MARGIN / 2)  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        # The card, its border (blue when selected, orange when going stale) and stage stripe.
        border = SELECTED_BORDER if selected else STALE_COLOUR if stale else BORDER
        painter.setPen(QPen(border, 2 if (selected or stale) else 1))
        painter.setBrush(CARD_SELECTED if selected else CARD_COLOUR)
        painter.drawRoundedRect(rect, 6, 6)
        stripe = QRectF(rect.left(), rect.top() + 6, 4, rect.height() - 12)
        painter.fillRect(stripe, QColor(face.stage_colour or "#607d8b"))
        left, right = rect.left() + 12, rect.right() - 8

        # Score badge, top right.
        top = rect.top() + 8
        colour = BADGE if face.score else BADGE_ZERO
        badge_w = draw_pill(painter, f.score_pill, str(face.score), colour, right, top, True)

        # Grade, sales-ready and overdue markers beside the score.
        markers_left = paint_markers(painter, f.body, face.badges, right - badge_w - 4, top + 1)

        # Name, then company.
        name_rect = QRectF(left, rect.top() + 6, markers_left - left - 6, f.bold_m.height())
        painter.setFont(f.bold)
        painter.setPen(TEXT)
        elided = f.bold_m.elidedText(face.name, Qt.TextElideMode.ElideRight, int(name_rect.width()))
        draw_line(painter, f.bold_m, name_rect, elided)
        # Company, and on the right of that line the next nurture email, if one is due.
        company_rect = QRectF(left, name_rect.bottom() + 2, right - left, f.body_m.height())
        if face.next_email_label:
            painter.setFont(f.small)
            painter.setPen(NEXT_EMAIL)
            next_w = f.small_m.horizontalAdvance(face.next_email_label)
            draw_line(painter, f.small_m, company_rect, face.next_email_label, "right", next_w)
            company_rect.setRight(right - next_w - 8)
        company = f.body_m.elidedText(
            face.company or "—", Qt.TextElideMode.ElideRight, int(company_rect.width())
        )
        painter.setFont(f.body)
        painter.setPen(MUTED)
        draw_line(painter, f.body_m, company_rect, company)

        # Bottom row: days in stage (and "stale") on the right, tags as chips on the left.
        painter.setFont(f.small)
        days_text = f"{face.days_in_stage} d" + (" · stale" if stale else "")
        days_w = f.small_m.horizontalAdvance(days_text)
        line_h = f.small_m.height()
        bottom = rect.bottom() - 6 - line_h
        painter.setPen(STALE_COLOUR if stale else MUTED)
        draw_line(
            painter,
            f.small_m,
            QRectF(left, bottom, right - left, line_h),
            days_text,
            "right",
            days_w,
        )
        x, limit = left, right - days_w - 8
        dpr = painter.device().devicePixelRatioF()
        for tag in face.tags:
            chip = f.tag_pill.pixmap(tag, CHIP, dpr)
            w = chip.width() / dpr
            if x + w > limit:
                break
            painter.drawPixmap(QPointF(x, bottom - 1), chip)
            x += w + 4
        painter.restore()
