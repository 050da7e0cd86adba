"""The festival-day visitor generator looks like the day the operators describe."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from simulators.visitors import arrivals_per_hour, festival_day, peak_hours

DAY = date(2026, 2, 12)  # the lantern festival


@pytest.fixture(scope="module")
def plan():
    return festival_day(DAY, visitors=45_000, seed=7)


def test_a_festival_day_brings_forty_to_fifty_thousand_visitors(plan):
    assert 40_000 <= plan.visitors <= 50_000


def test_arrivals_peak_at_opening_and_in_the_evening(plan):
    peaks = peak_hours(plan)
    assert any(9 <= h <= 11 for h in peaks) and any(17 <= h <= 20 for h in peaks)
    hours = arrivals_per_hour(plan)
    assert hours[13] < hours[10] / 3 and hours[13] < hours[18] / 3  # the afternoon lull


def test_the_day_mixes_groups_timed_slots_and_ticket_types(plan):
    kinds = Counter(p.kind for p in plan.parties)
    assert {"day", "child", "concession", "timed", "group", "annual"} <= set(kinds)
    assert max(p.people for p in plan.parties if p.kind == "group") >= 10  # tour groups


def test_the_day_has_invalid_and_reused_codes_and_a_few_fraud_attempts(plan):
    shows = Counter(p.show for p in plan.parties)
    assert shows["invalid"] > 0 and shows["reused"] > 0
    assert 0 < shows["forged"] + shows["shared"] < len(plan.parties) / 500


def test_the_same_seed_gives_the_same_day():
    first = festival_day(DAY, visitors=2_000, seed=3)
    again = festival_day(DAY, visitors=2_000, seed=3)
    assert [(p.at, p.people, p.show) for p in first.parties] == [
        (p.at, p.people, p.show) for p in again.parties
    ]
