"""Release notices in the GUI: a desktop notification (clicking it opens the lead), and an
in-app banner when there is no notification service. Never a crash.

The notices themselves are rows in the workspace (see core/release.py): this app claims each
waiting one exactly once, whether its own action caused it (delivered at once) or another
process did (the command line, an import, the headless run; picked up by the scheduler tick).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from nurturedesk.core import release
from nurturedesk.core.db import Workspace
from nurturedesk.notify import DesktopNotifier, NotificationUnavailable, notice_text

log = logging.getLogger(__name__)


class NoticeBanner(QFrame):
    """An in-app banner for notices that could not reach the desktop; stays until dismissed."""

    openLead = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.setStyleSheet(
            "#noticeBanner { background: #fff3e0; border: 1px solid #ef6c00; border-radius: 4px; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setObjectName("noticeText")
        self.label.setWordWrap(True)
        self.open_button = QPushButton("Open lead")
        self.open_button.setObjectName("noticeOpen")
        self.open_button.clicked.connect(self._open)
        dismiss = QPushButton("Dismiss")
        dismiss.setObjectName("noticeDismiss")
        dismiss.clicked.connect(self.dismiss)
        row.addWidget(self.label, 1)
        row.addWidget(self.open_button)
        row.addWidget(dismiss)
        self.notices: list[release.Notice] = []
        self.hide()

    def add(self, notices: Sequence[release.Notice]) -> None:
        self.notices.extend(notices)
        summary, body = notice_text(self.notices)
        text = summary if len(self.notices) == 1 else f"{summary}: {body.replace(chr(10), '; ')}"
        self.label.setText(text)
        self.open_button.setVisible(len({n.lead_id for n in self.notices}) == 1)
        self.show()

    def _open(self) -> None:
        if self.notices:
            self.openLead.emit(self.notices[-1].lead_id)
        self.dismiss()

    def dismiss(self) -> None:
        self.notices = []
        self.hide()


class ReleaseNotifier(QObject):
    """The GUI's notice sink. `deliver` runs on any thread; Qt signals bring the results
    (a click, a fallback) to the GUI thread."""

    openLead = Signal(int)  # a notification was clicked
    fallback = Signal(object)  # list[Notice] that could not reach the desktop

    def __init__(
        self, workspace: Workspace, notifier: DesktopNotifier | None = None, parent: Any = None
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.notifier = notifier or DesktopNotifier()
        self.notifier.on_action = self._clicked
        self._lead_for: dict[int, int] = {}  # notification id -> lead id
        self._lock = threading.Lock()
        self._previous_sink: release.NoticeSink | None = None
        self._active = False
        self._unsubscribe: Any = None

    def start(self) -> None:
        """Become this process's notice sink and deliver what already waits."""
        if self._active:
            return
        self._active = True
        self._previous_sink = release.set_notice_sink(self.deliver)
        self._unsubscribe = self.workspace.events.subscribe(
            release.NoticesRecorded, lambda _e: self.deliver_soon()
        )
        self.deliver_soon()

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        if self._unsubscribe is not None:
            self._unsubscribe()
        release.set_notice_sink(self._previous_sink)
        self.notifier.close()

    def deliver_soon(self) -> None:
        """Claim and show waiting notices off the GUI thread (D-Bus may be slow)."""
        threading.Thread(target=self.deliver_now, name="release-notices", daemon=True).start()

    def deliver_now(self) -> list[release.Notice]:
        with self._lock:  # one delivery at a time in this process; claims are atomic anyway
            try:
                return release.deliver_pending(self.workspace, self.deliver)
            except Exception:
                log.exception("delivering release notices failed")
                return []

    def deliver(self, notices: Sequence[release.Notice]) -> str:
        summary, body = notice_text(notices)
        try:
            notification_id = self.notifier.notify(summary, body)
        except NotificationUnavailable as exc:
            log.info("no desktop notification (%s); showing a banner", exc)
            self.fallback.emit(list(notices))
            return "banner"
        self._lead_for[notification_id] = notices[-1].lead_id
        return "desktop"

    def _clicked(self, notification_id: int, _action: str) -> None:
        lead_id = self._lead_for.get(notification_id)
        if lead_id is not None:
            self.openLead.emit(lead_id)  # queued to the GUI thread
