"""Ticket claims: what a signed ticket says (``TicketClaims``) and the limits every claim obeys.

Never: encode or decode. The two wire forms live apart, each a small strict codec over this
model: ``keys/claims_cbor.py`` (the integer-keyed CBOR map inside the signed envelope, with its
table of keys) and ``keys/claims_json.py`` (claim names, for the CLI and the cloud). Both
construct ``TicketClaims``, so a value either of them lets through is checked here, once.

Days rather than timestamps: a day fits in three bytes and needs no time-zone reasoning on the
ticket; the gate interprets it in the site's zone. Instants exist for events that start and
end at a minute; they are limited to 2000-2100, days to 2000-01-01 .. 2099-12-31.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum

from keys.errors import Refusal
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


class ClaimError(Refusal):
    """A claim is missing, unknown, malformed or out of range; ``reason`` says which (its value
    is the ``code``)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason.value, detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """The validated content of a ticket: construct it directly (every field is checked in
    ``__post_init__``), from a signed map with ``claims_cbor.from_cbor_map`` or from named JSON
    with ``claims_json.from_json``."""

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
    """Days since 1970-01-01: a day as the CBOR map and revocation lists carry it."""
    return (day - EPOCH_DAY).days


def day_from_number(number: int) -> date:
    return EPOCH_DAY + timedelta(days=number)


# ---------------------------------------------------------------------------------------------
# validation (one place, used by every constructor)


def range_error(detail: str) -> ClaimError:
    """A ``CLAIM_OUT_OF_RANGE`` error (also raised by the codecs for bad values)."""
    return ClaimError(Reason.CLAIM_OUT_OF_RANGE, detail)


def is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _validate(c: TicketClaims) -> None:
    if not isinstance(c.ticket_id, bytes) or not 6 <= len(c.ticket_id) <= 16:
        raise range_error("ticket_id must be 6-16 bytes")
    if not is_uint(c.product) or c.product >= 2**32:
        raise range_error("product must be an integer 0 .. 2**32-1")
    _validate_window(c.valid_from, c.valid_until)
    if (c.slot_start is None) != (c.slot_end is None):
        raise range_error("slot_start and slot_end go together")
    if c.slot_start is not None and c.slot_end is not None:
        if not (is_uint(c.slot_start) and is_uint(c.slot_end)):
            raise range_error("slot minutes must be non-negative integers")
        if not c.slot_start < c.slot_end <= 1440 or c.slot_start > 1439:
            raise range_error("slot must satisfy 0 <= slot_start < slot_end <= 1440")
    if not is_uint(c.entries) or c.entries > 65535:
        raise range_error("entries must be 0 (unlimited) .. 65535")
    if c.entries_per_day is not None and (
        not is_uint(c.entries_per_day) or not 1 <= c.entries_per_day <= 65535
    ):
        raise range_error("entries_per_day must be 1 .. 65535")
    if c.zones is not None:
        if not 1 <= len(c.zones) <= 64 or len(set(c.zones)) != len(c.zones):
            raise range_error("zones must be 1-64 distinct zone ids")
        if not all(is_uint(z) and z < 65536 for z in c.zones):
            raise range_error("zone ids must be integers 0 .. 65535")
    if not is_uint(c.group_size) or not 1 <= c.group_size <= 1000:
        raise range_error("group_size must be 1 .. 1000")
    if c.holder is not None and (not isinstance(c.holder, bytes) or not 8 <= len(c.holder) <= 32):
        raise range_error("holder must be 8-32 bytes")
    if c.price_type is not None and not isinstance(c.price_type, PriceType):
        raise range_error("price_type is not a known price type")


def _validate_window(start: date | datetime, end: date | datetime) -> None:
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise range_error("valid_from and valid_until must both be dates or both instants")
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.tzinfo is None or end.tzinfo is None:
            raise range_error("instants need a time zone offset")
        if not INSTANT_MIN <= start < end <= INSTANT_MAX:
            raise range_error("instants must satisfy 2000 <= valid_from < valid_until <= 2100")
        if start.microsecond or end.microsecond:
            raise range_error("instants are whole seconds")
        return
    if not DAY_MIN <= start <= end <= DAY_MAX:
        raise range_error("days must satisfy 2000-01-01 <= valid_from <= valid_until <= 2099")


def minute_of_day(t: time) -> int:
    """A clock time as the minute of its day, as slots count (0-1439)."""
    return t.hour * 60 + t.minute
