"""What the tray shows about sending: next send, sent today, paused, and who sends.

The nurture engine (issue 3) owns the outbox; this reads it when it is there (`outbox.
sent_since`, the enrolments' `next_send_at`) and otherwise reports "unknown" (None), so the
tray works before and after that lands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from nurturedesk.core import models
from nurturedesk.core.db import Workspace
from nurturedesk.core.sender_lock import SenderHolder, current_holder, held_lock, sending_paused


@dataclass(frozen=True)
class SendingStatus:
    next_send_at: datetime | None  # naive UTC; None: nothing scheduled (or unknown)
    sent_today: int | None  # None: the outbox is not part of this build
    paused: bool
    this_process_sends: bool
    other_sender: SenderHolder | None  # set when another process holds the sender lock


def sending_status(workspace: Workspace) -> SendingStatus:
    now = workspace.clock.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today: int | None = None
    try:
        outbox = importlib.import_module("nurturedesk.core.outbox")
        sent_today = int(outbox.sent_since(workspace, start_of_day))
    except (ImportError, AttributeError):
        pass
    next_send_at = None
    enrollment = getattr(models, "Enrollment", None)
    column = getattr(enrollment, "next_send_at", None)
    if column is not None:
        with workspace.session() as session:
            next_send_at = session.scalar(select(func.min(column)))
    mine = held_lock(workspace) is not None
    return SendingStatus(
        next_send_at=next_send_at,
        sent_today=sent_today,
        paused=sending_paused(),
        this_process_sends=mine,
        other_sender=None if mine else current_holder(workspace),
    )
