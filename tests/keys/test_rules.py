"""The ticket rules alone (keys/rules.py): the shared table, and what only the functions show.

The same table runs through the gate's engine and the partner API in tests/cloud/api/test_verify.py.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from keys.reasons import Reason
from keys.rules import PriorUse, SlotGrace, check_terms, check_uses
from tests.rules_table import CASES, DAY, Case, local

TICKET = bytes(range(8))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_shared_table_by_the_rules_alone(case: Case):
    claims = case.claims(TICKET)
    prior = [
        PriorUse(entry.at, entry.node, 1 - entry.given_back)
        for entry in case.entries
        if entry.given_back < 1 and entry.direction == "in"
    ]
    reason = (
        (Reason.REVOKED if case.refunded else None)
        or check_terms(claims, case.at, SlotGrace(), case.zone)
        or check_uses(claims, prior, case.at, timedelta(0))
    )
    assert (reason or Reason.OK) is case.expected


def test_a_partner_at_no_lane_is_not_refused_for_the_zone():
    claims = Case("", Reason.OK, local(9), {"zones": (1, 2)}).claims(TICKET)
    assert check_terms(claims, local(9), SlotGrace(), None) is None
    assert check_terms(claims, local(9), SlotGrace(), 3) is Reason.WRONG_ZONE


def test_a_daily_limit_counts_site_local_days_whatever_zone_the_uses_were_stored_in():
    claims = Case("", Reason.OK, local(9), {"entries": 3, "entries_per_day": 1}).claims(TICKET)
    late_yesterday = PriorUse(local(23, 30, days=-1).astimezone(UTC), "G1")
    early_today = PriorUse(local(0, 10).astimezone(UTC), "G1")
    assert late_yesterday.at.date() == early_today.at.date()  # the same UTC day
    assert check_uses(claims, [late_yesterday], local(0, 30), timedelta(0)) is None
    assert check_uses(claims, [early_today], local(0, 30), timedelta(0)) is Reason.DAILY_LIMIT


def test_entries_closer_than_the_minimum_gap_are_too_soon():
    claims = Case("", Reason.OK, local(9), {"entries": 0}).claims(TICKET)
    prior = [PriorUse(local(9), "G1")]
    assert check_uses(claims, prior, local(9, 29), timedelta(minutes=30)) is Reason.TOO_SOON
    assert check_uses(claims, prior, local(9, 30), timedelta(minutes=30)) is None


def test_slot_grace_is_the_sites_to_set():
    claims = Case("", Reason.OK, local(9), {"slot_start": 540, "slot_end": 600}).claims(TICKET)
    assert check_terms(claims, local(8, 59), SlotGrace(0, 0), 1) is Reason.SLOT_NOT_STARTED
    assert check_terms(claims, local(8, 59), SlotGrace(1, 0), 1) is None
    assert claims.valid_from == DAY
