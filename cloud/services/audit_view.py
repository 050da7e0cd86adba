"""Reading the audit log (审计日志): filters by who, action, object and time, for the viewer and
its CSV export, streamed.

Never: change an entry. The log is append-only: nothing in the code updates or deletes one, and
a database trigger refuses UPDATE and DELETE on ``audit_log`` (migration 0010), on SQLite and
PostgreSQL. Times given without an offset are site time; answers are in site time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import READ_ONLY
from cloud.models import AuditEntry, Site
from cloud.models.base import as_utc
from cloud.services.date_range import check_instant

COLUMNS = ("id", "at", "actor", "source", "action", "target", "detail")
PAGE = 500  # entries per JSON answer; the CSV export has no limit (it streams)
DEFAULT_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    target: str | None = None  # exact, or a prefix ending in "*" (e.g. "user:*")
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    after_id: int = 0  # paging: entries after this id


def site_zone(db: Session, site: str | None) -> ZoneInfo:
    """The named site's time zone, else the first site's (one site per cloud is usual), else
    Asia/Shanghai."""
    place = db.get(Site, site) if site else db.scalars(select(Site).order_by(Site.code)).first()
    return ZoneInfo(place.timezone if place else DEFAULT_TZ)


def local(when: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A time as given, or a naive one read as site time; in UTC, as the log stores it (SQLite
    compares the stored text, so an offset other than UTC would compare wrong)."""
    if when is None:
        return None
    check_instant(when)
    return (when if when.tzinfo is not None else when.replace(tzinfo=tz)).astimezone(UTC)


def entries(
    db: Session, filters: Filters, tz: ZoneInfo, limit: int | None
) -> Iterator[dict[str, Any]]:
    statement = select(AuditEntry).order_by(AuditEntry.id)
    if filters.actor:
        statement = statement.where(AuditEntry.actor == filters.actor)
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.target:
        if filters.target.endswith("*"):
            statement = statement.where(AuditEntry.target.startswith(filters.target[:-1]))
        else:
            statement = statement.where(AuditEntry.target == filters.target)
    if filters.since:
        statement = statement.where(AuditEntry.at >= filters.since)
    if filters.until:
        statement = statement.where(AuditEntry.at < filters.until)
    if filters.after_id:
        statement = statement.where(AuditEntry.id > filters.after_id)
    if limit is not None:
        statement = statement.limit(limit)
    result = db.execute(statement.execution_options(yield_per=2000))
    for entry in result.scalars():
        yield {
            "id": entry.id,
            "at": as_utc(entry.at).astimezone(tz).isoformat(),
            "actor": entry.actor,
            "source": entry.source,
            "action": entry.action,
            "target": entry.target,
            "detail": entry.detail,
        }


def stream(
    sessions: sessionmaker[Session], filters: Filters, tz: ZoneInfo
) -> Iterator[dict[str, Any]]:
    """Every matching entry, in a read-only transaction of its own (no write lock on SQLite)."""
    with sessions() as db:
        db.connection(execution_options={READ_ONLY: True})
        yield from entries(db, filters, tz, None)
