"""Composition root: opens the workspace, wires services, scheduler and UI."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

from nurturedesk import __version__
from nurturedesk.core.db import Workspace, open_workspace
from nurturedesk.core.errors import DamagedWorkspaceError, UserError
from nurturedesk.core.scheduler import Scheduler
from nurturedesk.paths import APP_AUTHOR, APP_NAME, default_workspace_path

log = logging.getLogger(__name__)


SETTLE_AFTER_MS = 500


def settle_after_start() -> None:
    """What starting made (modules, Qt wrappers, the first board) lives as long as the
    window: move it out of the cyclic collector's reach. Otherwise each full collection
    walks it all again, a pause of about 60 ms with the 100,000-lead board open, landing on
    whatever the user does next (a keystroke in the search box, a drag)."""
    gc.collect()
    gc.freeze()


def workspace_is_empty(workspace: Workspace) -> bool:
    from nurturedesk.core.leads import count_by_stage

    return not count_by_stage(workspace)


class Application:
    """Owns the open workspace and everything wired to it: bridge, scheduler, main window."""

    def __init__(self) -> None:
        self.workspace: Workspace | None = None
        self.scheduler: Scheduler | None = None
        self.bridge: Any = None
        self.window: Any = None
        self.background: Any = None  # tray, close-to-tray, sender lock, backup menu
        self._settle: Any = None  # the timer that runs settle_after_start once

    def open(self, path: Path, *, demo: bool = False) -> bool:
        """Open a workspace in the window; on failure, say why and keep what was open."""
        from PySide6.QtWidgets import QMessageBox

        from nurturedesk.ui import settings as ui_settings
        from nurturedesk.ui.bridge import EventBridge
        from nurturedesk.ui.main_window import MainWindow

        try:
            workspace = open_workspace(path)
            if demo and workspace_is_empty(workspace):
                from nurturedesk.core.demo import populate_demo

                populate_demo(workspace)
        except DamagedWorkspaceError as exc:
            from nurturedesk.ui.backup_actions import offer_restore

            if offer_restore(self.window, Path(path), str(exc)):
                return self.open(path, demo=demo)
            return False
        except UserError as exc:
            QMessageBox.critical(self.window, "Cannot open workspace", str(exc))
            return False
        self.close()
        self.workspace = workspace
        self.bridge = EventBridge(workspace.events)
        self.window = MainWindow(workspace, self.bridge)
        self.window.openWorkspaceRequested.connect(self.open)
        self.window.scoring.start_notifications()  # release notices: desktop or banner
        self.scheduler = Scheduler(workspace)
        self.scheduler.start()
        if workspace.path is not None:
            ui_settings.remember_workspace(workspace.path)
        from nurturedesk.ui.background import attach

        self.background = attach(self)
        self.background.show_window_at_start()
        from PySide6.QtCore import QTimer

        # Once the board is painted; close() stops it if this workspace is gone by then.
        self._settle = QTimer(singleShot=True, interval=SETTLE_AFTER_MS)
        self._settle.timeout.connect(settle_after_start)
        self._settle.start()
        return True

    def bring_forward(self) -> None:
        """Another launch on this workspace asked for the window."""
        log.info("another launch on this workspace: bringing the window forward")
        if self.background is not None:
            self.background.show_window()

    def close(self) -> None:
        if self._settle is not None:
            self._settle.stop()
            self._settle = None
        gc.unfreeze()  # what this workspace's window leaves behind may be collected again
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.background is not None:  # after the ticks stopped: releases the sender lock
            self.background.close()
            self.background = None
        if self.window is not None:
            self.window.scoring.shutdown()
            self.window.save_geometry()
            self.window.hide()
            self.window.deleteLater()
            self.window = None
        if self.bridge is not None:
            self.bridge.detach()
            self.bridge = None
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None


def make_qapplication() -> Any:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_AUTHOR)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("nurturedesk")
    return app


def run_app(workspace_path: Path | None, demo: bool = False) -> int:
    """The GUI: opens the given workspace, else the last one used, else the default."""
    qapp = make_qapplication()
    from nurturedesk.ui import settings as ui_settings

    path = workspace_path or ui_settings.last_workspace() or default_workspace_path()
    from nurturedesk.ui import crash_dialog, single_instance

    crash_dialog.install()
    try:
        instance = single_instance.claim(path)
    except UserError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "NurtureDesk", str(exc))
        return 1
    if instance is None:
        log.info("%s is open in another NurtureDesk: brought that window forward", path)
        return 0
    app = Application()
    instance.activateRequested.connect(app.bring_forward)
    if not app.open(path, demo=demo):
        instance.release()
        return 1
    try:
        return int(qapp.exec())
    finally:
        app.close()


def selftest_report(workspace: Workspace) -> dict[str, Any]:
    """Build the main window offscreen on the workspace; report what was found."""
    make_qapplication()
    from nurturedesk.core.leads import count_by_stage
    from nurturedesk.ui.bridge import EventBridge
    from nurturedesk.ui.main_window import MainWindow

    bridge = EventBridge(workspace.events)
    window = MainWindow(workspace, bridge)
    window.show()
    report = {
        "version": __version__,
        "workspace": workspace.url,
        "stages": len(window.board.columns),
        "leads": sum(count_by_stage(workspace).values()),
        "main window": "ok",
        **environment_report(),
    }
    window.close()
    bridge.detach()
    return report


def environment_report() -> dict[str, Any]:
    """What the packaged app found around it (keyring backend, frozen or not)."""
    from nurturedesk import diagnostics

    return {
        "keyring": diagnostics.keyring_backend(),
        "frozen": diagnostics.frozen(),
        **diagnostics.qt_report(),
    }
