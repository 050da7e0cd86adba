"""A range of site-local days asked for by staff (reports, the calendar, the audit viewer), and
the UTC instants it spans.

Never: read the clock. The site's time zone comes from the caller."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cloud.core.errors import Code, Problem

MAX_DAYS = 400  # a year and a bit: enough for any annual report, small enough to bound a query
# Days a range may name: year 1 or 9999 would overflow when turned into UTC instants.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def check_range(start: date, end: date, most: int = MAX_DAYS) -> None:
    """422 ``bad_range`` unless ``start <= end``, the range spans at most ``most`` days and
    lies within ``FIRST_DAY``..``LAST_DAY``."""
    if end < start or (end - start).days + 1 > most or start < FIRST_DAY or end > LAST_DAY:
        raise Problem(Code.BAD_RANGE, days=most)


def check_instant(when: datetime) -> None:
    """422 ``bad_range`` for an instant outside ``FIRST_DAY``..``LAST_DAY`` (a filter's)."""
    if not FIRST_DAY <= when.date() <= LAST_DAY:
        raise Problem(Code.BAD_RANGE, days=MAX_DAYS)


def instants(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of ``start`` to the start of the day after ``end``, site time, in UTC."""
    begin = datetime.combine(start, time(0), tz).astimezone(UTC)
    finish = datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(UTC)
    return begin, finish
