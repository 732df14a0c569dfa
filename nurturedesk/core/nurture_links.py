"""Where nurture mail meets scoring and release (issue 4's `interactions` and `release`).

- A lead released to sales (sales-ready) leaves its sequences inside the release transaction
  (`release.RELEASE_HOOKS`), whichever process released it, and its queued nurture mail is
  cancelled.
- What happened to the mail becomes interactions on the lead's timeline, which scoring
  weighs: email_sent, email_bounced, email_failed, email_unsubscribed. Logging them never
  stands in the way of sending: a failure there is logged and the mail stays sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nurturedesk.core import release
from nurturedesk.core.db import Workspace
from nurturedesk.core.models import Enrollment, OutboxMessage

log = logging.getLogger(__name__)

REASON = "became sales-ready"


def stop_released(session: Session, lead_ids: Sequence[int], now: datetime) -> None:
    if not lead_ids:
        return
    session.execute(
        update(Enrollment)
        .where(Enrollment.lead_id.in_(lead_ids), Enrollment.state.in_(("active", "paused")))
        .values(state="stopped", stopped_reason=REASON, next_send_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.lead_id.in_(lead_ids),
            OutboxMessage.kind == "nurture",
            OutboxMessage.state.in_(("queued", "retry")),
        )
        .values(state="cancelled", last_error=f"not sent: lead {REASON}")
        .execution_options(synchronize_session=False)
    )


def install() -> None:
    """Idempotent: register the release hook once per process."""
    if stop_released not in release.RELEASE_HOOKS:
        release.RELEASE_HOOKS.append(stop_released)


def record_outcomes(
    workspace: Workspace, sent: Sequence[int], bounced: Sequence[int], failed: Sequence[int]
) -> None:
    """Log what the outbox did as interactions, then scoring. Each message's outcome has a
    source_ref ("outbox:<id>:<kind>"), so a retried or repeated call records it once, and a
    lead deleted meanwhile does not stop the others being recorded."""
    from nurturedesk.core.interactions import EventRecord, record_events

    for kind, ids in (("email_sent", sent), ("email_bounced", bounced), ("email_failed", failed)):
        if not ids:
            continue
        try:
            with workspace.session() as session:
                rows = session.execute(
                    select(OutboxMessage.id, OutboxMessage.lead_id).where(
                        OutboxMessage.id.in_(list(ids))
                    )
                ).all()
            events = [
                EventRecord(lead_id, kind, note="nurture email", source_ref=f"outbox:{mid}:{kind}")
                for mid, lead_id in rows
                if lead_id is not None
            ]
            if events:
                record_events(workspace, events, source="outbox")
        except Exception:
            log.exception("could not log %s interactions for %d message(s)", kind, len(ids))
