"""Deciding at a lane, offline: each rule a visitor would notice, asserted by its reason code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gate_node.decision.engine import Engine, LaneContext, SiteRules
from gate_node.ledger import Ledger, Use
from keys.claims import TicketClaims
from keys.reasons import Reason
from keys.revocation import RevocationList, sign_revocations
from keys.rules import SlotGrace
from keys.signed_document import verify_document
from keys.ticket import issue_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 24)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A site-local wall-clock time as an aware instant."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def ledger(tmp_path):
    book = Ledger(tmp_path / "ledger.sqlite", node="G1")
    yield book
    book.close()


@pytest.fixture
def engine(keyring, ledger):
    return Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(timezone=SHANGHAI),
        LaneContext(node="G1", zone=1),
    )


def ticket(issuer, **claims):
    base = {
        "ticket_id": bytes.fromhex("00112233445566"),
        "product": 1,
        "valid_from": DAY,
        "valid_until": DAY,
    }
    base.update(claims)
    return issue_ticket(issuer, TicketClaims(**base))


def test_a_valid_day_ticket_is_admitted_once(engine, issuer_key):
    text = ticket(issuer_key)
    first = engine.decide(text, at(9))
    assert first.grant and first.passages == 1
    engine.admit(first, at(9))
    second = engine.decide(text, at(9, 5))
    assert second.reason is Reason.ALREADY_USED


def test_already_used_names_the_time_and_gate_of_the_earlier_use(engine, issuer_key):
    text = ticket(issuer_key)
    engine.admit(engine.decide(text, at(9, 12)), at(9, 12))
    zh, en = engine.decide(text, at(10)).message(SHANGHAI)
    assert "09:12" in en and "G1" in en and "09:12" in zh


def test_a_single_entry_ticket_used_at_a_peer_gate_is_denied(engine, issuer_key, ledger):
    text = ticket(issuer_key)
    ledger.merge_peer_use(Use("G2", 7, bytes.fromhex("00112233445566"), at(8, 30), "in", 1, 1, 0))
    decision = engine.decide(text, at(9))
    assert decision.reason is Reason.ALREADY_USED and decision.earlier.node == "G2"


def test_a_rolled_back_use_does_not_count(engine, issuer_key, ledger):
    text = ticket(issuer_key)
    seq = engine.admit(engine.decide(text, at(9)), at(9))
    ledger.roll_back(seq, unused=1)  # nobody pushed the arm
    assert engine.decide(text, at(9, 1)).grant


def test_day_validity_follows_the_site_calendar_not_utc(engine, issuer_key):
    text = ticket(issuer_key)
    # 23 Nov 16:30 UTC is already 24 Nov 00:30 in Shanghai: valid.
    assert engine.decide(text, datetime(2026, 11, 23, 16, 30, tzinfo=UTC)).grant
    assert engine.decide(text, at(23, 59)).grant
    assert engine.decide(text, at(0, 0, DAY + timedelta(days=1))).reason is Reason.EXPIRED
    assert engine.decide(text, at(23, 59, DAY - timedelta(days=1))).reason is Reason.NOT_YET_VALID


def test_instant_validity_is_exact(engine, issuer_key):
    text = ticket(issuer_key, valid_from=at(19), valid_until=at(22))
    assert engine.decide(text, at(18, 59)).reason is Reason.NOT_YET_VALID
    assert engine.decide(text, at(19)).grant
    assert engine.decide(text, at(22)).reason is Reason.EXPIRED


def test_timed_entry_slot_with_grace(engine, issuer_key):
    text = ticket(issuer_key, slot_start=9 * 60, slot_end=10 * 60)
    assert engine.decide(text, at(8, 44)).reason is Reason.SLOT_NOT_STARTED
    assert engine.decide(text, at(8, 45)).grant  # 15 minutes early is fine
    assert engine.decide(text, at(10, 29)).grant  # 30 minutes late is fine
    assert engine.decide(text, at(10, 30)).reason is Reason.SLOT_OVER


def test_slot_grace_comes_from_site_rules(keyring, ledger, issuer_key):
    strict = Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(timezone=SHANGHAI, slot_grace=SlotGrace(0, 0)),
        LaneContext("G1", 1),
    )
    text = ticket(issuer_key, slot_start=9 * 60, slot_end=10 * 60)
    assert strict.decide(text, at(8, 59)).reason is Reason.SLOT_NOT_STARTED
    assert strict.decide(text, at(10, 0)).reason is Reason.SLOT_OVER


def test_a_ticket_for_other_zones_is_refused_here(engine, issuer_key):
    assert engine.decide(ticket(issuer_key, zones=(2, 3)), at(9)).reason is Reason.WRONG_ZONE
    assert engine.decide(ticket(issuer_key, zones=(1, 3)), at(9)).grant


def test_a_revoked_ticket_is_refused_offline(engine, issuer_key, root_key):
    revoked = RevocationList()
    revoked.apply(
        verify_document(
            sign_revocations(
                root_key,
                site="S1",
                seq=1,
                kind="snapshot",
                revoked={bytes.fromhex("00112233445566"): DAY},
            ),
            root_key.public_key,
            doc_type="revocations",
            site="S1",
        )
    )
    engine.revocations = revoked
    assert engine.decide(ticket(issuer_key), at(9)).reason is Reason.REVOKED


def test_a_group_ticket_lets_the_whole_group_pass_on_one_scan(engine, issuer_key):
    decision = engine.decide(ticket(issuer_key, group_size=25), at(9))
    assert decision.grant and decision.passages == 25


def test_a_multi_entry_ticket_counts_down(engine, issuer_key):
    text = ticket(issuer_key, entries=2)
    for minute in (0, 30):
        engine.admit(engine.decide(text, at(9, minute)), at(9, minute))
    assert engine.decide(text, at(10)).reason is Reason.ALREADY_USED


def test_annual_pass_per_day_limit_resets_at_site_midnight(engine, issuer_key):
    text = ticket(issuer_key, valid_until=date(2027, 11, 23), entries=0, entries_per_day=1)
    engine.admit(engine.decide(text, at(9)), at(9))
    assert engine.decide(text, at(15)).reason is Reason.DAILY_LIMIT
    tomorrow = at(0, 5, DAY + timedelta(days=1))
    assert engine.decide(text, tomorrow).grant


def test_minimum_gap_between_entries(keyring, ledger, issuer_key):
    gap = Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(timezone=SHANGHAI, min_gap=timedelta(minutes=30)),
        LaneContext("G1", 1),
    )
    text = ticket(issuer_key, entries=0)
    gap.admit(gap.decide(text, at(9)), at(9))
    assert gap.decide(text, at(9, 10)).reason is Reason.TOO_SOON
    assert gap.decide(text, at(9, 30)).grant


def test_exit_needs_an_entry_when_the_site_says_so(keyring, ledger, issuer_key):
    exit_lane = Engine(
        keyring,
        RevocationList(),
        ledger,
        SiteRules(timezone=SHANGHAI, exit_requires_entry=True),
        LaneContext("G9", 1, direction="out"),
    )
    text = ticket(issuer_key)
    assert exit_lane.decide(text, at(9)).reason is Reason.NOT_INSIDE
    ledger.record_use(bytes.fromhex("00112233445566"), at(8), "in", 1)
    assert exit_lane.decide(text, at(17)).grant


def test_forged_and_garbage_codes_are_refused_with_their_envelope_reason(engine):
    assert engine.decide("hello", at(9)).reason is Reason.BAD_PREFIX
    assert engine.decide("J1QQQ", at(9)).reason is Reason.TRUNCATED
    assert engine.decide("J1$$$", at(9)).reason is Reason.NOT_BASE45


def test_only_a_grant_can_be_admitted(engine):
    with pytest.raises(ValueError):
        engine.admit(engine.decide("hello", at(9)), at(9))


def test_refusals_are_recorded_with_their_reason(engine, ledger):
    engine.refuse(engine.decide("hello", at(9)), at(9))
    assert ledger.counts()["denials"] == 1
