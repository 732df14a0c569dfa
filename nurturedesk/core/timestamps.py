"""How the workspace stores a point in time: whole microseconds since 1970-01-01 UTC, an int.

SQLAlchemy's own DateTime writes SQLite a 26-character text ("2026-12-04 17:20:41.722203"),
which SQLite also tries to read as a number on every insert. An int takes 8 bytes and
no parsing; Firefox's places database stores its times the same way (PRTime). A lead row
carries four of them, so this is about a sixth of its size. The domain still sees naive
UTC datetimes (see clock.py): the conversion happens here, at the column, and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """A naive UTC datetime (or an aware one, taken to UTC) as stored."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Timestamp(TypeDecorator[datetime]):
    """A naive UTC datetime, stored as microseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return to_micros(value)
        raise TypeError(f"a timestamp must be a datetime, not {value!r}")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        bound = self.process_bind_param(value, dialect)
        return "NULL" if bound is None else str(bound)
