"""Catalogue input checked against what a signed ticket can say, when it is entered, so that
paying for it can never fail on a product or a day no ticket can carry.

Never: hold a rule of its own about claims. The limits are keys/claims.py's (zone ids, entries,
the 2000-2099 day range); this module builds the claims a ticket would get and lets that module
refuse them. What it adds is the sales horizon: places are sold at most ``HORIZON`` ahead of
today (and never before 2000), so a year-1 or 9999-12-31 day, or a typo in the year, is refused.
"""

from __future__ import annotations

from datetime import date, timedelta

from cloud.core.errors import Code, Problem
from keys.claims import DAY_MAX, DAY_MIN, ClaimError, TicketClaims

HORIZON = timedelta(days=3 * 366)  # three years of advance sales: annual passes, next season
_PROBE_ID = bytes(8)  # a ticket id of the real length; the probe is never signed


def check_product(
    validity_days: int, entries: int, entries_per_day: int | None, zones: list[int] | None
) -> None:
    """422 ``product_not_issuable`` if no ticket could carry this product's rules."""
    try:
        _probe(DAY_MIN, validity_days, entries, entries_per_day, zones)
    except (ClaimError, OverflowError) as exc:
        raise Problem(Code.PRODUCT_NOT_ISSUABLE, reason=str(exc)) from None


def check_inventory_day(day: date, validity_days: int, today: date) -> None:
    """422 ``bad_inventory_day`` unless ``day`` is within the sales horizon and a ticket
    from it (``validity_days`` long) ends within the days a ticket can name."""
    if not DAY_MIN <= day <= today + HORIZON:
        raise Problem(Code.BAD_INVENTORY_DAY, first=f"{DAY_MIN}", last=f"{today + HORIZON}")
    try:
        _probe(day, validity_days, 1, None, None)
    except (ClaimError, OverflowError):
        raise Problem(Code.BAD_INVENTORY_DAY, first=f"{DAY_MIN}", last=f"{DAY_MAX}") from None


def check_slot_fits_product(kind: str, has_slot: bool) -> None:
    """422 ``slot_mismatch``: only a timed-entry product (分时票) sells places per time slot.
    (A timed product may also have a row without a slot: the day's total, taken together
    with the slot's place, services/inventory.py.)"""
    if kind != "timed" and has_slot:
        raise Problem(Code.SLOT_MISMATCH, kind=kind)


def _probe(
    first: date,
    validity_days: int,
    entries: int,
    entries_per_day: int | None,
    zones: list[int] | None,
) -> None:
    """Build the claims a ticket would get; ``ClaimError``/``OverflowError`` if none could."""
    TicketClaims(
        ticket_id=_PROBE_ID,
        product=1,
        valid_from=first,
        valid_until=first + timedelta(days=max(1, validity_days) - 1),
        entries=entries,
        entries_per_day=entries_per_day,
        zones=tuple(zones) if zones else None,
    )
