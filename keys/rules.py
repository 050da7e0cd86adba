"""Ticket rules for one entry, each a small pure function returning a refusal or None.

One place for them: the gate's engine (gate_node/decision/engine.py) decides at a lane with
these, and the cloud's partner verification (cloud/services/verification.py) answers with the
same functions, so a partner and a gate never disagree about a 5-entry or daily-limited ticket.
They never read a clock, a database or a file: the caller brings the site-local instant and the
earlier uses (the gate from its ledger, the cloud from the gates' reported use events).

Every rule takes what it needs and nothing else (claims, the site-local instant, the lane, the
earlier uses), so each is tested alone and "as of" any instant. Times are the site's local
time: a day ticket for 24 November is valid from 00:00 to 23:59:59 in the site's zone, wherever
the gate's clock thinks UTC is.

Order (cheapest and most fundamental first; the first refusal is the answer): validity window
-> time slot -> zone (``check_terms``), then earlier uses (``check_uses``). Revocation comes
before all of them, from whichever list the caller holds (the gate's signed revocation list,
the cloud's ticket status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from keys.claims import TicketClaims
from keys.reasons import Reason


@dataclass(frozen=True, slots=True)
class PriorUse:
    """An earlier entry (direction in) with this ticket, at this gate or a peer gate.

    Only entries that still count: one whose passages were all given back (nobody came
    through, EV_TIMEOUT) is no prior use. ``passages`` is what is left of its group.
    """

    at: datetime  # aware
    node: str
    passages: int = 1


@dataclass(frozen=True, slots=True)
class SlotGrace:
    """Minutes a timed-entry visitor may come before the slot starts and after it ends."""

    before: int = 15
    after: int = 30


def check_validity(claims: TicketClaims, local_now: datetime) -> Reason | None:
    """The validity window: days in the site's calendar, or exact instants."""
    if isinstance(claims.valid_from, datetime) and isinstance(claims.valid_until, datetime):
        if local_now < claims.valid_from:
            return Reason.NOT_YET_VALID
        if local_now >= claims.valid_until:
            return Reason.EXPIRED
        return None
    today = local_now.date()
    assert isinstance(claims.valid_from, date) and isinstance(claims.valid_until, date)
    if today < claims.valid_from:
        return Reason.NOT_YET_VALID
    if today > claims.valid_until:
        return Reason.EXPIRED
    return None


def check_slot(claims: TicketClaims, local_now: datetime, grace: SlotGrace) -> Reason | None:
    """分时票: the entry slot, with grace before and after, in site-local minutes of the day."""
    if claims.slot_start is None or claims.slot_end is None:
        return None
    minute = local_now.hour * 60 + local_now.minute
    if minute < claims.slot_start - grace.before:
        return Reason.SLOT_NOT_STARTED
    if minute >= claims.slot_end + grace.after:
        return Reason.SLOT_OVER
    return None


def check_zone(claims: TicketClaims, zone: int) -> Reason | None:
    """A ticket with zones is valid only in those; one without is valid in every zone."""
    if claims.zones is not None and zone not in claims.zones:
        return Reason.WRONG_ZONE
    return None


def check_terms(
    claims: TicketClaims, local_now: datetime, grace: SlotGrace, zone: int | None
) -> Reason | None:
    """The ticket's own terms as of ``local_now``: validity window, then slot, then zone.

    ``zone`` is the lane's zone; None when the asker stands at no lane (a partner's parking
    or hotel desk), and then the zone is not checked.
    """
    return (
        check_validity(claims, local_now)
        or check_slot(claims, local_now, grace)
        or (check_zone(claims, zone) if zone is not None else None)
    )


def check_uses(
    claims: TicketClaims,
    prior: Sequence[PriorUse],
    local_now: datetime,
    min_gap: timedelta,
) -> Reason | None:
    """一票一码: entries in total, entries per site-local day, and the gap between entries."""
    if not claims.unlimited and len(prior) >= claims.entries:
        return Reason.ALREADY_USED
    if claims.entries_per_day is not None:
        today = local_now.date()
        tz = local_now.tzinfo
        used_today = sum(1 for use in prior if use.at.astimezone(tz).date() == today)
        if used_today >= claims.entries_per_day:
            return Reason.DAILY_LIMIT
    if min_gap and prior:
        latest = max(use.at for use in prior)
        if local_now - latest < min_gap:
            return Reason.TOO_SOON
    return None
