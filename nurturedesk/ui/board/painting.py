"""Cheap painting primitives for the board's cards (painted for every card on screen)."""

from __future__ import annotations

import math
from typing import Literal

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPixmap

Align = Literal["left", "right", "center"]  # plain strings: Qt's flag enums cost µs per test
NO_PEN = Qt.PenStyle.NoPen


def draw_line(
    painter: QPainter,
    metrics: QFontMetrics,
    rect: QRectF,
    text: str,
    align: Align = "left",
    width: float | None = None,
) -> None:
    """One line of text in `rect`, vertically centred, as drawText(rect, flags, text) draws
    it, but at a baseline point: the rectangle form lays the text out first, which made it
    the most expensive call on a card (15 µs each, six per card). `width`: the text's
    advance, when the caller measured it already."""
    if align == "left":
        x = rect.left()
    else:
        if width is None:
            width = metrics.horizontalAdvance(text)
        x = rect.right() - width if align == "right" else rect.center().x() - width / 2
    y = rect.top() + (rect.height() - metrics.height()) / 2 + metrics.ascent()
    painter.drawText(QPointF(x, y), text)


def fill_pill(painter: QPainter, rect: QRectF, radius: float, colour: QColor) -> None:
    """A filled rounded rectangle with no outline (badges, chips)."""
    painter.setPen(NO_PEN)
    painter.setBrush(colour)
    painter.drawRoundedRect(rect, radius, radius)


class PillStyle:
    """One look of pill (score badge, grade and hand-off markers, tag chips): a rounded
    rectangle with centred text. Each text and colour is rendered once and then only blitted:
    a card shows four or five pills, and drawing one afresh was an antialiased fill, a text
    draw and three state changes."""

    LIMIT = 512  # looks kept per style (tags and scores are a small vocabulary; ~4 KB each)

    def __init__(
        self,
        font: QFont,
        metrics: QFontMetrics,
        ink: QColor,
        height: float,
        radius: float,
        padding: float,
        min_width: float = 0,
    ) -> None:
        self.font, self.metrics, self.ink = font, metrics, ink
        self.height, self.radius, self.padding, self.min_width = height, radius, padding, min_width
        self._pixmaps: dict[tuple[str, int, float], QPixmap] = {}

    def pixmap(self, text: str, fill: QColor, device_pixel_ratio: float) -> QPixmap:
        key = (text, fill.rgba(), device_pixel_ratio)
        cached = self._pixmaps.get(key)
        if cached is None:
            if len(self._pixmaps) >= self.LIMIT:
                self._pixmaps.clear()
            cached = self._pixmaps[key] = self._render(text, fill, device_pixel_ratio)
        return cached

    def _render(self, text: str, fill: QColor, device_pixel_ratio: float) -> QPixmap:
        width = max(self.min_width, self.metrics.horizontalAdvance(text) + self.padding)
        pixmap = QPixmap(
            math.ceil(width * device_pixel_ratio), math.ceil(self.height * device_pixel_ratio)
        )
        pixmap.setDevicePixelRatio(device_pixel_ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        rect = QRectF(0, 0, width, self.height)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill_pill(painter, rect, self.radius, fill)
        painter.setFont(self.font)
        painter.setPen(self.ink)
        draw_line(painter, self.metrics, rect, text, "center")
        painter.end()
        return pixmap


def draw_pill(
    painter: QPainter,
    style: PillStyle,
    text: str,
    fill: QColor,
    x: float,
    y: float,
    right_aligned: bool = False,
) -> float:
    """Blit the pill at (x, y), or ending at x when right-aligned; returns its width."""
    pixmap = style.pixmap(text, fill, painter.device().devicePixelRatioF())
    width = pixmap.width() / pixmap.devicePixelRatio()
    painter.drawPixmap(QPointF(x - width if right_aligned else x, y), pixmap)
    return width
