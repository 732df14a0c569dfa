"""Plain-Python domain events: how the core tells whoever listens (the Qt bridge, the CLI,
the scheduler) what changed, after the change is committed.

Handlers run synchronously on the publishing thread; the Qt bridge re-emits them as signals
so the GUI thread does the painting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class LeadsChanged(Event):
    """Leads were added, edited, moved, deleted or restored."""

    lead_ids: tuple[int, ...] = ()
    stage_ids: tuple[int, ...] = ()  # stages whose columns changed (counts, order)
    reason: str = ""


@dataclass(frozen=True)
class StagesChanged(Event):
    """Stages were added, renamed, recoloured, reordered or deleted."""


@dataclass(frozen=True)
class SettingsChanged(Event):
    keys: tuple[str, ...] = field(default_factory=tuple)


Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Handler]] = []
        self._lock = threading.Lock()

    def subscribe(self, event_type: type[Event], handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for each published event of that type; returns unsubscribe."""
        entry = (event_type, handler)
        with self._lock:
            self._handlers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = [h for t, h in self._handlers if isinstance(event, t)]
        for handler in handlers:
            # A listener's bug must not undo a committed change or stop other listeners.
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %r", handler, event)
