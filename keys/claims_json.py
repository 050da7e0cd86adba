"""Ticket claims as a JSON object with claim names, for the CLI (``scenic-keys``) and the cloud.

Never: guess. A name outside ``JSON_NAMES`` is refused (``claim_unknown``), days are ISO dates
(``2026-11-24``), instants ISO date-times with a UTC offset, slots ``HH:MM`` (``24:00`` ends a
day), ids and holders hexadecimal, ``entries`` a count or ``"unlimited"``. ``to_json`` is the
inverse of ``from_json``. The model and its limits are ``keys/claims.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from keys.claims import ClaimError, PriceType, TicketClaims, is_uint, range_error
from keys.reasons import Reason

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
    if zones is not None and (not isinstance(zones, list) or not all(is_uint(z) for z in zones)):
        raise range_error("zones must be a list of zone ids (integers)")
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
    if not is_uint(value):
        raise range_error(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _json_hex(doc: dict[str, Any], name: str, low: int, high: int) -> bytes:
    value = doc[name]
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise range_error(f"{name} must be hexadecimal text")
    raw = bytes.fromhex(value)
    if not low <= len(raw) <= high:
        raise range_error(f"{name} must be {low}-{high} bytes ({2 * low}-{2 * high} hex digits)")
    return raw


def _json_when(doc: dict[str, Any], name: str) -> date | datetime:
    value = doc[name]
    if not isinstance(value, str):
        raise range_error(f"{name} must be an ISO date or date-time text")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise range_error(f"{name} {value!r} is not an ISO date or date-time") from None
    if when.tzinfo is None:
        raise range_error(f"{name} {value!r} needs a UTC offset, e.g. +08:00")
    return when.astimezone(UTC)


def _json_minute(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not (match := _HHMM.fullmatch(value)):
        raise range_error(f"{name} must be HH:MM, got {value!r}")
    if value == "24:00":
        return 1440
    return int(match.group(1)) * 60 + int(match.group(2))


def _json_price_type(value: object) -> PriceType | None:
    if value is None:
        return None
    names = {p.name.lower(): p for p in PriceType}
    if not isinstance(value, str) or value not in names:
        raise range_error(f"price_type must be one of {', '.join(names)}")
    return names[value]
