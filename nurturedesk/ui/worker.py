"""Run a blocking core call off the GUI thread and get its result back on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str) -> W:
    """Give a widget an object name (tests and style sheets find it by that name)."""
    widget.setObjectName(name)
    return widget


def list_panel(
    list_name: str,
    new_name: str,
    on_current: Callable[[QListWidgetItem | None], None],
    on_new: Callable[[], None],
) -> tuple[QListWidget, QWidget]:
    """The left side of an editor dialog: a list of items and a "New" button under it."""
    items = named(QListWidget(), list_name)
    items.currentItemChanged.connect(lambda cur, _prev: on_current(cur))
    new_button = named(QPushButton("New"), new_name)
    new_button.clicked.connect(lambda _checked=False: on_new())
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.addWidget(items)
    layout.addWidget(new_button)
    return items, box


class Background(QObject):
    """`Background(parent).run(fn, on_done, on_error)`: fn runs on a thread; the callbacks run
    on the GUI thread (the signal is queued there because this object lives in it)."""

    finished = Signal(object, object)  # (result, exception)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.busy = False
        self._callbacks: tuple[Callable[[Any], None], Callable[[BaseException], None]] | None = None
        self.finished.connect(self._deliver)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> bool:
        if self.busy:
            return False
        self.busy = True
        self._callbacks = (on_done, on_error)

        def work() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to on_error on the GUI thread
                self.finished.emit(None, exc)
            else:
                self.finished.emit(result, None)

        threading.Thread(target=work, name="nurturedesk-background", daemon=True).start()
        return True

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        self.busy = False
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is None:
            return
        if exc is None:
            callbacks[0](result)
        else:
            callbacks[1](exc)
