"""Core events -> Qt signals, delivered on the GUI thread.

Core services publish plain-Python events on whichever thread did the work (the GUI thread,
the scheduler's, an import worker). Emitting a signal whose receivers live in the GUI thread
queues the call there, so slots never run on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from nurturedesk.core.events import Event, EventBus, LeadsChanged, SettingsChanged, StagesChanged


class EventBridge(QObject):
    published = Signal(object)  # every event, for listeners that dispatch themselves
    leadsChanged = Signal(object)  # LeadsChanged
    stagesChanged = Signal()
    settingsChanged = Signal(object)  # SettingsChanged

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(Event, self._forward)

    def _forward(self, event: Event) -> None:
        self.published.emit(event)
        if isinstance(event, LeadsChanged):
            self.leadsChanged.emit(event)
        elif isinstance(event, StagesChanged):
            self.stagesChanged.emit()
        elif isinstance(event, SettingsChanged):
            self.settingsChanged.emit(event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
