"""Cheap painting primitives for the board's cards (painted for every card on screen)."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter

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
