"""Ticket claims: what a signed ticket says, as a small CBOR map and as named JSON.

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

Days rather than timestamps: a day fits in three bytes and needs no time-zone reasoning on the
ticket; the gate interprets it in the site's zone. Instants exist for events that start and
end at a minute. An unknown key is refused, not ignored: a claim a gate does not understand
may be a restriction it would fail to apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from typing import Any

from keys.reasons import Reason

EPOCH_DAY = date(1970, 1, 1)
DAY_MIN = date(2000, 1, 1)
DAY_MAX = date(2099, 12, 31)
INSTANT_MIN = datetime(2000, 1, 1, tzinfo=UTC)
INSTANT_MAX = datetime(2100, 1, 1, tzinfo=UTC)


class PriceType(IntEnum):
    """票种人群: who the ticket is priced for; gates may flag some for a staff check."""

    ADULT = 0
    CHILD = 1
    CONCESSION = 2
    SENIOR = 3
    GROUP = 4
    MEMBER = 5
    STAFF = 6


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
JSON_NAMES = (
    "ticket_id",
    "product",
    "valid_from",
    "valid_until",
    "slot_start",
    "slot_end",
    "entries",
    "entries_per_day",
    "zones",
    "group_size",
    "holder",
    "price_type",
)


class ClaimError(ValueError):
    """A claim is missing, unknown, malformed or out of range; ``reason`` says which."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """The validated content of a ticket. Build one with ``make_claims`` or ``from_json``."""

    ticket_id: bytes
    product: int
    valid_from: date | datetime
    valid_until: date | datetime
    slot_start: int | None = None
    slot_end: int | None = None
    entries: int = 1
    entries_per_day: int | None = None
    zones: tuple[int, ...] | None = None
    group_size: int = 1
    holder: bytes | None = None
    price_type: PriceType | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def ticket_no(self) -> str:
        """The ticket number people read and type: upper-case hex of the id."""
        return self.ticket_id.hex().upper()

    @property
    def unlimited(self) -> bool:
        return self.entries == 0

    @property
    def by_day(self) -> bool:
        return not isinstance(self.valid_from, datetime)

    @property
    def last_day(self) -> date:
        """The last site-local day the ticket can be used (for pruning revocations).

        For instants this is the UTC date of ``valid_until`` plus one, which is never earlier
        than the site-local date anywhere on Earth.
        """
        if isinstance(self.valid_until, datetime):
            return self.valid_until.astimezone(UTC).date() + timedelta(days=1)
        return self.valid_until


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def day_from_number(number: int) -> date:
    return EPOCH_DAY + timedelta(days=number)


# ---------------------------------------------------------------------------------------------
# validation (one place, used by every constructor)


def _fail_range(detail: str) -> ClaimError:
    return ClaimError(Reason.CLAIM_OUT_OF_RANGE, detail)


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _validate(c: TicketClaims) -> None:
    if not isinstance(c.ticket_id, bytes) or not 6 <= len(c.ticket_id) <= 16:
        raise _fail_range("ticket_id must be 6-16 bytes")
    if not _is_uint(c.product) or c.product >= 2**32:
        raise _fail_range("product must be an integer 0 .. 2**32-1")
    _validate_window(c.valid_from, c.valid_until)
    if (c.slot_start is None) != (c.slot_end is None):
        raise _fail_range("slot_start and slot_end go together")
    if c.slot_start is not None and c.slot_end is not None:
        if not (_is_uint(c.slot_start) and _is_uint(c.slot_end)):
            raise _fail_range("slot minutes must be non-negative integers")
        if not c.slot_start < c.slot_end <= 1440 or c.slot_start > 1439:
            raise _fail_range("slot must satisfy 0 <= slot_start < slot_end <= 1440")
    if not _is_uint(c.entries) or c.entries > 65535:
        raise _fail_range("entries must be 0 (unlimited) .. 65535")
    if c.entries_per_day is not None and (
        not _is_uint(c.entries_per_day) or not 1 <= c.entries_per_day <= 65535
    ):
        raise _fail_range("entries_per_day must be 1 .. 65535")
    if c.zones is not None:
        if not 1 <= len(c.zones) <= 64 or len(set(c.zones)) != len(c.zones):
            raise _fail_range("zones must be 1-64 distinct zone ids")
        if not all(_is_uint(z) and z < 65536 for z in c.zones):
            raise _fail_range("zone ids must be integers 0 .. 65535")
    if not _is_uint(c.group_size) or not 1 <= c.group_size <= 1000:
        raise _fail_range("group_size must be 1 .. 1000")
    if c.holder is not None and (not isinstance(c.holder, bytes) or not 8 <= len(c.holder) <= 32):
        raise _fail_range("holder must be 8-32 bytes")
    if c.price_type is not None and not isinstance(c.price_type, PriceType):
        raise _fail_range("price_type is not a known price type")


def _validate_window(start: date | datetime, end: date | datetime) -> None:
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise _fail_range("valid_from and valid_until must both be dates or both instants")
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.tzinfo is None or end.tzinfo is None:
            raise _fail_range("instants need a time zone offset")
        if not INSTANT_MIN <= start < end <= INSTANT_MAX:
            raise _fail_range("instants must satisfy 2000 <= valid_from < valid_until <= 2100")
        if start.microsecond or end.microsecond:
            raise _fail_range("instants are whole seconds")
        return
    if not DAY_MIN <= start <= end <= DAY_MAX:
        raise _fail_range("days must satisfy 2000-01-01 <= valid_from <= valid_until <= 2099")


# ---------------------------------------------------------------------------------------------
# CBOR form


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
        if not _is_uint(key):
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
        raise _fail_range(f"claim {key.name.lower()} is negative")


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
            raise _fail_range("instant out of range")
        return {
            "valid_from": datetime.fromtimestamp(start, UTC),
            "valid_until": datetime.fromtimestamp(end, UTC),
        }
    if K.FROM_DAY not in m:
        raise ClaimError(Reason.CLAIM_MISSING, "claim valid_from is missing")
    first = m[K.FROM_DAY]
    last = m.get(K.UNTIL_DAY, first)
    if not (0 <= first < 65536 and 0 <= last < 65536):
        raise _fail_range("day out of range")
    return {"valid_from": day_from_number(first), "valid_until": day_from_number(last)}


def _price_type_from_cbor(value: int | None) -> PriceType | None:
    if value is None:
        return None
    try:
        return PriceType(value)
    except ValueError:
        raise _fail_range(f"price_type {value} is unknown") from None


# ---------------------------------------------------------------------------------------------
# JSON form (claim names), for the CLI and the cloud


# Whole matches only (re.fullmatch): "$" also matches before a final newline.
_HEX = re.compile(r"[0-9A-Fa-f]*")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


def from_json(doc: object) -> TicketClaims:
    """Claims from a JSON object with claim names; raise ``ClaimError`` naming the bad field."""
    if not isinstance(doc, dict):
        raise ClaimError(Reason.CLAIMS_MALFORMED, "claims must be a JSON object")
    unknown = sorted(set(doc) - set(JSON_NAMES))
    if unknown:
        raise ClaimError(Reason.CLAIM_UNKNOWN, f"unknown claim name(s): {', '.join(unknown)}")
    for name in ("ticket_id", "product", "valid_from"):
        if name not in doc:
            raise ClaimError(Reason.CLAIM_MISSING, f"{name} is required")
    start = _json_when(doc, "valid_from")
    end = _json_when(doc, "valid_until") if "valid_until" in doc else start
    if isinstance(start, datetime) and start == end:
        raise ClaimError(Reason.CLAIM_MISSING, "an instant valid_from needs a later valid_until")
    zones = doc.get("zones")
    if zones is not None and (not isinstance(zones, list) or not all(_is_uint(z) for z in zones)):
        raise _fail_range("zones must be a list of zone ids (integers)")
    return TicketClaims(
        ticket_id=_json_hex(doc, "ticket_id", 6, 16),
        product=_json_uint(doc, "product"),
        valid_from=start,
        valid_until=end,
        slot_start=_json_minute(doc, "slot_start"),
        slot_end=_json_minute(doc, "slot_end"),
        entries=0 if doc.get("entries") == "unlimited" else _json_uint(doc, "entries", 1),
        entries_per_day=_json_uint(doc, "entries_per_day", None),
        zones=tuple(zones) if zones is not None else None,
        group_size=_json_uint(doc, "group_size", 1),
        holder=_json_hex(doc, "holder", 8, 32) if "holder" in doc else None,
        price_type=_json_price_type(doc.get("price_type")),
    )


def to_json(c: TicketClaims) -> dict[str, Any]:
    """The claims with their names, as JSON-ready values (inverse of ``from_json``)."""
    doc: dict[str, Any] = {
        "ticket_id": c.ticket_no,
        "product": c.product,
        "valid_from": c.valid_from.isoformat(),
        "valid_until": c.valid_until.isoformat(),
        "entries": "unlimited" if c.unlimited else c.entries,
        "group_size": c.group_size,
    }
    if c.slot_start is not None and c.slot_end is not None:
        doc["slot_start"] = f"{c.slot_start // 60:02d}:{c.slot_start % 60:02d}"
        doc["slot_end"] = f"{c.slot_end // 60:02d}:{c.slot_end % 60:02d}"
    if c.entries_per_day is not None:
        doc["entries_per_day"] = c.entries_per_day
    if c.zones is not None:
        doc["zones"] = list(c.zones)
    if c.holder is not None:
        doc["holder"] = c.holder.hex()
    if c.price_type is not None:
        doc["price_type"] = c.price_type.name.lower()
    return doc


def _json_uint(doc: dict[str, Any], name: str, default: Any = ...) -> Any:
    if name not in doc:
        if default is ...:
            raise ClaimError(Reason.CLAIM_MISSING, f"{name} is required")
        return default
    value = doc[name]
    if not _is_uint(value):
        raise _fail_range(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _json_hex(doc: dict[str, Any], name: str, low: int, high: int) -> bytes:
    value = doc[name]
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise _fail_range(f"{name} must be hexadecimal text")
    raw = bytes.fromhex(value)
    if not low <= len(raw) <= high:
        raise _fail_range(f"{name} must be {low}-{high} bytes ({2 * low}-{2 * high} hex digits)")
    return raw


def _json_when(doc: dict[str, Any], name: str) -> date | datetime:
    value = doc[name]
    if not isinstance(value, str):
        raise _fail_range(f"{name} must be an ISO date or date-time text")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _fail_range(f"{name} {value!r} is not an ISO date or date-time") from None
    if when.tzinfo is None:
        raise _fail_range(f"{name} {value!r} needs a UTC offset, e.g. +08:00")
    return when.astimezone(UTC)


def _json_minute(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not (match := _HHMM.fullmatch(value)):
        raise _fail_range(f"{name} must be HH:MM, got {value!r}")
    if value == "24:00":
        return 1440
    return int(match.group(1)) * 60 + int(match.group(2))


def _json_price_type(value: object) -> PriceType | None:
    if value is None:
        return None
    names = {p.name.lower(): p for p in PriceType}
    if not isinstance(value, str) or value not in names:
        raise _fail_range(f"price_type must be one of {', '.join(names)}")
    return names[value]


def minute_of_day(t: time) -> int:
    return t.hour * 60 + t.minute
