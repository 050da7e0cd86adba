"""Our envelope is plain COSE_Sign1: pycose, an independent implementation, agrees both ways."""

from __future__ import annotations

import cbor2
from cryptography.hazmat.primitives import serialization
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from keys.base45 import b45decode
from keys.claims_cbor import to_cbor_map
from keys.reasons import Reason
from keys.ticket import PREFIX, issue_ticket, verify_ticket
from tests.keys import forge


def _pycose_key(signing_key):
    private = signing_key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return OKPKey(crv=Ed25519, d=private)


def _public_only(signing_key):
    public = signing_key.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return OKPKey(crv=Ed25519, x=public)


def test_pycose_verifies_a_ticket_we_issued(issuer_key, day_claims):
    text = issue_ticket(issuer_key, day_claims)
    message = Sign1Message.decode(b45decode(text[len(PREFIX) :]))
    message.key = _public_only(issuer_key)
    assert message.verify_signature()
    assert message.phdr[KID] == b"I1"
    assert cbor2.loads(message.payload) == to_cbor_map(day_claims)


def test_we_verify_a_ticket_pycose_signed_with_our_key(issuer_key, keyring, day_claims):
    message = Sign1Message(
        phdr={Algorithm: EdDSA, KID: issuer_key.kid},
        payload=cbor2.dumps(to_cbor_map(day_claims)),
    )
    message.key = _pycose_key(issuer_key)
    result = verify_ticket(forge.text(message.encode()), keyring)
    assert result.reason is Reason.OK
    assert result.claims == day_claims


def test_pycose_rejects_a_ticket_we_would_reject_for_its_signature(issuer_key, day_claims):
    raw = bytearray(b45decode(issue_ticket(issuer_key, day_claims)[len(PREFIX) :]))
    raw[-1] ^= 0x01
    message = Sign1Message.decode(bytes(raw))
    message.key = _public_only(issuer_key)
    assert not message.verify_signature()
