"""Hooks the nurture screens into the main window: a Nurture menu and the sending status in
the status bar. `install_nurture_ui(window)` is the only line the main window needs.
(Enrolling the selected cards is the Lead menu's undoable "Enrol in Sequence…", in
data_actions.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QMenu

from nurturedesk.core.dispatch import SendingStatus, ensure_recovered, send_due, sending_status
from nurturedesk.core.events import SettingsChanged
from nurturedesk.core.outbox import OutboxChanged
from nurturedesk.ui.worker import Background

if TYPE_CHECKING:
    from nurturedesk.ui.main_window import MainWindow

STATUS_REFRESH_MS = 30_000


class SendingStatusLabel(QLabel):
    """ "Sent 12/500 in 24 h · 3 queued · next Mon 09:00 UTC" in the status bar."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.setObjectName("sendingStatus")
        self.window_ = window
        self.status: SendingStatus | None = None
        window.bridge.published.connect(self._on_event)
        self._timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def _on_event(self, event: object) -> None:
        if isinstance(event, OutboxChanged | SettingsChanged):
            self.refresh()

    def refresh(self) -> None:
        try:
            self.status = sending_status(self.window_.workspace)
        except Exception:  # the workspace is busy for a moment: next refresh will do
            return
        self.setText(self.status.text())
        self.setStyleSheet("color: #ef6c00" if self.status.uncertain else "")


class NurtureUi:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.worker = Background(window)
        self.dialogs: dict[str, Any] = {}
        ws = window.workspace
        recovered = ensure_recovered(ws, "gui")
        menu = QMenu("&Nurture", window)
        menu.setObjectName("nurtureMenu")
        window.menuBar().insertMenu(window.menu("help").menuAction(), menu)
        for text, slot in (
            ("&Outbox…", self.open_outbox),
            ("&Sequences…", self.open_sequences),
            ("&Templates…", self.open_templates),
            ("&Newsletters…", self.open_newsletters),
            ("&Content Library…", self.open_assets),
            ("Sending Settin&gs…", self.open_settings),
        ):
            menu.addAction(text).triggered.connect(lambda _c=False, s=slot: s())
        menu.addSeparator()
        self.send_now_action = menu.addAction("Send Due &Mail Now")
        self.send_now_action.triggered.connect(lambda _c=False: self.send_now())
        self.menu = menu
        self.status = SendingStatusLabel(window)
        window.statusBar().addPermanentWidget(self.status)
        if recovered or (self.status.status and self.status.status.uncertain):
            window.statusBar().showMessage(
                "Some messages may or may not have been sent before NurtureDesk stopped: "
                "check them in Nurture > Outbox.",
                30_000,
            )

    def _dialog(self, key: str, factory: Any) -> None:
        dialog = self.dialogs.get(key)
        if dialog is None:
            dialog = factory()
            self.dialogs[key] = dialog
            dialog.finished.connect(lambda _r, k=key: self.dialogs.pop(k, None))
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def open_outbox(self) -> None:
        from nurturedesk.ui.outbox_view import OutboxView

        self._dialog(
            "outbox", lambda: OutboxView(self.window.workspace, self.window.bridge, self.window)
        )

    def open_sequences(self) -> None:
        from nurturedesk.ui.sequence_editor import SequenceEditor

        self._dialog("sequences", lambda: SequenceEditor(self.window.workspace, self.window))

    def open_templates(self) -> None:
        from nurturedesk.ui.template_editor import TemplateEditor

        self._dialog("templates", lambda: TemplateEditor(self.window.workspace, self.window))

    def open_assets(self) -> None:
        from nurturedesk.ui.asset_library import AssetLibrary

        self._dialog("assets", lambda: AssetLibrary(self.window.workspace, self.window))

    def open_newsletters(self) -> None:
        from nurturedesk.ui.newsletter_dialog import NewsletterDialog

        self._dialog("newsletters", lambda: NewsletterDialog(self.window.workspace, self.window))

    def open_settings(self) -> None:
        from nurturedesk.ui.smtp_dialog import SmtpDialog

        self._dialog("settings", lambda: SmtpDialog(self.window.workspace, self.window))

    def send_now(self) -> None:
        """One dispatch pass on a worker thread; the GUI stays responsive."""
        self.send_now_action.setEnabled(False)

        def done(report: Any) -> None:
            self.send_now_action.setEnabled(True)
            self.window.statusBar().showMessage(report.summary(), 10_000)
            self.status.refresh()

        def failed(exc: BaseException) -> None:
            self.send_now_action.setEnabled(True)
            self.window.show_error(str(exc))

        self.worker.run(lambda: send_due(self.window.workspace, kind="gui"), done, failed)


def install_nurture_ui(window: MainWindow) -> NurtureUi:
    ui = NurtureUi(window)
    window.nurture = ui  # type: ignore[attr-defined]  # kept alive with the window
    return ui
