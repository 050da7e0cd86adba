"""A range of site-local days asked for by staff (reports, the calendar, the audit viewer), and
the UTC instants it spans.

Never: read the clock. The site's time zone comes from the caller."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.core.errors import Code, Problem

MAX_DAYS = 400  # a year and a bit: enough for any annual report, small enough to bound a query


def check_range(start: date, end: date, most: int = MAX_DAYS) -> None:
    """422 ``bad_range`` unless ``start <= end`` and the range spans at most ``most`` days."""
    if end < start or (end - start).days + 1 > most:
        raise Problem(Code.BAD_RANGE, days=most)


def instants(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of ``start`` to the start of the day after ``end``, site time, in UTC."""
    begin = datetime.combine(start, time(0), tz).astimezone(UTC)
    finish = datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(UTC)
    return begin, finish
