"""COSE_Sign1 (RFC 9052 section 4.2) with EdDSA over Ed25519: the one signed envelope we use.

Tickets and every root-signed downlink document share it, so any COSE library can check them
(the tests check against pycose both ways).

The bytes of a ticket, in order (CBOR major types in brackets)::

    D2                      tag 18: COSE_Sign1
    84                      array of 4
    47 A2 01 27 04 42 k k   [bstr 7] protected header, itself CBOR: {1 (alg): -8 (EdDSA),
                                                                      4 (kid): h'kk'}
    A0                      [map 0] unprotected header: empty (nothing unauthenticated)
    58 nn <claims>          [bstr] payload: the CBOR claims map (keys/claims_cbor.py)
    58 40 <64 bytes>        [bstr 64] Ed25519 signature over Sig_structure

    Sig_structure = ["Signature1", protected bstr, external_aad h'', payload bstr]

The protected header must hold exactly alg and kid: a ``crit`` header or anything else we do
not understand is refused rather than ignored. The kid is 1-4 bytes (two is usual): it only
names a key in a keyring, it proves nothing by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cbor2

from keys.cbor_strict import CborError, decode_item
from keys.errors import Refusal
from keys.reasons import Reason

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
ALG_EDDSA = -8
SIGNATURE_BYTES = 64
MAX_KID_BYTES = 4


class Signer(Protocol):
    """Anything that signs with Ed25519 under a key id (keys/keystore.py's ``SigningKey``)."""

    @property
    def kid(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class EnvelopeError(Refusal):
    """The envelope is wrong; ``reason`` says how (its value is the ``code``)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason.value, detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed, not yet verified COSE_Sign1."""

    kid: bytes
    payload: bytes
    signature: bytes
    to_be_signed: bytes


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_sign1(signer: Signer, payload: bytes) -> bytes:
    """Sign ``payload`` and return the tagged COSE_Sign1 bytes."""
    protected = cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: signer.kid}, canonical=True)
    signature = signer.sign(sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def decode_sign1(data: bytes, *, max_bytes: int) -> Sign1:
    """Parse the envelope; raise ``EnvelopeError`` with the reason it is wrong."""
    try:
        item = decode_item(data, max_bytes=max_bytes, allowed_tags=frozenset({COSE_SIGN1_TAG}))
    except CborError as exc:
        raise EnvelopeError(cbor_reason(exc, Reason.BAD_CBOR), str(exc)) from None
    if not isinstance(item, cbor2.CBORTag) or item.tag != COSE_SIGN1_TAG:
        raise EnvelopeError(Reason.NOT_COSE_SIGN1, "not tagged 18 (COSE_Sign1)")
    parts = item.value
    if not isinstance(parts, list) or len(parts) != 4:
        raise EnvelopeError(Reason.NOT_COSE_SIGN1, "not an array of 4")
    protected, unprotected, payload, signature = parts
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, dict)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise EnvelopeError(Reason.NOT_COSE_SIGN1, "element types are not bstr, map, bstr, bstr")
    if unprotected:
        raise EnvelopeError(Reason.BAD_HEADER, "unprotected header must be empty")
    if len(signature) != SIGNATURE_BYTES:
        raise EnvelopeError(Reason.NOT_COSE_SIGN1, f"signature is {len(signature)} bytes, not 64")
    kid = _parse_protected(protected)
    return Sign1(kid, payload, signature, sig_structure(protected, payload))


def _parse_protected(protected: bytes) -> bytes:
    try:
        header = decode_item(protected, max_bytes=32)
    except CborError as exc:
        reason = cbor_reason(exc, Reason.BAD_HEADER)
        raise EnvelopeError(reason, f"protected header: {exc}") from None
    if not isinstance(header, dict) or set(header) != {HEADER_ALG, HEADER_KID}:
        raise EnvelopeError(Reason.BAD_HEADER, "protected header must hold exactly alg and kid")
    if header[HEADER_ALG] != ALG_EDDSA:
        raise EnvelopeError(Reason.WRONG_ALG, f"alg {header[HEADER_ALG]!r} is not EdDSA (-8)")
    kid = header[HEADER_KID]
    if not isinstance(kid, bytes) or not 1 <= len(kid) <= MAX_KID_BYTES:
        raise EnvelopeError(Reason.BAD_HEADER, "kid must be 1-4 bytes")
    return kid


def cbor_reason(exc: CborError, otherwise: Reason) -> Reason:
    """The reason for a CBOR refusal: truncated, a duplicate map key, or ``otherwise``."""
    if exc.truncated:
        return Reason.TRUNCATED
    if exc.duplicate:
        return Reason.DUPLICATE_KEY
    return otherwise
