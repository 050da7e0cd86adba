"""A gate without a real-time clock never lets its time run backwards past what it has seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gate_node.clock import ClockFloor
from keys.clock import ManualClock

LATER = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_a_clock_reset_to_1970_after_a_power_cut_reads_the_floor(tmp_path):
    clock = ClockFloor(tmp_path / "floor.json", ManualClock(LATER))
    clock.now()
    clock.save()
    rebooted = ClockFloor(tmp_path / "floor.json", ManualClock(datetime(1970, 1, 1, tzinfo=UTC)))
    assert rebooted.now() == LATER


def test_signed_time_moves_the_floor_forward_only(tmp_path):
    clock = ClockFloor(tmp_path / "floor.json", ManualClock(datetime(1970, 1, 1, tzinfo=UTC)))
    clock.advance_to(LATER)
    clock.advance_to(LATER - timedelta(days=1))
    assert clock.now() == LATER
    persisted = ClockFloor(tmp_path / "floor.json", ManualClock(datetime(1970, 1, 1, tzinfo=UTC)))
    assert persisted.floor == LATER  # persisted at once


def test_a_corrupt_floor_file_is_not_fatal(tmp_path):
    (tmp_path / "floor.json").write_text("{not json")
    assert ClockFloor(tmp_path / "floor.json", ManualClock(LATER)).now() == LATER


def test_the_floor_keeps_the_system_sources_monotonic_time(tmp_path):
    system = ManualClock(datetime(1970, 1, 1, tzinfo=UTC))
    clock = ClockFloor(tmp_path / "floor.json", system)
    clock.advance_to(LATER)
    clock.sleep(15)
    assert clock.monotonic() == system.monotonic() == 1015.0
    assert clock.now() == LATER  # the wall source moved to 1970 + 15 s: still below the floor
