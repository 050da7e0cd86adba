"""The node's notion of now: the system clock, never earlier than a persisted floor.

A Raspberry Pi has no real-time clock: after a power cut it boots at its last NTP-synced time or
at 1970, and offline it has no way to know better. So the node keeps a floor (``ClockFloor``):
the latest instant it has good reason to believe has passed (its own last decision, a signed
time from the cloud). ``now()`` is the later of the system clock and the floor, so a gate that
boots offline does not refuse every ticket as "not yet valid", and a clock set backwards cannot
make an expired ticket valid again. The floor is raised as time passes and saved at most once a
minute (``SAVE_EVERY``): an SD card does not need a write per scan.

A ``ClockFloor`` is itself a ``keys.clock.Clock``: its wall time is floored, its monotonic time
and sleep are the system source's, so the node service takes one clock for both.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from keys.clock import SYSTEM, Clock

SAVE_EVERY = timedelta(minutes=1)


class ClockFloor:
    """``system`` is the clock to floor (default ``SYSTEM``; a test passes a ``ManualClock``)."""

    def __init__(self, path: Path, system: Clock = SYSTEM) -> None:
        self._path = path
        self._system = system
        self._floor = self._load()
        self._saved = self._floor

    @property
    def floor(self) -> datetime:
        return self._floor

    def now(self) -> datetime:
        """The later of the system clock and the floor; raises the floor to it."""
        current = max(self._system.now(), self._floor)
        self._raise(current)
        return current

    def monotonic(self) -> float:
        """The system source's monotonic seconds (a floor means nothing for intervals)."""
        return self._system.monotonic()

    def sleep(self, seconds: float) -> None:
        self._system.sleep(seconds)

    def advance_to(self, trusted: datetime) -> None:
        """Move the floor up to a trusted instant (signed cloud time); never down."""
        self._raise(trusted)
        self.save()

    def save(self) -> None:
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"floor": self._floor.isoformat()}))
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        temporary.replace(self._path)
        self._saved = self._floor

    def _raise(self, instant: datetime) -> None:
        if instant > self._floor:
            self._floor = instant
            if self._floor - self._saved >= SAVE_EVERY:
                self.save()

    def _load(self) -> datetime:
        try:
            value = json.loads(self._path.read_text())["floor"]
            floor = datetime.fromisoformat(value)
        except (OSError, ValueError, KeyError, TypeError):
            return datetime(2000, 1, 1, tzinfo=UTC)  # no floor yet: nothing to hold time up
        return floor if floor.tzinfo else floor.replace(tzinfo=UTC)
