"""The suppression list: addresses never mailed (unsubscribed, bounced, do-not-contact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurturedesk.core.db import Workspace
from nurturedesk.core.errors import NotFoundError, UserError
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
    """Allow mail to an address again. A forgotten address is refused: forgetting keeps its
    hash precisely so that the person is never mailed again (see core/privacy.py)."""
    from nurturedesk.core.privacy import is_forgotten  # privacy builds on this module

    address = email.strip()
    if is_forgotten(workspace, address):
        raise UserError(f"{address} was forgotten at the person's request; it stays blocked.")
    with workspace.session() as session:
        row = session.get(Suppression, email_key(address))
        if row is None:
            raise NotFoundError(f"{address} is not on the suppression list.")
        session.delete(row)


def is_suppressed(workspace: Workspace, email: str) -> bool:
    with workspace.session() as session:
        return session.get(Suppression, email_key(email)) is not None


def list_suppressed(workspace: Workspace) -> list[SuppressionInfo]:
    with workspace.session() as session:
        rows = session.scalars(select(Suppression).order_by(Suppression.created_at))
        return [SuppressionInfo(r.email_key, r.reason, r.detail, r.created_at) for r in rows]


def unsubscribe_by_token(workspace: Workspace, token: str) -> str | None:
    """The List-Unsubscribe token came back (a reply "unsubscribe <token>", found by inbox
    sync): suppress the lead's address and stop its sequences. Returns the address, or None
    for an unknown token."""
    from nurturedesk.core.models import Lead, UnsubscribeToken
    from nurturedesk.core.sequences import stop_enrolments_for_lead

    with workspace.session() as session:
        row = session.scalar(
            select(UnsubscribeToken).where(UnsubscribeToken.token == clean_text(token, 64))
        )
        lead = session.get(Lead, row.lead_id) if row is not None else None
        if lead is None:
            return None
        suppress_in(
            session, lead.email, "unsubscribed", "via List-Unsubscribe", workspace.clock.now()
        )
        stop_enrolments_for_lead(session, lead.id, "unsubscribed")
        lead_id, address = lead.id, lead.email
    from nurturedesk.core.interactions import record  # scoring weighs it (issue 4)

    record(workspace, lead_id, "email_unsubscribed", source="list-unsubscribe")
    return address
