"""One table of ticket-rule cases that the gate and the partner API must answer alike.

Each case is a ticket's terms, the entries recorded with it before, where and when it is shown,
and the reason code a gate (gate_node/decision/engine.py) and a partner
(POST /api/v1/verify, cloud/services/verification.py) must both give. tests/keys/test_rules.py
runs it through keys/rules.py; tests/cloud/api/test_verify.py through the engine and the API.

Times are site-local (Asia/Shanghai, UTC+8). ``DAY`` is the sales tests' visit day
(tests/cloud/conftest.py: a week after ``TEST_AT``), so the cloud's sold tickets fit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from keys.claims import TicketClaims
from keys.reasons import Reason

SITE_TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 8)


def local(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """A site-local wall-clock time on ``DAY`` (plus ``days``), as an aware instant."""
    day = DAY + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SITE_TZ)


@dataclass(frozen=True)
class Entry:
    """An entry recorded before the case's instant, at ``node`` (G2 is a peer gate, whose
    use reaches G1 by gossip); ``given_back`` of its passages were rolled back (EV_TIMEOUT);
    ``direction`` out is an exit, which uses no entry."""

    at: datetime
    node: str = "G1"
    given_back: int = 0
    direction: str = "in"


@dataclass(frozen=True)
class Case:
    name: str
    expected: Reason
    at: datetime
    terms: dict[str, Any] = field(default_factory=dict)  # TicketClaims fields over a day ticket
    entries: tuple[Entry, ...] = ()
    zone: int = 1  # the lane's zone, and the zone the partner names
    refunded: bool = False

    def claims(self, ticket_id: bytes) -> TicketClaims:
        base: dict[str, Any] = {
            "ticket_id": ticket_id,
            "product": 1,
            "valid_from": DAY,
            "valid_until": DAY,
        }
        return TicketClaims(**(base | self.terms))


THREE_DAYS = {"valid_from": DAY - timedelta(days=1), "valid_until": DAY + timedelta(days=1)}
SLOT_9_TO_10 = {"slot_start": 9 * 60, "slot_end": 10 * 60}  # grace 15 before, 30 after

CASES: tuple[Case, ...] = (
    Case("single entry, unused", Reason.OK, local(9)),
    Case("single entry, used", Reason.ALREADY_USED, local(9), entries=(Entry(local(8)),)),
    Case(
        "single entry, its only use rolled back (nobody came through)",
        Reason.OK,
        local(9),
        entries=(Entry(local(8), given_back=1),),
    ),
    Case(
        "single entry, only an exit recorded",
        Reason.OK,
        local(9),
        entries=(Entry(local(8), direction="out"),),
    ),
    Case("2 entries, used once", Reason.OK, local(9), {"entries": 2}, (Entry(local(8)),)),
    Case(
        "2 entries, used twice",
        Reason.ALREADY_USED,
        local(9),
        {"entries": 2},
        (Entry(local(8)), Entry(local(8, 30))),
    ),
    Case(
        "5 entries, used 4 times",
        Reason.OK,
        local(12),
        {"entries": 5},
        tuple(Entry(local(8 + n)) for n in range(4)),
    ),
    Case(
        "5 entries, used 4 times here and once at a peer gate",
        Reason.ALREADY_USED,
        local(14),
        {"entries": 5},
        (*(Entry(local(8 + n)) for n in range(4)), Entry(local(13), node="G2")),
    ),
    Case(
        "5 entries, used 5 times, one rolled back",
        Reason.OK,
        local(14),
        {"entries": 5},
        (*(Entry(local(8 + n)) for n in range(4)), Entry(local(13), given_back=1)),
    ),
    Case(
        "unlimited entries, used 5 times",
        Reason.OK,
        local(14),
        {"entries": 0},
        tuple(Entry(local(8 + n)) for n in range(5)),
    ),
    Case(
        "1 entry a day, used today",
        Reason.DAILY_LIMIT,
        local(9),
        {**THREE_DAYS, "entries": 3, "entries_per_day": 1},
        (Entry(local(8)),),
    ),
    Case(
        "1 entry a day, used late yesterday (site-local days, same UTC day)",
        Reason.OK,
        local(0, 30),
        {**THREE_DAYS, "entries": 3, "entries_per_day": 1},
        (Entry(local(23, 30, days=-1)),),
    ),
    Case(
        "2 entries a day, used twice yesterday and once today",
        Reason.OK,
        local(9),
        {**THREE_DAYS, "entries": 5, "entries_per_day": 2},
        (Entry(local(9, days=-1)), Entry(local(10, days=-1)), Entry(local(8))),
    ),
    Case(
        "3 entries in all, 1 a day, used on each of two days",
        Reason.OK,
        local(9),
        {**THREE_DAYS, "entries": 3, "entries_per_day": 1},
        (Entry(local(9, days=-1)),),
    ),
    Case(
        "3 entries in all, used up: the total refuses before the daily limit",
        Reason.ALREADY_USED,
        local(9, days=1),
        {**THREE_DAYS, "entries": 3, "entries_per_day": 1},
        (Entry(local(9, days=-1)), Entry(local(9)), Entry(local(10))),
    ),
    Case("slot 9-10, 16 min early", Reason.SLOT_NOT_STARTED, local(8, 44), SLOT_9_TO_10),
    Case("slot 9-10, 15 min early (grace)", Reason.OK, local(8, 45), SLOT_9_TO_10),
    Case("slot 9-10, 29 min late (grace)", Reason.OK, local(10, 29), SLOT_9_TO_10),
    Case("slot 9-10, 30 min late", Reason.SLOT_OVER, local(10, 30), SLOT_9_TO_10),
    Case("zones 1 and 2, shown in zone 2", Reason.OK, local(9), {"zones": (1, 2)}, zone=2),
    Case("zones 1 and 2, shown in zone 3", Reason.WRONG_ZONE, local(9), {"zones": (1, 2)}, zone=3),
    Case("every zone, shown in zone 7", Reason.OK, local(9), zone=7),
    Case("day ticket, the day after", Reason.EXPIRED, local(0, 0, days=1)),
    Case(
        "day ticket, the last second of its day", Reason.OK, local(23, 59) + timedelta(seconds=59)
    ),
    Case("day ticket, the day before", Reason.NOT_YET_VALID, local(23, 59, days=-1)),
    Case(
        "valid 09:00-12:00, at 08:59",
        Reason.NOT_YET_VALID,
        local(8, 59),
        {"valid_from": local(9), "valid_until": local(12)},
    ),
    Case(
        "valid 09:00-12:00, at 12:00",
        Reason.EXPIRED,
        local(12),
        {"valid_from": local(9), "valid_until": local(12)},
    ),
    Case(
        "expired and used: the window refuses first",
        Reason.EXPIRED,
        local(9, days=1),
        entries=(Entry(local(8)),),
    ),
    Case(
        "slot over and wrong zone: the slot refuses first",
        Reason.SLOT_OVER,
        local(11),
        {**SLOT_9_TO_10, "zones": (1,)},
        zone=2,
    ),
    Case("refunded", Reason.REVOKED, local(9), refunded=True),
    Case(
        "refunded, 5 entries, unused: revoked before anything else",
        Reason.REVOKED,
        local(9),
        {"entries": 5},
        refunded=True,
    ),
)
