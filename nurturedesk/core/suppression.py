"""The suppression list: addresses never mailed (unsubscribed, bounced, do-not-contact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurturedesk.core.db import Workspace
from nurturedesk.core.models import Suppression
from nurturedesk.core.validation import clean_text, email_key

REASONS = ("unsubscribed", "bounced", "do-not-contact")


@dataclass(frozen=True)
class SuppressionInfo:
    email: str
    reason: str
    detail: str
    created_at: datetime


def suppress_in(session: Session, email: str, reason: str, detail: str, now: datetime) -> None:
    """Add (or keep) an address on the list inside an existing unit of work."""
    if reason not in REASONS:
        raise ValueError(reason)
    key = email_key(email)
    if session.get(Suppression, key) is None:
        session.add(
            Suppression(
                email_key=key, reason=reason, detail=clean_text(detail, 500), created_at=now
            )
        )


def suppress(workspace: Workspace, email: str, reason: str, detail: str = "") -> None:
    with workspace.session() as session:
        suppress_in(session, email, reason, detail, workspace.clock.now())


def unsuppress(workspace: Workspace, email: str) -> None:
    with workspace.session() as session:
        row = session.get(Suppression, email_key(email))
        if row is not None:
            session.delete(row)


def is_suppressed(workspace: Workspace, email: str) -> bool:
    with workspace.session() as session:
        return session.get(Suppression, email_key(email)) is not None


def list_suppressed(workspace: Workspace) -> list[SuppressionInfo]:
    with workspace.session() as session:
        rows = session.scalars(select(Suppression).order_by(Suppression.created_at))
        return [SuppressionInfo(r.email_key, r.reason, r.detail, r.created_at) for r in rows]
