"""File > Back Up Workspace… / Restore From Backup…, and the offer to restore a damaged
workspace at start-up. The work is done by `nurturedesk.core.backups`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from nurturedesk.core import backups, sender_lock
from nurturedesk.core.errors import UserError


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BackupActions(QObject):
    """Adds the two menu items to the window's File menu; restore goes through the app."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        window = app.window
        self.backup_action = QAction("&Back Up Workspace…", self)
        self.backup_action.triggered.connect(self.back_up)
        self.restore_action = QAction("&Restore From Backup…", self)
        self.restore_action.triggered.connect(self.choose_restore)
        file_menu = window.menu("file")
        before = getattr(window, "quit_action", None)
        file_menu.insertAction(before, self.backup_action)
        file_menu.insertAction(before, self.restore_action)

    def back_up(self) -> None:
        ws, window = self.app.workspace, self.app.window
        if ws is None or ws.path is None:
            return
        suggested = Path.home() / f"{ws.path.stem}-{_now():%Y%m%d-%H%M}.sqlite"
        path, _ = QFileDialog.getSaveFileName(
            window, "Back up workspace", str(suggested), "Workspaces (*.sqlite)"
        )
        if not path:
            return
        try:
            info = backups.backup_to(ws, Path(path), overwrite=True)  # the dialog asked
        except UserError as exc:
            QMessageBox.warning(window, "Back up workspace", str(exc))
            return
        window.statusBar().showMessage(f"Backed up to {info.path}", 10_000)

    def choose_restore(self) -> None:
        ws, window = self.app.workspace, self.app.window
        if ws is None or ws.path is None:
            return
        start = backups.backups_dir(ws.path)
        path, _ = QFileDialog.getOpenFileName(
            window,
            "Restore from backup",
            str(start if start.exists() else Path.home()),
            "Workspaces (*.sqlite *.db);;All files (*)",
        )
        if not path:
            return
        answer = QMessageBox.question(
            window,
            "Restore from backup",
            f"Replace {ws.path.name} with the backup {Path(path).name}?\n"
            "Changes made since that backup will be gone from the workspace; the workspace "
            "as it is now is kept aside in the same folder.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            workspace_path = ws.path
            # Leave this slot first: restoring closes (and so deletes) this window.
            QTimer.singleShot(0, lambda: restore_and_reopen(self.app, Path(path), workspace_path))


def restore_and_reopen(app: Any, backup: Path, workspace_path: Path) -> bool:
    """Close the workspace, restore it from `backup`, open it again."""
    parent: QWidget | None = app.window
    app.close()
    try:
        with sender_lock.hold_sender_lock(_Where(workspace_path), "restore"):
            result = backups.restore_from(backup, workspace_path, now=_now())
    except UserError as exc:
        QMessageBox.warning(parent, "Restore from backup", str(exc))
        app.open(workspace_path)
        return False
    opened = bool(app.open(workspace_path))
    if result.held_mail:
        QMessageBox.warning(app.window, "Restore from backup", result.held_mail_advice())
    if opened and result.previous_kept_at is not None:
        app.window.statusBar().showMessage(
            f"Restored from {backup.name}; the previous workspace is kept at "
            f"{result.previous_kept_at}. {result.forgotten_advice()}".strip(),
            20_000,
        )
    return opened


def offer_restore(parent: QWidget | None, workspace_path: Path, problem: str) -> bool:
    """The workspace failed its integrity check at start-up: offer the newest good backup.
    True if it was restored (open it again)."""
    good = backups.newest_good_backup(workspace_path)
    if good is None:
        QMessageBox.critical(
            parent,
            "Workspace damaged",
            f"{problem}\n\nNo good automatic backup was found in "
            f"{backups.backups_dir(workspace_path)}.",
        )
        return False
    answer = QMessageBox.question(
        parent,
        "Workspace damaged",
        f"{problem}\n\nRestore the newest good backup, from "
        f"{good.taken_at:%Y-%m-%d %H:%M} UTC? The damaged file is kept aside.",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False
    try:
        with sender_lock.hold_sender_lock(_Where(workspace_path), "restore"):
            result = backups.restore_from(good.path, workspace_path, now=_now())
    except UserError as exc:
        QMessageBox.critical(parent, "Restore failed", str(exc))
        return False
    if result.held_mail:
        QMessageBox.warning(parent, "Workspace restored", result.held_mail_advice())
    return True


class _Where:
    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        self.url = f"sqlite:///{self.path}"
