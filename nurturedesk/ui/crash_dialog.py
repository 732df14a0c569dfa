"""The crash dialog: an unexpected error (a bug) says what happened and where the log is.

Exceptions raised on worker threads reach the dialog through a queued signal, so the
dialog is always built on the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from nurturedesk.crash import install_crash_handler


class CrashReporter(QObject):
    crashed = Signal(str, str)  # traceback text (scrubbed), log path ("" if none)

    def __init__(self) -> None:
        super().__init__()
        self.crashed.connect(self.show_dialog, Qt.ConnectionType.QueuedConnection)
        self.showing = False

    def report(self, text: str, log_path: Path | None) -> None:
        self.crashed.emit(text, str(log_path) if log_path else "")

    def show_dialog(self, text: str, log_path: str) -> None:
        if self.showing:  # one dialog at a time; the rest are in the log
            return
        self.showing = True
        try:
            box = QMessageBox(QApplication.activeWindow())
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("NurtureDesk: unexpected error")
            where = f"The details are in the log:\n{log_path}" if log_path else ""
            box.setText(
                "Something went wrong inside NurtureDesk. Your saved work is safe.\n\n" + where
            )
            box.setDetailedText(text)
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            box.exec()
        finally:
            self.showing = False


_reporter: CrashReporter | None = None


def install() -> CrashReporter:
    """Route uncaught exceptions (GUI thread and workers) to the dialog; idempotent."""
    global _reporter
    if _reporter is None:
        _reporter = CrashReporter()
        install_crash_handler(_reporter.report)
    return _reporter
