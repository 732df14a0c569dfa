"""Running in the background: the tray icon, close-to-tray, pause sending, start at login,
and this process's claim on the workspace's sender lock.

`Background(app)` is created by the Application for each open workspace window and
`close()`d with it. With a system tray, closing the window hides it (said once, in a
balloon) and mail keeps going; Quit is in the tray menu and File menu. Without a tray,
closing asks: keep running minimised, or quit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QSystemTrayIcon, QWidget

from nurturedesk import autostart
from nurturedesk.core import sender_lock
from nurturedesk.core.background_status import BackgroundStatus, background_status
from nurturedesk.core.errors import UserError
from nurturedesk.paths import resource_dir
from nurturedesk.ui import settings as ui_settings

log = logging.getLogger(__name__)

STATUS_REFRESH_MS = 30_000
TOLD_ABOUT_TRAY_KEY = "background/told_about_tray"
BACKUP_AT_START_MS = 30_000
STARTUP_PROBE_ENV = "NURTUREDESK_STARTUP_PROBE"  # benchmarks/bench_startup.py


def app_icon() -> QIcon:
    icon = QIcon()
    folder = resource_dir() / "icons"
    for size in (16, 32, 48, 64, 128, 256):
        path = folder / f"nurturedesk-{size}.png"
        if path.exists():
            icon.addFile(str(path))
    return icon


def tray_available() -> bool:
    return bool(QSystemTrayIcon.isSystemTrayAvailable())


def describe_status(status: BackgroundStatus) -> list[str]:
    """The lines the tray menu and tooltip show, in words."""
    lines = []
    if status.other_sender is not None:
        lines.append(f"Mail is sent by {status.other_sender.describe()}")
    elif status.paused:
        lines.append("Sending is paused")
    if status.ready is False:
        lines.append("Sending is not set up")
    if status.next_send_at is not None:
        lines.append(f"Next send: {status.next_send_at:%a %H:%M} UTC")
    elif status.sent_today is not None:
        lines.append("Next send: nothing scheduled")
    if status.sent_today is not None:
        lines.append(f"Sent today: {status.sent_today}")
    return lines or ["Sending: not set up"]


_shown_once = False


def _mark_shown() -> None:
    global _shown_once  # only the first window of a process may start hidden
    _shown_once = True


class Background(QObject):
    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self.window: QWidget = app.window
        self.workspace = app.workspace
        self.quitting = False
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication)
        self.qapp = qapp
        qapp.setWindowIcon(app_icon())
        qapp.aboutToQuit.connect(self._on_quit)
        self.tray: QSystemTrayIcon | None = None
        # Take the sender lock now: a `run` or a second app started later is refused.
        sender_lock.set_process_kind("gui")
        sender_lock.sending_allowed(self.workspace, "gui")

        self.pause_action = QAction("&Pause Sending", self, checkable=True)
        self.pause_action.setChecked(sender_lock.sending_paused())
        self.pause_action.toggled.connect(self.set_paused)
        self.autostart_action = QAction("Start at &Login", self, checkable=True)
        self.autostart_action.setChecked(autostart.is_enabled())
        self.autostart_action.toggled.connect(self.set_autostart)
        file_menu = self.window.menu("file")  # type: ignore[attr-defined]
        quit_action = getattr(self.window, "quit_action", None)
        file_menu.insertAction(quit_action, self.pause_action)
        file_menu.insertAction(quit_action, self.autostart_action)
        file_menu.insertSeparator(quit_action)

        if tray_available():
            self._build_tray()
            qapp.setQuitOnLastWindowClosed(False)
        self.window.installEventFilter(self)
        self._timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()
        # The backup tick first fires 10 minutes in; a window opened for a few minutes a day
        # must still get its daily copy: look once shortly after start, off the GUI thread.
        QTimer.singleShot(BACKUP_AT_START_MS, self, self._backup_soon)

    def _backup_soon(self) -> None:
        scheduler = getattr(self.app, "scheduler", None)
        if scheduler is None or self.app.workspace is not self.workspace:
            return

        def work() -> None:
            with contextlib.suppress(KeyError):  # no backup tick in this build
                scheduler.run_now("daily-backup")  # logs its own failures

        threading.Thread(target=work, name="backup-at-start", daemon=True).start()

    # --- tray ----------------------------------------------------------------------------

    def _build_tray(self) -> None:
        self.tray = QSystemTrayIcon(app_icon(), self)
        menu = QMenu()
        self.status_actions = [menu.addAction("") for _ in range(3)]
        for action in self.status_actions:
            action.setEnabled(False)
        menu.addSeparator()
        menu.addAction("&Open NurtureDesk", self.show_window)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction("&Quit", self.quit)
        self.tray_menu = menu  # keep a reference: the tray does not own its menu
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(self._on_tray_activated)
        self.tray.show()

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_window()

    def refresh(self) -> None:
        try:
            # Keep trying: if the other sender stopped, this process takes over.
            sender_lock.sending_allowed(self.workspace, "gui")
            lines = describe_status(background_status(self.workspace))
        except UserError as exc:  # the disk went away: say so, try again later
            lines = [str(exc)]
        self.status_lines = lines
        if self.tray is not None:
            for action, text in zip(self.status_actions, [*lines, "", "", ""], strict=False):
                action.setText(text)
                action.setVisible(bool(text))
            self.tray.setToolTip("NurtureDesk\n" + "\n".join(lines))

    # --- window --------------------------------------------------------------------------

    def show_window_at_start(self) -> None:
        """Started at login (`--background`) with a tray: stay in the tray; else show."""
        if autostart.started_in_background() and self.tray is not None and not _shown_once:
            log.info("started in the background: the window stays hidden")
        else:
            self.window.show()
            if os.environ.get(STARTUP_PROBE_ENV):
                self._probe_until_exposed()
        _mark_shown()

    def _probe_until_exposed(self) -> None:
        """Benchmarks: print when the board is on screen (window exposed, painted), then quit."""
        handle = self.window.windowHandle()
        if handle is None or not handle.isExposed():
            QTimer.singleShot(5, self._probe_until_exposed)
            return
        self.window.repaint()  # the board painted at least once
        print(f"@@board-shown {time.time():.6f}", flush=True)
        self.quit()

    def show_window(self) -> None:
        self.window.showNormal()
        if QGuiApplication.platformName() not in ("offscreen", "minimal"):  # no raise() there
            self.window.raise_()
        self.window.activateWindow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        quitting = self.quitting or getattr(self.window, "quitting", False)
        if watched is self.window and event.type() == QEvent.Type.Close and not quitting:
            assert isinstance(event, QCloseEvent)
            return self._on_close(event)
        return False

    def _on_close(self, event: QCloseEvent) -> bool:
        if self.tray is not None:
            event.ignore()
            self.window.hide()
            settings = ui_settings.qsettings()
            if not settings.value(TOLD_ABOUT_TRAY_KEY, False, type=bool):
                settings.setValue(TOLD_ABOUT_TRAY_KEY, True)
                self.tray.showMessage(
                    "NurtureDesk is still running",
                    "Mail keeps going out on schedule. Open or quit NurtureDesk from this icon.",
                    QSystemTrayIcon.MessageIcon.Information,
                    8000,
                )
            return True
        # No tray: never vanish silently. Ask.
        box = QMessageBox(self.window)
        box.setWindowTitle("Keep sending mail?")
        box.setText(
            "Scheduled mail is only sent while NurtureDesk runs.\n"
            "Keep it running minimised, or quit?"
        )
        keep = box.addButton("Keep Running", QMessageBox.ButtonRole.AcceptRole)
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        if clicked is quit_button:
            self.quitting = True
            return False  # let the window close; the app quits
        event.ignore()
        if clicked is keep:
            self.window.showMinimized()
        return True

    # --- actions -------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        sender_lock.set_sending_paused(paused)
        if self.pause_action.isChecked() != paused:
            self.pause_action.setChecked(paused)
        self.refresh()

    def set_autostart(self, enabled: bool) -> None:
        try:
            autostart.set_enabled(enabled)
        except UserError as exc:
            QMessageBox.warning(self.window, "Start at login", str(exc))
            self.autostart_action.setChecked(autostart.is_enabled())

    def quit(self) -> None:
        self.quitting = True
        quit_window = getattr(self.window, "quit", None)
        if callable(quit_window):
            quit_window()
        else:
            self.qapp.quit()

    def _on_quit(self) -> None:
        self.quitting = True

    def close(self) -> None:
        """The window goes (workspace switch, quit): drop the tray and the sender lock."""
        self._timer.stop()
        self.window.removeEventFilter(self)
        if self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None
        sender_lock.release_all()


class Attached:
    """Everything this module and the backup menu add to one open window."""

    def __init__(self, app: Any) -> None:
        from nurturedesk.ui.backup_actions import BackupActions

        self.background = Background(app)
        self.backup_actions = BackupActions(app)

    def show_window_at_start(self) -> None:
        self.background.show_window_at_start()

    def show_window(self) -> None:
        self.background.show_window()

    def close(self) -> None:
        self.background.close()


def attach(app: Any) -> Attached:
    return Attached(app)
