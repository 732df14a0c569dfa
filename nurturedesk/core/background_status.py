"""What the tray shows about sending: next send, sent today, paused, and who sends.

The nurture engine (issue 3) owns the outbox; this reads its summary when it is part of the
build (`dispatch.sending_status`, `outbox.sent_since`) and otherwise reports "unknown"
(None), so the tray works before and after that lands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nurturedesk.core.db import Workspace
from nurturedesk.core.sender_lock import SenderHolder, current_holder, held_lock, sending_paused


@dataclass(frozen=True)
class BackgroundStatus:
    ready: bool | None  # sending is set up; None: no mail engine in this build
    next_send_at: datetime | None  # naive UTC; None: nothing scheduled (or unknown)
    sent_today: int | None  # since midnight UTC; None: unknown
    paused: bool
    this_process_sends: bool
    other_sender: SenderHolder | None  # set when another process holds the sender lock


def _engine(name: str) -> Any:
    try:
        return importlib.import_module(f"nurturedesk.core.{name}")
    except ImportError:
        return None


def background_status(workspace: Workspace) -> BackgroundStatus:
    now = workspace.clock.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    ready: bool | None = None
    next_send_at: datetime | None = None
    sent_today: int | None = None
    dispatch, outbox = _engine("dispatch"), _engine("outbox")
    if dispatch is not None and hasattr(dispatch, "sending_status"):
        summary = dispatch.sending_status(workspace)
        ready = bool(getattr(summary, "ready", True))
        next_send_at = getattr(summary, "next_send_at", None)
    if outbox is not None and hasattr(outbox, "sent_since"):
        sent_today = int(outbox.sent_since(workspace, start_of_day))
    mine = held_lock(workspace) is not None
    return BackgroundStatus(
        ready=ready,
        next_send_at=next_send_at,
        sent_today=sent_today,
        paused=sending_paused(),
        this_process_sends=mine,
        other_sender=None if mine else current_holder(workspace),
    )
