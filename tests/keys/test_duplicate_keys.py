"""A CBOR map with the same key twice is refused everywhere, with ``duplicate_key``.

cbor2 keeps the last of two equal keys; another decoder may keep the first, so one ticket
would read two ways. The bytes here are made by hand: cbor2 cannot write a duplicate.
"""

from __future__ import annotations

import contextlib
from datetime import date

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from keys.cbor_strict import CborError, decode_item
from keys.claims import day_number
from keys.claims_cbor import to_cbor_map
from keys.cose import encode_sign1
from keys.gate_event import peek_node, read_node, sign_event
from keys.keyring import IssuerKey, Keyring, sign_keyring
from keys.reasons import Reason
from keys.signed_document import DocumentError, verify_document
from keys.ticket import verify_ticket
from tests.keys import forge

FIXTURES = [HealthCheck.function_scoped_fixture]


def head(major: int, length: int) -> Raw:
    """A definite-length CBOR head (RFC 8949 section 3), minimal size."""
    if length < 24:
        return Raw(bytes([major << 5 | length]))
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 256**size:
            return Raw(bytes([major << 5 | info]) + length.to_bytes(size, "big"))
    raise ValueError(length)


class Raw(bytes):
    """Already encoded CBOR, spliced in unchanged (so hand-made maps can nest)."""


def encoded(item: object) -> bytes:
    return item if isinstance(item, Raw) else cbor2.dumps(item)


def raw_map(pairs: list[tuple[object, object]]) -> Raw:
    """A map written pair by pair, as given: keys may repeat."""
    return Raw(head(5, len(pairs)) + b"".join(encoded(k) + encoded(v) for k, v in pairs))


def raw_array(item: Raw) -> Raw:
    return Raw(head(4, 1) + item)


def claims_pairs(day_claims) -> list[tuple[object, object]]:
    return list(to_cbor_map(day_claims).items())


def test_a_claims_map_with_a_key_twice_is_refused_even_when_both_values_agree(
    issuer_key, keyring, day_claims
):
    pairs = claims_pairs(day_claims)
    payload = raw_map([*pairs, pairs[0]])
    result = verify_ticket(
        forge.text(forge.envelope(issuer_key, None, raw_payload=payload)), keyring
    )
    assert result.reason is Reason.DUPLICATE_KEY


def test_a_second_valid_until_that_would_win_in_cbor2_is_refused(issuer_key, keyring, day_claims):
    pairs = claims_pairs(day_claims)
    valid_until_key = next(k for k, v in pairs if v == day_number(day_claims.valid_until))
    payload = raw_map([*pairs, (valid_until_key, day_number(date(2099, 12, 31)))])
    assert cbor2.loads(payload)[valid_until_key] == day_number(date(2099, 12, 31))  # last wins
    result = verify_ticket(
        forge.text(forge.envelope(issuer_key, None, raw_payload=payload)), keyring
    )
    assert result.reason is Reason.DUPLICATE_KEY
    assert result.claims is None


def test_the_same_key_in_a_longer_encoding_is_still_a_duplicate(issuer_key, keyring, day_claims):
    pairs = claims_pairs(day_claims)
    key, value = pairs[0]
    assert isinstance(key, int) and 0 <= key < 24
    long_key = Raw(bytes([0x18, key]))  # the same integer, with a one-byte argument
    payload = raw_map([*pairs, (long_key, value)])
    result = verify_ticket(
        forge.text(forge.envelope(issuer_key, None, raw_payload=payload)), keyring
    )
    assert result.reason is Reason.DUPLICATE_KEY


def test_a_protected_header_with_alg_twice_is_refused(issuer_key, keyring, day_claims):
    protected = raw_map([(1, -8), (4, issuer_key.kid), (1, -8)])
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), protected=protected)
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.DUPLICATE_KEY


def test_a_protected_header_whose_second_kid_names_another_key_is_refused(
    issuer_key, keyring, day_claims
):
    protected = raw_map([(1, -8), (4, b"X9"), (4, issuer_key.kid)])
    raw = forge.envelope(issuer_key, to_cbor_map(day_claims), protected=protected)
    result = verify_ticket(forge.text(raw), keyring)
    assert result.reason is Reason.DUPLICATE_KEY and result.kid is None


def test_an_unprotected_header_with_a_key_twice_is_refused(issuer_key, keyring, day_claims):
    good = cbor2.loads(forge.envelope(issuer_key, to_cbor_map(day_claims)))
    protected, _, payload, signature = good.value
    parts = (
        head(4, 4)
        + cbor2.dumps(protected)
        + raw_map([(4, b"I1"), (4, b"I1")])
        + cbor2.dumps(payload)
        + cbor2.dumps(signature)
    )
    raw = b"\xd2" + parts  # tag 18
    assert verify_ticket(forge.text(raw), keyring).reason is Reason.DUPLICATE_KEY


def test_a_signed_document_with_seq_twice_is_refused(root_key):
    payload = raw_map([(1, "revocations"), (2, "S1"), (3, 7), (3, 99), (4, 1_700_000_000), (5, {})])
    with pytest.raises(DocumentError) as refused:
        verify_document(
            encode_sign1(root_key, payload), root_key.public_key, doc_type="revocations", site="S1"
        )
    assert refused.value.code == "duplicate_key"


def test_a_keyring_entry_with_retired_twice_deep_in_the_body_is_refused(root_key, issuer_key):
    public = issuer_key.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    entry = raw_map([("kid", b"I1"), ("public_key", public), ("retired", True), ("retired", False)])
    body = raw_map([("issuers", raw_array(entry))])
    payload = raw_map([(1, "keyring"), (2, "S1"), (3, 2), (4, 1_700_000_000), (5, body)])
    with pytest.raises(DocumentError) as refused:
        Keyring.load(encode_sign1(root_key, payload), root_key.public_key, "S1")
    assert refused.value.code == "duplicate_key"


def test_gossip_with_a_key_twice_is_refused_with_its_reason(issuer_key):
    event_body = raw_map([("node", "G2"), ("kind", "use"), ("at", 0), ("data", {}), ("node", "G3")])
    payload = raw_map([(1, "gate_event"), (2, "S1"), (3, 1), (4, 0), (5, event_body)])
    raw = encode_sign1(issuer_key, payload)
    with pytest.raises(DocumentError) as refused:
        read_node(raw)
    assert refused.value.code == "duplicate_key"
    assert peek_node(raw) is None
    good = sign_event(issuer_key, site="S1", node="G2", seq=1, kind="use", at_ms=0, data={})
    assert read_node(good) == "G2"


def test_a_ticket_pycose_signed_with_its_own_key_order_still_verifies(
    issuer_key, keyring, day_claims
):
    """Only duplicates are refused, not a map order other than ours (canonical order would
    refuse tickets from other COSE implementations)."""
    private = issuer_key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    reversed_claims = dict(reversed(list(to_cbor_map(day_claims).items())))
    message = Sign1Message(
        phdr={KID: issuer_key.kid, Algorithm: EdDSA}, payload=cbor2.dumps(reversed_claims)
    )
    message.key = OKPKey(crv=Ed25519, d=private)
    result = verify_ticket(forge.text(message.encode()), keyring)
    assert result.reason is Reason.OK and result.claims == day_claims


def test_indefinite_length_maps_are_counted_too():
    assert decode_item(bytes.fromhex("bf01020304ff")) == {1: 2, 3: 4}
    with pytest.raises(CborError) as refused:
        decode_item(bytes.fromhex("bf01020102ff"))
    assert refused.value.duplicate


# -- property: a duplicate anywhere, in any map, yields the reason -------------------------------

plain_keys = st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=8), st.binary(max_size=8))
plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**32), 2**32), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(plain_keys, inner, max_size=3)
    ),
    max_leaves=3,
)


@st.composite
def map_with_a_duplicate(draw) -> bytes:
    """Raw bytes of a plain item in which one map, at some depth, repeats one of its keys."""
    pairs = list(draw(st.dictionaries(plain_keys, plain_values, min_size=1, max_size=5)).items())
    repeated = draw(st.sampled_from(pairs))[0]
    again = (repeated, draw(plain_values))
    pairs.insert(draw(st.integers(0, len(pairs))), again)
    item = raw_map(pairs)
    for _ in range(draw(st.integers(0, 2))):  # bury it: in an array, or as a map's value
        item = raw_array(item) if draw(st.booleans()) else raw_map([(draw(plain_keys), item)])
    return item


@given(raw=map_with_a_duplicate())
@settings(max_examples=60)
def test_any_map_with_a_duplicate_key_is_refused_as_duplicate(raw):
    with pytest.raises(CborError) as refused:
        decode_item(raw, max_bytes=len(raw))
    assert refused.value.duplicate


@given(raw=map_with_a_duplicate())
@settings(suppress_health_check=FIXTURES, max_examples=60)
def test_a_signed_ticket_whose_claims_repeat_a_key_gives_the_reason(issuer_key, keyring, raw):
    result = verify_ticket(forge.text(forge.envelope(issuer_key, None, raw_payload=raw)), keyring)
    assert result.reason in (Reason.DUPLICATE_KEY, Reason.TOO_LONG)


@given(raw=st.binary(max_size=64))
def test_any_bytes_decode_or_give_a_cbor_error_never_a_crash(raw):
    with contextlib.suppress(CborError):
        decode_item(raw)


def test_keyring_without_duplicates_still_loads(root_key, issuer_key):
    raw = sign_keyring(
        root_key, [IssuerKey(issuer_key.kid, issuer_key.public_key)], site="S1", seq=1
    )
    assert Keyring.load(raw, root_key.public_key, "S1").kids == ["I1"]
