"""Issuing and verifying tickets: every way a code can be wrong has its own reason code."""

from __future__ import annotations

from datetime import UTC, date, datetime

import cbor2
import pytest

from keys import keystore
from keys.claims import PriceType, TicketClaims
from keys.claims_cbor import to_cbor_map
from keys.holder import holder_ref
from keys.keyring import IssuerKey, Keyring
from keys.qr import version_at
from keys.reasons import REASON_TEXT, Reason
from keys.ticket import MAX_TEXT, issue_ticket, verify_ticket
from tests.keys import forge

DAY = date(2026, 11, 24)


def test_a_freshly_issued_ticket_verifies_with_its_claims(issuer_key, keyring, day_claims):
    result = verify_ticket(issue_ticket(issuer_key, day_claims), keyring)
    assert result.reason is Reason.OK and result.valid
    assert result.claims == day_claims
    assert result.kid == b"I1"


def test_day_ticket_fits_qr_version_6_at_level_m(issuer_key, day_claims):
    text = issue_ticket(issuer_key, day_claims)
    assert len(text) <= 154
    assert version_at(text).version <= 6


@pytest.mark.parametrize(
    "extra",
    [
        {"slot_start": 540, "slot_end": 600, "zones": (1, 2, 3)},
        {"group_size": 40, "price_type": PriceType.GROUP, "zones": (1, 2)},
        {
            "holder": holder_ref(b"s" * 16, "id_card", "11010519491231002X"),
            "price_type": PriceType.ADULT,
            "entries_per_day": 1,
        },
        {
            "valid_until": date(2027, 11, 23),
            "entries": 0,
            "entries_per_day": 2,
            "holder": holder_ref(b"s" * 16, "member", "M000123"),
        },
    ],
    ids=["timed-entry", "group", "real-name", "annual-pass"],
)
def test_every_other_kind_of_ticket_fits_qr_version_7(issuer_key, extra):
    claims = TicketClaims(
        ticket_id=bytes(range(8)),
        product=65000,
        valid_from=DAY,
        valid_until=extra.pop("valid_until", DAY),
        **extra,
    )
    text = issue_ticket(issuer_key, claims)
    assert len(text) <= 178, len(text)
    assert version_at(text).version <= 7


def test_instant_validity_round_trips(issuer_key, keyring):
    claims = TicketClaims(
        ticket_id=bytes(6),
        product=1,
        valid_from=datetime(2026, 12, 31, 18, 0, tzinfo=UTC),
        valid_until=datetime(2027, 1, 1, 2, 0, tzinfo=UTC),
    )
    assert verify_ticket(issue_ticket(issuer_key, claims), keyring).claims == claims


# --- the text --------------------------------------------------------------------------------


def test_empty_read_is_empty(keyring):
    assert verify_ticket("", keyring).reason is Reason.EMPTY
    assert verify_ticket("\r\n", keyring).reason is Reason.EMPTY


def test_overlong_text_is_refused_before_decoding(keyring):
    assert verify_ticket("J1" + "0" * MAX_TEXT, keyring).reason is Reason.TOO_LONG


def test_someone_elses_qr_code_is_not_our_prefix(keyring):
    assert verify_ticket("https://example.com/t/123", keyring).reason is Reason.BAD_PREFIX
    assert verify_ticket("HC1:6BFOXN", keyring).reason is Reason.BAD_PREFIX


def test_lower_case_text_is_not_base45(keyring):
    assert verify_ticket("J1abc", keyring).reason is Reason.NOT_BASE45


def test_a_code_cut_mid_character_group_is_truncated(issuer_key, keyring, day_claims):
    text = issue_ticket(issuer_key, day_claims)
    cut = text[: 2 + ((len(text) - 2) // 3) * 3 - 2]  # leaves one character over
    assert verify_ticket(cut, keyring).reason is Reason.TRUNCATED


def test_a_code_cut_at_a_group_boundary_is_truncated(issuer_key, keyring, day_claims):
    text = issue_ticket(issuer_key, day_claims)
    whole_groups = text[: 2 + 3 * 30]  # decodes to 60 bytes of a ~97-byte envelope
    assert verify_ticket(whole_groups, keyring).reason is Reason.TRUNCATED


# --- the envelope ----------------------------------------------------------------------------


def test_garbage_bytes_are_bad_cbor(keyring):
    assert verify_ticket(forge.text(b"\xff\xff\xff\xff"), keyring).reason is Reason.BAD_CBOR


def test_bytes_after_the_envelope_are_bad_cbor(issuer_key, keyring, day_claims):
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims)) + b"\x00"
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.BAD_CBOR


def test_untagged_or_other_shapes_are_not_cose_sign1(issuer_key, keyring, day_claims):
    claims = to_cbor_map(day_claims)
    assert (
        verify_ticket(forge.text(forge.envelope(issuer_key, claims, tag=None)), keyring).reason
        is Reason.NOT_COSE_SIGN1
    )
    assert (
        verify_ticket(forge.text(forge.envelope(issuer_key, claims, tag=98)), keyring).reason
        is Reason.BAD_CBOR
    )  # a tag we do not allow anywhere
    assert (
        verify_ticket(forge.text(cbor2.dumps(cbor2.CBORTag(18, [1, 2]))), keyring).reason
        is Reason.NOT_COSE_SIGN1
    )


def test_unprotected_headers_are_refused(issuer_key, keyring, day_claims):
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), unprotected={4: b"I1"})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.BAD_HEADER


def test_a_crit_or_extra_protected_header_is_refused(issuer_key, keyring, day_claims):
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), protected={1: -8, 4: b"I1", 2: [1]})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.BAD_HEADER


def test_a_long_kid_is_a_bad_header(issuer_key, keyring, day_claims):
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), protected={1: -8, 4: b"TOOLONG"})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.BAD_HEADER


def test_another_algorithm_is_wrong_alg(issuer_key, keyring, day_claims):
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), protected={1: -7, 4: b"I1"})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.WRONG_ALG


def test_a_key_not_in_the_keyring_is_unknown_kid(keyring, day_claims):
    stranger = keystore.generate("issuer", "X9")
    result = verify_ticket(issue_ticket(stranger, day_claims), keyring)
    assert result.reason is Reason.UNKNOWN_KID and result.kid == b"X9"


def test_a_ticket_from_a_retired_key_is_refused_as_retired(issuer_key, day_claims):
    ring = Keyring([IssuerKey(issuer_key.kid, issuer_key.public_key, retired=True)])
    assert verify_ticket(issue_ticket(issuer_key, day_claims), ring).reason is Reason.RETIRED_KID


def test_a_forger_reusing_our_kid_fails_the_signature(keyring, day_claims):
    forger = keystore.generate("issuer", "I1")
    assert verify_ticket(issue_ticket(forger, day_claims), keyring).reason is Reason.BAD_SIGNATURE


def test_changing_one_claim_byte_breaks_the_signature(issuer_key, keyring, day_claims):
    raw = bytearray(forge.envelope(issuer_key, to_cbor_map(day_claims)))
    raw[-70] ^= 0x01  # inside the payload, just before the signature
    assert verify_ticket(forge.text(bytes(raw)), keyring).reason is Reason.BAD_SIGNATURE


# --- the claims (signed, so only a buggy or compromised issuer could send these) --------------


def test_claims_that_are_not_a_map_are_malformed(issuer_key, keyring):
    assert (
        verify_ticket(forge.text(forge.envelope(issuer_key, [1, 2])), keyring).reason
        is Reason.CLAIMS_MALFORMED
    )


def test_claims_that_are_not_cbor_are_malformed(issuer_key, keyring):
    raw = forge.envelope(issuer_key, None, raw_payload=b"\xff\x00")
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.CLAIMS_MALFORMED


def test_missing_ticket_id_is_claim_missing(issuer_key, keyring):
    raw = forge.envelope(issuer_key, {2: 1, 3: 20000})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.CLAIM_MISSING


def test_missing_validity_is_claim_missing(issuer_key, keyring):
    raw = forge.envelope(issuer_key, {1: bytes(8), 2: 1})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.CLAIM_MISSING


def test_an_unknown_claim_is_refused_not_ignored(issuer_key, keyring):
    raw = forge.envelope(issuer_key, {1: bytes(8), 2: 1, 3: 20000, 99: 1})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.CLAIM_UNKNOWN


@pytest.mark.parametrize(
    "claims",
    [
        {1: bytes(3), 2: 1, 3: 20000},  # ticket id too short
        {1: bytes(8), 2: 1, 3: 20000, 4: 19999},  # ends before it starts
        {1: bytes(8), 2: 1, 3: 20000, 7: 600, 8: 540},  # slot backwards
        {1: bytes(8), 2: 1, 3: 20000, 12: 0},  # group of nobody
        {1: bytes(8), 2: 1, 3: 20000, 14: 77},  # unknown price type
        {1: bytes(8), 2: 1, 3: 20000, 11: [1, 1]},  # zone twice
        {1: bytes(8), 2: 1, 3: 20000, 9: -1},  # negative entries
    ],
)
def test_values_out_of_range_are_refused(issuer_key, keyring, claims):
    assert (
        verify_ticket(forge.text(forge.envelope(issuer_key, claims)), keyring).reason
        is Reason.CLAIM_OUT_OF_RANGE
    )


def test_wrong_claim_types_are_malformed(issuer_key, keyring):
    raw = forge.envelope(issuer_key, {1: "not bytes", 2: 1, 3: 20000})
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.CLAIMS_MALFORMED


def test_every_reason_has_chinese_and_english_text():
    for reason in Reason:
        text = REASON_TEXT[reason]
        assert text.zh and text.en and text.zh != text.en


def test_a_fault_of_ours_while_verifying_is_an_internal_error_not_damaged_data(
    issuer_key, day_claims
):
    # A keyring entry without a usable public key is our bug (a broken keyring file loader),
    # not the visitor's ticket: the gate must not tell them their ticket is damaged.
    broken = Keyring([IssuerKey(issuer_key.kid, public_key=None)])  # type: ignore[arg-type]
    result = verify_ticket(issue_ticket(issuer_key, day_claims), broken)
    assert result.reason is Reason.INTERNAL_ERROR and not result.valid
    assert result.detail.startswith("AttributeError")
    assert REASON_TEXT[Reason.INTERNAL_ERROR].zh
