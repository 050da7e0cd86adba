"""A pytest plugin that pins the machine's clock for a whole run (``make test-night``).

``python -m pytest -p tests.pinned_clock`` with ``SCENIC_TEST_AT`` set: ``21:30`` means 21:30 UTC
on the current date, a full ISO 8601 instant (``2026-12-01T21:30:00+00:00``) means itself.
From the start of the run (before collection, so module-level reads are caught too) every
``datetime.now()``, ``date.today()``, ``time.time()`` and ``time.localtime()`` in this process
reads that instant and ticks on in real time (``time_machine.travel(..., tick=True)``).
``time.monotonic()`` is left alone, so timeouts and polls stay real. Processes a test starts
run on the real clock: their tests pin them with ``SCENIC_CLOCK_AT`` (keys/clock.py).

The suite never reads the machine's clock on purpose; this run proves it, at the hours when a
site in Asia/Shanghai is already on another date than UTC.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as time_of_day

import pytest

ENVIRONMENT_VARIABLE = "SCENIC_TEST_AT"


@dataclass(frozen=True)
class Pinned:
    at: datetime  # the instant the machine's clock read when the run started
    monotonic_at_start: float
    zone: str | None  # $TZ as the run was started with


PINNED: Pinned | None = None
_travel = None


def pinned_instant(value: str, real_now: datetime) -> datetime:
    """``HH:MM`` on ``real_now``'s UTC date, or a full aware ISO 8601 instant."""
    if len(value) <= 8 and ":" in value:
        return datetime.combine(real_now.date(), time_of_day.fromisoformat(value), UTC)
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise pytest.UsageError(f"{ENVIRONMENT_VARIABLE}={value!r} needs a UTC offset")
    return at.astimezone(UTC)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global PINNED, _travel
    value = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if not value:
        raise pytest.UsageError(f"-p tests.pinned_clock needs {ENVIRONMENT_VARIABLE} (e.g. 21:30)")
    import time_machine

    at = pinned_instant(value, datetime.now(UTC))
    zone = os.environ.get("TZ")
    # A timestamp, not an aware datetime: time-machine sets TZ=UTC for a UTC datetime, and the
    # run's own zone (America/Los_Angeles in make test-night) must stay what the machine has.
    _travel = time_machine.travel(at.timestamp(), tick=True)
    _travel.start()
    PINNED = Pinned(at, time.monotonic(), zone)


def pytest_report_header(config: pytest.Config) -> str:
    zone = os.environ.get("TZ", "(machine default)")
    return f"machine clock pinned to {PINNED.at.isoformat() if PINNED else '?'}, TZ={zone}"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _travel is not None:
        _travel.stop()
