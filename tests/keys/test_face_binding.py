"""The sealed box (keys/sealed_box.py) and the face binding sealed in it (keys/face_binding.py):
round trips, and every way a seal can be wrong ends in its code, never a crash."""

from __future__ import annotations

import cbor2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from keys.errors import Refusal
from keys.face_binding import BindingError, FaceBinding, context, open_binding, seal_binding
from keys.face_embedding import embedding_bytes
from keys.sealed_box import OVERHEAD, SEAL_CODES, SealError, open_sealed, public_from, raw_public
from keys.sealed_box import seal as seal_bytes

CLOUD = X25519PrivateKey.generate()
OTHER = X25519PrivateKey.generate()
EMBEDDING = np.random.default_rng(3).normal(0, 0.09, 128).astype(np.float32)
BINDING = FaceBinding(b"H" * 8, EMBEDDING, b"\x02" * 8, "G1", 1_765_000_000_000)


def sealed() -> bytes:
    return seal_binding(CLOUD.public_key(), "S1", BINDING)


def test_a_sealed_binding_opens_with_the_cloud_key_as_it_was_made():
    opened = open_binding(CLOUD, "S1", "G1", sealed())
    assert opened.holder == BINDING.holder and opened.ticket_id == BINDING.ticket_id
    assert opened.node == "G1" and opened.at_ms == BINDING.at_ms
    assert embedding_bytes(opened.embedding) == embedding_bytes(EMBEDDING)


def test_two_seals_of_the_same_binding_differ_an_ephemeral_key_each():
    first, second = sealed(), sealed()
    assert first != second and first[1:33] != second[1:33]


def test_the_embedding_is_not_in_the_sealed_bytes():
    assert embedding_bytes(EMBEDDING)[:16] not in sealed()


def test_a_seal_is_about_640_bytes_well_inside_a_gate_event():
    assert len(sealed()) < 700


def test_any_flipped_byte_is_refused_as_tampered_or_bad_key():
    raw = sealed()
    for i in range(1, len(raw)):
        edited = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(SealError) as refused:
            open_binding(CLOUD, "S1", "G1", edited)
        assert refused.value.code in ("seal_tampered", "seal_bad_key")


def test_another_key_cannot_open_it():
    with pytest.raises(SealError) as refused:
        open_binding(OTHER, "S1", "G1", sealed())
    assert refused.value.code == "seal_tampered"


def test_a_seal_lifted_into_another_gates_event_is_refused():
    with pytest.raises(SealError) as refused:
        open_binding(CLOUD, "S1", "G2", sealed())
    assert refused.value.code == "seal_tampered"
    with pytest.raises(SealError):
        open_binding(CLOUD, "S2", "G1", sealed())


def test_a_short_seal_is_truncated_and_an_unknown_version_refused():
    with pytest.raises(SealError) as short:
        open_sealed(CLOUD, b"\x01" * (OVERHEAD - 1), b"")
    with pytest.raises(SealError) as version:
        open_sealed(CLOUD, b"\x02" + sealed()[1:], context("S1", "G1"))
    assert (short.value.code, version.value.code) == ("seal_truncated", "seal_version")


def test_a_low_order_ephemeral_key_is_refused_not_raised():
    with pytest.raises(SealError) as refused:
        open_sealed(CLOUD, b"\x01" + bytes(32) + bytes(16), b"")
    assert refused.value.code == "seal_bad_key"


def test_a_well_sealed_body_that_is_no_binding_is_malformed():
    bad_bodies = [
        b"\xff",  # not CBOR
        cbor2.dumps([1, 2]),
        cbor2.dumps({"holder": b"H" * 8}),
        cbor2.dumps({**_body(), "node": "G2"}),  # names another node than the sender
        cbor2.dumps({**_body(), "embedding": b"\x00" * 511}),
        cbor2.dumps({**_body(), "embedding": np.full(128, np.nan, "<f4").tobytes()}),
        cbor2.dumps({**_body(), "extra": 1}),
        cbor2.dumps({**_body(), "at": 2**63}),  # past any date: the cloud could not read it
        cbor2.dumps({**_body(), "at": True}),  # a bool is no instant
    ]
    for body in bad_bodies:
        raw = seal_bytes(CLOUD.public_key(), body, context("S1", "G1"))
        with pytest.raises(BindingError) as refused:
            open_binding(CLOUD, "S1", "G1", raw)
        assert refused.value.code == "binding_malformed", body


def _body() -> dict:
    return {
        "holder": b"H" * 8,
        "embedding": embedding_bytes(EMBEDDING),
        "ticket": b"\x02" * 8,
        "node": "G1",
        "at": 1,
    }


def test_a_public_key_round_trips_through_its_raw_bytes_and_a_short_one_is_refused():
    assert raw_public(public_from(raw_public(CLOUD.public_key()))) == raw_public(CLOUD.public_key())
    with pytest.raises(ValueError):
        public_from(b"\x00" * 31)


@given(st.binary(max_size=800))
def test_any_bytes_as_a_seal_yield_a_code_never_a_crash(data):
    try:
        open_binding(CLOUD, "S1", "G1", data)
    except Refusal as refused:
        assert refused.code in SEAL_CODES or refused.code == "binding_malformed"
