"""The rules a ticket must pass at a lane, each a small pure function returning a refusal or None.

Every rule takes what it needs and nothing else (claims, the site-local instant, the lane, the
earlier uses), so each is tested alone and "as of" any instant. Times are the site's local
time: a day ticket for 24 November is valid from 00:00 to 23:59:59 in the site's zone, wherever
the gate's clock thinks UTC is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from keys.claims import TicketClaims
from keys.reasons import Reason


@dataclass(frozen=True, slots=True)
class PriorUse:
    """An earlier entry with this ticket, at this gate or a peer gate."""

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
