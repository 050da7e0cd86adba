"""Root-signed documents: the only way anything from the cloud changes what a gate believes.

Keyrings, revocation lists, configuration, face enrolments and signed time all travel as one
shape: a COSE_Sign1 (keys/cose.py) by the root key over a CBOR map

====  ==========  ===========================================================================
key   name        value
====  ==========  ===========================================================================
1     type        text: "keyring", "revocations", "config", "faces", "time", ...
2     site        text: the site it is for, or "*" for every site of the operator
3     seq         uint: strictly increasing per (site, type); a holder refuses anything not newer
4     issued_at   uint: Unix seconds when the cloud signed it
5     body        the type's content (plain CBOR)
====  ==========  ===========================================================================

The broker carries these but cannot forge, alter or roll them back: a forged one fails the
signature, an old one fails the sequence check (``require_newer``), and one for another site
or of another type fails ``verify_document``'s expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cbor_strict import CborError, decode_item
from keys.clock import SYSTEM
from keys.cose import EnvelopeError, Signer, decode_sign1, encode_sign1
from keys.errors import Refusal
from keys.keystore import verify_signature

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""A revocation snapshot of 100,000 tickets is about 1.5 MB; this leaves room and a bound."""

ANY_SITE = "*"


class DocumentError(Refusal):
    """A document must not be applied. ``code`` is stable (for logs and alarms)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail, f"{code}: {detail}")


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """A verified root-signed document: its type, site, seq, signing time and body.

    Only ``verify_document`` makes one, so holding one means the signature was checked."""

    doc_type: str
    site: str
    seq: int
    issued_at: datetime
    body: Any
    raw: bytes
    """The exact signed bytes, so a holder can store and forward them unchanged."""


def sign_document(
    root: Signer, doc_type: str, site: str, seq: int, body: Any, issued_at: datetime | None = None
) -> bytes:
    """Sign a document with the root key; returns the COSE_Sign1 bytes.

    ``issued_at`` defaults to now on the system clock; a service passes its own clock's now."""
    if seq < 0:
        raise ValueError("seq must be >= 0")
    when = issued_at or SYSTEM.now()
    payload = cbor2.dumps(
        {1: doc_type, 2: site, 3: seq, 4: int(when.timestamp()), 5: body}, canonical=True
    )
    return encode_sign1(root, payload)


def verify_document(
    raw: bytes,
    root_public_key: Ed25519PublicKey,
    *,
    doc_type: str | tuple[str, ...],
    site: str | None,
) -> SignedDocument:
    """Check signature, type and site; raise ``DocumentError`` on any doubt.

    ``doc_type`` may name several types, for a reader that takes more than one shape on one
    topic (a gate's single events and event batches, keys/gate_event_batch.py): the signature
    is checked once, and the caller looks at ``SignedDocument.doc_type``.

    ``site=None`` accepts a document for any site: only for operator tools inspecting a file,
    never for a gate, which always passes its own site.
    """
    accepted = (doc_type,) if isinstance(doc_type, str) else doc_type
    try:
        envelope = decode_sign1(raw, max_bytes=MAX_DOCUMENT_BYTES)
    except EnvelopeError as exc:
        raise DocumentError(exc.reason.value, exc.detail) from None
    if not verify_signature(root_public_key, envelope.signature, envelope.to_be_signed):
        raise DocumentError("bad_signature", "not signed by the pinned root key")
    try:
        payload = decode_item(envelope.payload, max_bytes=MAX_DOCUMENT_BYTES)
    except CborError as exc:
        raise DocumentError(exc.code, str(exc)) from None
    if not isinstance(payload, dict) or set(payload) != {1, 2, 3, 4, 5}:
        raise DocumentError("malformed", "document map must hold keys 1-5")
    kind, for_site, seq, issued = payload[1], payload[2], payload[3], payload[4]
    if not (isinstance(kind, str) and isinstance(for_site, str)):
        raise DocumentError("malformed", "type and site must be text")
    if not (_uint(seq) and _uint(issued) and issued < 2**33):
        raise DocumentError("malformed", "seq and issued_at must be non-negative integers")
    if kind not in accepted:
        wanted = " or ".join(accepted)
        raise DocumentError("wrong_type", f"expected a {wanted} document, got {kind}")
    if site is not None and for_site not in (site, ANY_SITE):
        raise DocumentError("wrong_site", f"document is for site {for_site}, this is {site}")
    return SignedDocument(kind, for_site, seq, datetime.fromtimestamp(issued, UTC), payload[5], raw)


def require_newer(document: SignedDocument, held_seq: int | None) -> None:
    """Refuse a replayed or stale document: its seq must exceed the one held."""
    if held_seq is not None and document.seq <= held_seq:
        raise DocumentError(
            "stale_sequence", f"{document.doc_type} seq {document.seq} <= held seq {held_seq}"
        )


def _uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
