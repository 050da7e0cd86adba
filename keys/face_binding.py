"""A face bound at a pass's first entry, as a gate reports it to the cloud: sealed, never in clear.

An annual pass sold online has no enrolment photo; the gate that admits it first binds the face
it saw (gate_node/decision/engine.py). So that every gate of the site holds the *same* face,
the gate reports the binding in a ``face_bind`` event (keys/gate_event.py, on topic
``scenic/{site}/gate/{node}/face``) whose data is ``{"sealed": <bytes>}``: this record sealed
to the cloud's face key (keys/sealed_box.py), with ``context`` = ``b"face_bind/{site}/{node}"``.
The key is the one the root-signed site config publishes (``face_key``), so a gate seals only
to a key the root vouched for. The plaintext, a CBOR map::

    {"holder": bstr 8-32 (the ticket's holder reference), "embedding": bstr 512 (128 float32
     LE), "ticket": bstr (ticket id), "node": tstr, "at": int (Unix ms, 0..MAX_AT_MS)}

Sealed, it is 49 bytes more than that (about 640 bytes in all): well inside an event's 4 KiB.
``open_binding`` returns a ``FaceBinding`` or raises ``SealError`` (keys/sealed_box.py) with a
seal code, or ``binding_malformed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from keys.cbor_strict import CborError, decode_item
from keys.errors import Refusal
from keys.face_embedding import embedding_bytes, embedding_from
from keys.sealed_box import open_sealed, seal

KIND = "face_bind"  # the gate event kind
MAX_PLAIN_BYTES = 1024
# The last millisecond a Python datetime holds (9999-12-31T23:59:59.999Z): a later ``at``
# would overflow the cloud's ``datetime.fromtimestamp`` inside the ingest's transaction.
MAX_AT_MS = 253_402_300_799_999


class BindingError(Refusal):
    """A sealed binding opened, but what it holds is not a binding."""

    def __init__(self, detail: str) -> None:
        super().__init__("binding_malformed", detail)


@dataclass(frozen=True)
class FaceBinding:
    holder: bytes
    embedding: np.ndarray
    ticket_id: bytes
    node: str
    at_ms: int


def context(site: str, node: str) -> bytes:
    """The seal's associated data: a binding opens only as the site and node that sealed it."""
    return f"face_bind/{site}/{node}".encode()


def seal_binding(recipient: X25519PublicKey, site: str, binding: FaceBinding) -> bytes:
    plain = cbor2.dumps(
        {
            "holder": binding.holder,
            "embedding": embedding_bytes(binding.embedding),
            "ticket": binding.ticket_id,
            "node": binding.node,
            "at": binding.at_ms,
        }
    )
    return seal(recipient, plain, context(site, binding.node))


def open_binding(private: X25519PrivateKey, site: str, node: str, sealed: bytes) -> FaceBinding:
    """The binding sealed by ``node`` of ``site``; ``SealError`` or ``BindingError``."""
    plain = open_sealed(private, sealed, context(site, node))
    try:
        body = decode_item(plain, max_bytes=MAX_PLAIN_BYTES)
    except CborError as exc:
        raise BindingError(str(exc)) from None
    if not (
        isinstance(body, dict)
        and set(body) == {"holder", "embedding", "ticket", "node", "at"}
        and isinstance(body["holder"], bytes)
        and 8 <= len(body["holder"]) <= 32
        and isinstance(body["ticket"], bytes)
        and 1 <= len(body["ticket"]) <= 32
        and body["node"] == node
        and type(body["at"]) is int  # not a bool
        and 0 <= body["at"] <= MAX_AT_MS
    ):
        raise BindingError("needs holder, embedding, ticket, node (the sender), at")
    try:
        embedding = embedding_from(body["embedding"])
    except ValueError as exc:
        raise BindingError(str(exc)) from None
    return FaceBinding(body["holder"], embedding, body["ticket"], body["node"], body["at"])
