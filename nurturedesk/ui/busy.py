"""Run a core call on a worker thread while the window keeps painting.

For work that the caller must wait for (an undo command has to finish before the next one)
but that can take a second or more (undoing a 100k-row import, exporting): the call runs
on its own thread (its own database connection), a local event loop keeps the GUI alive,
and a busy dialog appears if it takes longer than a moment. Input to the window is blocked
meanwhile by the dialog's modality, so nothing else starts half-way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

T = TypeVar("T")
SHOW_AFTER_MS = 400


class _Done(QObject):
    done = Signal()


def run_busy(parent: QWidget | None, text: str, fn: Callable[[], T]) -> T:
    """fn() on a worker thread; returns its result or raises its exception, here."""
    outcome: dict[str, Any] = {}
    signal = _Done()
    loop = QEventLoop()
    signal.done.connect(loop.quit, Qt.ConnectionType.QueuedConnection)

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed back to the GUI thread below
            outcome["error"] = exc
        finally:
            signal.done.emit()

    dialog = QProgressDialog(text, "", 0, 0, parent)
    dialog.setWindowTitle("NurtureDesk")
    dialog.setCancelButton(None)  # type: ignore[arg-type]
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(SHOW_AFTER_MS)
    dialog.setValue(0)
    thread = threading.Thread(target=work, name="busy", daemon=True)
    thread.start()
    if thread.is_alive():
        loop.exec()
    thread.join()
    dialog.reset()
    dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
