"""``make test-night`` really pins the machine's clock (and its zone) for the whole run."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pinned_run = pytest.mark.skipif(
    not os.environ.get("SCENIC_TEST_AT"), reason="only in a pinned run (make test-night)"
)


@pinned_run
def test_the_machine_clock_reads_the_pinned_instant_plus_the_time_run_so_far():
    from tests.pinned_clock import PINNED

    assert PINNED is not None, "SCENIC_TEST_AT is set but -p tests.pinned_clock is not"
    expected = PINNED.at + timedelta(seconds=time.monotonic() - PINNED.monotonic_at_start)
    assert abs(datetime.now(UTC) - expected) < timedelta(seconds=5)
    assert abs(time.time() - expected.timestamp()) < 5


@pinned_run
@pytest.mark.skipif(not os.environ.get("TZ"), reason="TZ not set for this run")
def test_the_machine_time_zone_stays_the_one_the_run_was_started_with():
    from tests.pinned_clock import PINNED

    assert PINNED is not None and PINNED.zone == os.environ["TZ"]
    here = datetime.now().astimezone()
    assert here.utcoffset() == datetime.now(ZoneInfo(PINNED.zone)).utcoffset()
