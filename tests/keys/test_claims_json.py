"""Claims as operators write them in JSON: named fields, ISO dates, clear refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from keys.claims import ClaimError, PriceType
from keys.claims_json import from_json, to_json
from keys.reasons import Reason


def test_a_minimal_day_ticket_reads_with_defaults():
    claims = from_json({"ticket_id": "0123456789abcdef", "product": 3, "valid_from": "2026-11-24"})
    assert claims.valid_until == date(2026, 11, 24)
    assert claims.entries == 1 and claims.group_size == 1 and claims.zones is None


def test_every_field_round_trips_through_json():
    doc = {
        "ticket_id": "0123456789ABCDEF",
        "product": 7,
        "valid_from": "2026-11-24",
        "valid_until": "2026-11-30",
        "slot_start": "09:00",
        "slot_end": "24:00",
        "entries": "unlimited",
        "entries_per_day": 2,
        "zones": [1, 4],
        "group_size": 12,
        "holder": "00112233445566778899",
        "price_type": "concession",
    }
    claims = from_json(doc)
    assert (
        claims.slot_end == 1440 and claims.unlimited and claims.price_type is PriceType.CONCESSION
    )
    assert from_json(to_json(claims)) == claims


def test_instants_need_an_offset_and_are_kept_in_utc():
    claims = from_json(
        {
            "ticket_id": "0123456789ab",
            "product": 1,
            "valid_from": "2026-12-31T20:00:00+08:00",
            "valid_until": "2027-01-01T02:00:00+08:00",
        }
    )
    assert claims.valid_from == datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    with pytest.raises(ClaimError, match="offset"):
        from_json(
            {
                "ticket_id": "0123456789ab",
                "product": 1,
                "valid_from": "2026-12-31T20:00:00",
                "valid_until": "2027-01-01T02:00:00",
            }
        )


@pytest.mark.parametrize(
    ("doc", "reason", "words"),
    [
        ({"product": 1, "valid_from": "2026-11-24"}, Reason.CLAIM_MISSING, "ticket_id"),
        (
            {"ticket_id": "0123456789ab", "product": 1, "valid_from": "2026-11-24", "color": "red"},
            Reason.CLAIM_UNKNOWN,
            "color",
        ),
        (
            {"ticket_id": "xyz", "product": 1, "valid_from": "2026-11-24"},
            Reason.CLAIM_OUT_OF_RANGE,
            "hexadecimal",
        ),
        (
            {"ticket_id": "0123456789ab", "product": -1, "valid_from": "2026-11-24"},
            Reason.CLAIM_OUT_OF_RANGE,
            "product",
        ),
        (
            {"ticket_id": "0123456789ab", "product": 1, "valid_from": "24/11/2026"},
            Reason.CLAIM_OUT_OF_RANGE,
            "ISO",
        ),
        (
            {
                "ticket_id": "0123456789ab",
                "product": 1,
                "valid_from": "2026-11-24",
                "slot_start": "9",
            },
            Reason.CLAIM_OUT_OF_RANGE,
            "HH:MM",
        ),
        (
            {
                "ticket_id": "0123456789ab",
                "product": 1,
                "valid_from": "2026-11-24",
                "slot_start": "10:00",
            },
            Reason.CLAIM_OUT_OF_RANGE,
            "together",
        ),
        (
            {
                "ticket_id": "0123456789ab",
                "product": 1,
                "valid_from": "2026-11-24",
                "price_type": "vip",
            },
            Reason.CLAIM_OUT_OF_RANGE,
            "price_type",
        ),
        (
            {"ticket_id": "0123456789ab", "product": True, "valid_from": "2026-11-24"},
            Reason.CLAIM_OUT_OF_RANGE,
            "product",
        ),
        ([], Reason.CLAIMS_MALFORMED, "object"),
    ],
)
def test_bad_claims_are_refused_naming_the_field(doc, reason, words):
    with pytest.raises(ClaimError) as info:
        from_json(doc)
    assert info.value.reason is reason
    assert words in info.value.detail


def test_a_trailing_newline_is_no_part_of_a_hex_id_or_a_time():
    base = {"ticket_id": "0123456789abcdef", "product": 3, "valid_from": "2026-11-24"}
    for doc in (
        {**base, "ticket_id": "0123456789abcde\n"},  # was a ValueError escaping
        {**base, "slot_start": "09:00\n", "slot_end": "10:00"},
    ):
        with pytest.raises(ClaimError) as refused:
            from_json(doc)
        assert refused.value.reason is Reason.CLAIM_OUT_OF_RANGE
