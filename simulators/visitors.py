"""A day of visitors shaped like a real one: the lantern festival of the source documents.

40,000-50,000 visitors a day, most buying online from a QR poster at the entrance; arrivals
peak at opening and again in the evening, when the lanterns are lit. ``festival_day`` returns
the day's *parties* (a person, a couple, a family, a tour group) in arrival order, each with
the ticket it shows and how it behaves at the gate. Deterministic for a seed; it signs
nothing: the caller issues the tickets (``Party.claims``) with its own issuer key.

The shape (fractions of the day's visitors, times site-local):

- opening rush: a peak around 10:30 (sd 45 min), 35 %;
- the evening: a peak around 18:45 (sd 60 min), 45 %, when the lanterns are lit;
- the rest spread evenly from 09:00 to 21:30, 20 %.

Mix of parties: 45 % alone, 30 % couples (two codes), 20 % families of 3-5 on one group code
(一单多人), 5 % tour groups of 10-35 on a group ticket (团体票, 批量检票). Tickets: day
tickets (adult, child, concession), 25 % timed-entry (分时票, one-hour slots) and a few annual
passes.

And what goes wrong on a real day: 0.5 % unreadable or invalid codes (a cropped screenshot, a
code from another attraction), 1 % reused codes (the same code shown again later, or at
another gate: 重复使用), and a few fraud attempts (0.05 %: a forged code, one screenshot
shared by two people arriving at two gates within minutes).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from keys.claims import PriceType, TicketClaims

OPEN = time(9, 0)
CLOSE = time(21, 30)
PEAKS = ((time(10, 30), 45.0, 0.35), (time(18, 45), 60.0, 0.45))  # (mean, sd minutes, share)
FLAT_SHARE = 0.20


@dataclass(frozen=True)
class Party:
    """Who shows one code: a person, or a group on one group code; ``show`` is what they hold
    up to the scanner. Companions without a group code are parties of one arriving together."""

    at: datetime  # arrival at the gates (site-local, aware)
    people: int
    claims: TicketClaims | None  # None for an unreadable or foreign code
    kind: str  # day, child, concession, timed, group, annual
    show: str = "ticket"  # ticket | reused | invalid | forged | shared


@dataclass
class DayPlan:
    parties: list[Party] = field(default_factory=list)

    @property
    def visitors(self) -> int:
        return sum(p.people for p in self.parties)


def _minute_of_day(moment: time) -> float:
    return moment.hour * 60 + moment.minute


def _arrival_minute(rng: random.Random) -> float:
    start, end = _minute_of_day(OPEN), _minute_of_day(CLOSE)
    pick = rng.random()
    for mean, sd, share in PEAKS:
        if pick < share:
            while True:
                minute = rng.gauss(_minute_of_day(mean), sd)
                if start <= minute < end:
                    return minute
        pick -= share
    return rng.uniform(start, end)


def _party_size(rng: random.Random) -> tuple[int, bool]:
    """(people, on one group code)."""
    pick = rng.random()
    if pick < 0.45:
        return 1, False
    if pick < 0.75:
        return 2, False
    if pick < 0.95:
        return rng.randint(3, 5), True
    return rng.randint(10, 35), True


def festival_day(
    day: date,
    visitors: int = 45_000,
    seed: int = 2026,
    timezone: str = "Asia/Shanghai",
) -> DayPlan:
    """The parties of one festival day, about ``visitors`` people, in arrival order."""
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    midnight = datetime.combine(day, time(0, 0), zone)
    plan = DayPlan()
    people = 0
    number = 0
    while people < visitors:
        number += 1
        size, group = _party_size(rng)
        size = min(size, max(1, visitors - people))
        minute = _arrival_minute(rng)
        at = midnight + timedelta(minutes=minute)
        # A group shows one code for everyone (一单多人); a couple without one shows two codes,
        # one after the other.
        for _ in range(1 if group else size):
            kind, extra = _ticket_kind(rng, size, group, minute, day)
            claims = TicketClaims(
                ticket_id=rng.getrandbits(64).to_bytes(8, "big"),
                product=1,
                valid_from=day,
                valid_until=extra.pop("valid_until", day),
                **extra,
            )
            plan.parties.append(Party(at, size if group else 1, claims, kind))
        people += size
    plan.parties.sort(key=lambda p: p.at)
    _mischief(plan, rng)
    return plan


def _ticket_kind(
    rng: random.Random, size: int, group: bool, minute: float, day: date
) -> tuple[str, dict[str, Any]]:
    if group:
        return "group", {"group_size": size, "price_type": PriceType.GROUP}
    pick = rng.random()
    if pick < 0.25:
        hour = int(minute // 60)
        return "timed", {"slot_start": hour * 60, "slot_end": hour * 60 + 60}
    if pick < 0.28:
        return "annual", {
            "valid_until": day + timedelta(days=300),
            "entries": 0,
            "entries_per_day": 2,
        }
    if pick < 0.40:
        return "child", {"price_type": PriceType.CHILD}
    if pick < 0.45:
        return "concession", {"price_type": PriceType.CONCESSION}
    return "day", {}


def _mischief(plan: DayPlan, rng: random.Random) -> None:
    """Invalid codes, reused codes and fraud, added among the honest parties."""
    honest = len(plan.parties)
    extra: list[Party] = []
    for party in plan.parties[:honest]:
        pick = rng.random()
        if pick < 0.005:
            extra.append(Party(party.at + timedelta(seconds=5), 1, None, "day", "invalid"))
        elif pick < 0.015 and party.claims is not None and party.kind != "annual":
            later = party.at + timedelta(minutes=rng.uniform(1, 90))
            extra.append(Party(later, 1, party.claims, party.kind, "reused"))
        elif pick < 0.0155:
            extra.append(Party(party.at, 1, party.claims, party.kind, "forged"))
        elif pick < 0.016 and party.people == 1:
            soon = party.at + timedelta(minutes=rng.uniform(0.5, 5))
            extra.append(Party(soon, 1, party.claims, party.kind, "shared"))
    plan.parties.extend(extra)
    plan.parties.sort(key=lambda p: p.at)


def arrivals_per_hour(plan: DayPlan) -> dict[int, int]:
    """Visitors arriving in each hour of the day (the day's shape, for a report)."""
    hours: dict[int, int] = {}
    for party in plan.parties:
        hours[party.at.hour] = hours.get(party.at.hour, 0) + party.people
    return dict(sorted(hours.items()))


def peak_hours(plan: DayPlan) -> list[int]:
    """Hours busier than both neighbours (local peaks)."""
    hours = arrivals_per_hour(plan)
    keys = sorted(hours)
    return [
        h
        for i, h in enumerate(keys)
        if hours[h] >= max(hours.get(keys[i - 1], 0) if i else 0, 0)
        and hours[h] >= (hours[keys[i + 1]] if i + 1 < len(keys) else 0)
        and hours[h] > math.ceil(plan.visitors / 24)
    ]
