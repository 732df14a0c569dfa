"""Asking before an action that removes something for good: Yes or Cancel, Cancel first."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def user_confirms(parent: QWidget, title: str, text: str) -> bool:
    """True if the user chose Yes (Enter or Escape at once keep everything as it is)."""
    answer = QMessageBox.warning(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes
