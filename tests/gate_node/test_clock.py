"""A gate without a real-time clock never lets its time run backwards past what it has seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gate_node.clock import ClockFloor

LATER = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_a_clock_reset_to_1970_after_a_power_cut_reads_the_floor(tmp_path):
    system = [LATER]
    clock = ClockFloor(tmp_path / "floor.json", lambda: system[0])
    clock.now()
    clock.save()
    rebooted = ClockFloor(tmp_path / "floor.json", lambda: datetime(1970, 1, 1, tzinfo=UTC))
    assert rebooted.now() == LATER


def test_signed_time_moves_the_floor_forward_only(tmp_path):
    clock = ClockFloor(tmp_path / "floor.json", lambda: datetime(1970, 1, 1, tzinfo=UTC))
    clock.advance_to(LATER)
    clock.advance_to(LATER - timedelta(days=1))
    assert clock.now() == LATER
    assert ClockFloor(tmp_path / "floor.json").floor == LATER  # persisted at once


def test_a_corrupt_floor_file_is_not_fatal(tmp_path):
    (tmp_path / "floor.json").write_text("{not json")
    assert ClockFloor(tmp_path / "floor.json", lambda: LATER).now() == LATER
