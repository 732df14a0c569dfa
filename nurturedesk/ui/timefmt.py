"""Short, local-time wording for when something is due (cards, tooltips)."""

from __future__ import annotations

from datetime import UTC, datetime


def local(when_utc: datetime) -> datetime:
    """A naive UTC time from the core, in the computer's own time zone."""
    return when_utc.replace(tzinfo=UTC).astimezone()


def short_due(due_utc: datetime, now_utc: datetime) -> str:
    """ "due now" when due; "Tue 09:00" within the week; "12 Mar" further out."""
    if due_utc <= now_utc:
        return "due now"
    due = local(due_utc)
    if (due_utc - now_utc).days < 6:
        return due.strftime("%a %H:%M")
    return due.strftime("%-d %b")


def long_due(due_utc: datetime) -> str:
    return local(due_utc).strftime("%a %-d %b %Y, %H:%M")
