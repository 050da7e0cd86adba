"""Tickets as text: issue one (sign the claims) and verify one (never raising, always a reason).

Text form: ``PREFIX`` + base45(COSE_Sign1 bytes). The prefix ``J1`` (景区, version 1) is in the
QR alphanumeric set like the base45 that follows, so the whole code is alphanumeric mode.
A day ticket is ~148 characters: QR version 6 at level M holds 154 (ISO/IEC 18004 table 7).

``verify_ticket`` checks the text, the envelope, the keyring and the signature, then the
claims' shape and ranges: everything that does not depend on the time, the place or earlier
uses. Those belong to the gate's decision engine. Checks run in this order, cheapest and most
basic first, and the signature is checked before the claims are parsed, so nothing an
attacker wrote is interpreted before it is authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from keys.base45 import Base45Error, b45decode, b45encode
from keys.cbor_strict import CborError, decode_item
from keys.claims import ClaimError, TicketClaims
from keys.claims_cbor import from_cbor_map, to_cbor_map
from keys.cose import EnvelopeError, Signer, decode_sign1, encode_sign1
from keys.keyring import Keyring
from keys.keystore import verify_signature
from keys.reasons import Reason

PREFIX = "J1"
MAX_TEXT = 400
"""No ticket we issue comes near this (a version 7 code holds 178); longer text is refused
before any decoding, so a hostile code cannot make a gate work hard."""

MAX_ENVELOPE_BYTES = (MAX_TEXT - len(PREFIX)) // 3 * 2 + 1


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify_ticket`` found: a reason, and what could be read before it."""

    reason: Reason
    kid: bytes | None = None
    claims: TicketClaims | None = None
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.reason is Reason.OK


def issue_ticket(signer: Signer, claims: TicketClaims) -> str:
    """Sign the claims and return the ticket text for the QR code."""
    payload = cbor2.dumps(to_cbor_map(claims), canonical=True)
    return PREFIX + b45encode(encode_sign1(signer, payload))


def verify_ticket(text: str, keyring: Keyring) -> Verification:
    """Verify a ticket's text against a keyring; never raises."""
    # A decision must come out of this function whatever the input: an unexpected exception is
    # a bug, but at a gate it must still become a refusal, not a stuck lane.
    try:
        return _verify(text, keyring)
    except Exception as exc:  # boundary: one payload, one answer
        return Verification(Reason.INTERNAL_ERROR, detail=f"{type(exc).__name__}: {exc}")


def _verify(text: str, keyring: Keyring) -> Verification:
    text = text.rstrip("\r\n")  # serial scanners end a read with CR/LF
    if not text:
        return Verification(Reason.EMPTY)
    if len(text) > MAX_TEXT:
        return Verification(Reason.TOO_LONG, detail=f"{len(text)} characters")
    if not text.startswith(PREFIX):
        return Verification(Reason.BAD_PREFIX)
    try:
        raw = b45decode(text[len(PREFIX) :])
    except Base45Error as exc:
        return Verification(
            Reason.TRUNCATED if exc.truncated else Reason.NOT_BASE45, detail=str(exc)
        )
    try:
        envelope = decode_sign1(raw, max_bytes=MAX_ENVELOPE_BYTES)
    except EnvelopeError as exc:
        return Verification(exc.reason, detail=exc.detail)
    issuer = keyring.lookup(envelope.kid)
    if isinstance(issuer, Reason):
        return Verification(issuer, kid=envelope.kid)
    if not verify_signature(issuer.public_key, envelope.signature, envelope.to_be_signed):
        return Verification(Reason.BAD_SIGNATURE, kid=envelope.kid)
    try:
        claims = from_cbor_map(decode_item(envelope.payload, max_bytes=MAX_ENVELOPE_BYTES))
    except CborError as exc:
        reason = Reason.DUPLICATE_KEY if exc.duplicate else Reason.CLAIMS_MALFORMED
        return Verification(reason, kid=envelope.kid, detail=str(exc))
    except ClaimError as exc:
        return Verification(exc.reason, kid=envelope.kid, detail=exc.detail)
    return Verification(Reason.OK, kid=envelope.kid, claims=claims)
