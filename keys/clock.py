"""The one clock every part of the system reads: wall time in UTC, and monotonic seconds.

Nothing in the gate node or the cloud calls ``datetime.now()``, ``time.time()`` or
``time.monotonic()`` directly (DESIGN.md, "Time, in code"): each takes a ``Clock``. In
production that is ``SYSTEM``; a test passes a ``ManualClock`` set to the instant it needs and
steps it, so the suite passes at 03:00 and at 23:00 UTC alike, and a 15-second wait takes no
time at all.

The site's time zone is configuration, not clock: ``site_today(clock, tz)`` gives the site's
date for an instant. Wall time is always aware and in UTC; a naive datetime is a bug.

Never: sleep on behalf of a caller that is not waiting on purpose (``sleep`` is for loops that
poll hardware or a queue, and a ``ManualClock`` turns it into a step of time).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """What a component may ask of time."""

    def now(self) -> datetime:
        """Wall time, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes backwards. For timeouts and rates."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait (a ``ManualClock`` advances instead)."""
        ...


class SystemClock:
    """The machine's clock. The only place in the project that reads it."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


SYSTEM = SystemClock()


class ManualClock:
    """A clock a test sets and steps. Thread-safe: a service loop and a test may share it.

    ``start`` must be aware; ``monotonic`` starts at 1000.0 s so code that treats 0 as "never"
    is not fooled. ``sleep`` advances both readings by the time asked for.
    """

    def __init__(self, start: datetime, monotonic_start: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._lock = threading.Lock()
        self._wall = start.astimezone(UTC)
        self._mono = monotonic_start

    def now(self) -> datetime:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Step wall and monotonic time forward together; returns the new wall time."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("time only moves forward; use set_wall to model a clock reset")
        with self._lock:
            self._wall += step
            self._mono += step.total_seconds()
            return self._wall

    def set_wall(self, instant: datetime) -> None:
        """Set the wall clock alone (an NTP jump or a Pi booting at 1970); monotonic is kept."""
        if instant.tzinfo is None:
            raise ValueError("set_wall needs an aware datetime")
        with self._lock:
            self._wall = instant.astimezone(UTC)


class OffsetClock:
    """The system clock shifted to a chosen instant, running at real speed.

    For processes a test starts (a gate node, ``serve``) that must run in real time but on a
    chosen day and hour: the test passes ``SCENIC_CLOCK_AT`` (ISO 8601) and the process builds
    its clock with ``from_environment``. Monotonic time is the machine's.
    """

    def __init__(self, at: datetime, base: Clock = SYSTEM) -> None:
        if at.tzinfo is None:
            raise ValueError("OffsetClock needs an aware datetime")
        self._base = base
        self._offset = at.astimezone(UTC) - base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def monotonic(self) -> float:
        return self._base.monotonic()

    def sleep(self, seconds: float) -> None:
        self._base.sleep(seconds)


ENVIRONMENT_VARIABLE = "SCENIC_CLOCK_AT"


def from_environment(environ: dict[str, str] | None = None) -> Clock:
    """``SYSTEM``, or an ``OffsetClock`` at ``$SCENIC_CLOCK_AT`` (tests, demos at a set hour)."""
    import os

    value = (environ if environ is not None else os.environ).get(ENVIRONMENT_VARIABLE, "")
    if not value:
        return SYSTEM
    try:
        at = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r} is not an ISO 8601 instant") from error
    if at.tzinfo is None:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r} needs a UTC offset")
    return OffsetClock(at)


def site_today(clock: Clock, timezone: str | ZoneInfo) -> date:
    """The date at the site now: what "today" means to a visitor at the gate."""
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    return clock.now().astimezone(zone).date()
