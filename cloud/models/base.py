"""The declarative base, with a naming convention so migrations name constraints stably."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def as_utc(when: datetime) -> datetime:
    """A time read back from an aware column: SQLite returns it naive, and every time the
    cloud stores is UTC (keys/clock.py), so naive means UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
