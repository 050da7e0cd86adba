"""Ticket claims as the CBOR map inside the signed envelope (RFC 8949 values, integer keys).

Never: accept a map that is not exactly this table. The model and its limits are
``keys/claims.py``; the envelope around the map is ``keys/ticket.py``.

The map uses small integer keys so a day ticket stays inside QR version 6 at level M
(DESIGN.md). Claims that equal their default are left out of the map.

====  ==================  ==========================================================  =========
key   name                CBOR value                                                  default
====  ==================  ==========================================================  =========
1     ticket_id           bstr, 6-16 bytes (shown as upper-case hex)                  required
2     product             uint < 2**32, the product's id in the catalogue              required
3     valid_from          uint, site-local calendar day, days since 1970-01-01         \\
4     valid_until         uint, site-local day, inclusive, >= valid_from               = from
5     valid_from          uint, instant, Unix seconds (instead of 3/4)                 \\
6     valid_until         uint, instant, Unix seconds, > valid_from                    with 5
7     slot_start          uint, minute of the site-local day, 0-1439 (分时票)          none
8     slot_end            uint, minute of the day, slot_start < slot_end <= 1440       with 7
9     entries             uint 0-65535 entries in total; 0 means unlimited             1
10    entries_per_day     uint 1-65535                                                 no limit
11    zones               array of 1-64 distinct uint < 65536 zone ids                 all zones
12    group_size          uint 2-1000 people on one code (批量检票)                    1
13    holder              bstr 8-32, salted hash of an ID card or member (实名制)      none
14    price_type          uint, see ``PriceType``; for products sold at several prices none
====  ==================  ==========================================================  =========

An unknown key is refused, not ignored: a claim a gate does not understand may be a
restriction it would fail to apply. Types are checked here (a ``bool`` is no integer), ranges
by ``TicketClaims`` itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import IntEnum
from typing import Any

from keys.claims import (
    ClaimError,
    PriceType,
    TicketClaims,
    day_from_number,
    day_number,
    is_uint,
    range_error,
)
from keys.reasons import Reason


class K(IntEnum):
    """CBOR map keys of the claims (see the table above)."""

    TICKET_ID = 1
    PRODUCT = 2
    FROM_DAY = 3
    UNTIL_DAY = 4
    FROM_INSTANT = 5
    UNTIL_INSTANT = 6
    SLOT_START = 7
    SLOT_END = 8
    ENTRIES = 9
    ENTRIES_PER_DAY = 10
    ZONES = 11
    GROUP_SIZE = 12
    HOLDER = 13
    PRICE_TYPE = 14


_KNOWN_KEYS = frozenset(int(k) for k in K)


def to_cbor_map(c: TicketClaims) -> dict[int, Any]:
    """The claims as the CBOR map that gets signed, defaults left out."""
    m: dict[int, Any] = {K.TICKET_ID: c.ticket_id, K.PRODUCT: c.product}
    if isinstance(c.valid_from, datetime) and isinstance(c.valid_until, datetime):
        m[K.FROM_INSTANT] = int(c.valid_from.timestamp())
        m[K.UNTIL_INSTANT] = int(c.valid_until.timestamp())
    else:
        m[K.FROM_DAY] = day_number(c.valid_from)
        if c.valid_until != c.valid_from:
            m[K.UNTIL_DAY] = day_number(c.valid_until)
    if c.slot_start is not None:
        m[K.SLOT_START] = c.slot_start
        m[K.SLOT_END] = c.slot_end
    if c.entries != 1:
        m[K.ENTRIES] = c.entries
    if c.entries_per_day is not None:
        m[K.ENTRIES_PER_DAY] = c.entries_per_day
    if c.zones is not None:
        m[K.ZONES] = list(c.zones)
    if c.group_size != 1:
        m[K.GROUP_SIZE] = c.group_size
    if c.holder is not None:
        m[K.HOLDER] = c.holder
    if c.price_type is not None:
        m[K.PRICE_TYPE] = int(c.price_type)
    return {int(k): v for k, v in m.items()}


def from_cbor_map(m: object) -> TicketClaims:
    """Validate a decoded claims map; raise ``ClaimError`` with the reason."""
    if not isinstance(m, dict):
        raise ClaimError(Reason.CLAIMS_MALFORMED, "claims are not a map")
    for key in m:
        if not is_uint(key):
            raise ClaimError(Reason.CLAIMS_MALFORMED, f"claim key {key!r} is not a small integer")
        if key not in _KNOWN_KEYS:
            raise ClaimError(Reason.CLAIM_UNKNOWN, f"claim key {key} is unknown")
    for key in (K.TICKET_ID, K.PRODUCT):
        if key not in m:
            raise ClaimError(Reason.CLAIM_MISSING, f"claim {key.name.lower()} is missing")
    _expect(m, K.TICKET_ID, bytes)
    for key in (
        K.PRODUCT,
        K.FROM_DAY,
        K.UNTIL_DAY,
        K.FROM_INSTANT,
        K.UNTIL_INSTANT,
        K.SLOT_START,
        K.SLOT_END,
        K.ENTRIES,
        K.ENTRIES_PER_DAY,
        K.GROUP_SIZE,
        K.PRICE_TYPE,
    ):
        _expect(m, key, int)
    _expect(m, K.HOLDER, bytes)
    _expect(m, K.ZONES, list)
    return TicketClaims(
        ticket_id=m[K.TICKET_ID],
        product=m[K.PRODUCT],
        **_window_from_cbor(m),
        slot_start=m.get(K.SLOT_START),
        slot_end=m.get(K.SLOT_END),
        entries=m.get(K.ENTRIES, 1),
        entries_per_day=m.get(K.ENTRIES_PER_DAY),
        zones=tuple(m[K.ZONES]) if K.ZONES in m else None,
        group_size=m.get(K.GROUP_SIZE, 1),
        holder=m.get(K.HOLDER),
        price_type=_price_type_from_cbor(m.get(K.PRICE_TYPE)),
    )


def _expect(m: dict[Any, Any], key: K, kind: type) -> None:
    if key not in m:
        return
    value = m[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ClaimError(Reason.CLAIMS_MALFORMED, f"claim {key.name.lower()} has the wrong type")
    if isinstance(value, int) and value < 0:
        raise range_error(f"claim {key.name.lower()} is negative")


def _window_from_cbor(m: dict[Any, Any]) -> dict[str, date | datetime]:
    has_days = K.FROM_DAY in m or K.UNTIL_DAY in m
    has_instants = K.FROM_INSTANT in m or K.UNTIL_INSTANT in m
    if has_days and has_instants:
        raise ClaimError(Reason.CLAIMS_MALFORMED, "validity is given both as days and instants")
    if has_instants:
        if K.FROM_INSTANT not in m or K.UNTIL_INSTANT not in m:
            raise ClaimError(Reason.CLAIM_MISSING, "an instant window needs both ends")
        start, end = m[K.FROM_INSTANT], m[K.UNTIL_INSTANT]
        if not (0 <= start < 2**33 and 0 <= end < 2**33):
            raise range_error("instant out of range")
        return {
            "valid_from": datetime.fromtimestamp(start, UTC),
            "valid_until": datetime.fromtimestamp(end, UTC),
        }
    if K.FROM_DAY not in m:
        raise ClaimError(Reason.CLAIM_MISSING, "claim valid_from is missing")
    first = m[K.FROM_DAY]
    last = m.get(K.UNTIL_DAY, first)
    if not (0 <= first < 65536 and 0 <= last < 65536):
        raise range_error("day out of range")
    return {"valid_from": day_from_number(first), "valid_until": day_from_number(last)}


def _price_type_from_cbor(value: int | None) -> PriceType | None:
    if value is None:
        return None
    try:
        return PriceType(value)
    except ValueError:
        raise range_error(f"price_type {value} is unknown") from None
