"""Time as the domain sees it: naive UTC datetimes, from a clock tests can control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Clock:
    """The real clock. Services ask the workspace's clock, never `datetime.now()` directly."""

    def now(self) -> datetime:
        return utcnow()


class FakeClock(Clock):
    """A clock that stands still until told to move (tests, benchmarks, demo history)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow()

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now
