"""Events a gate reports (entries, passages, rollbacks, denials, alarms, heartbeats), signed.

Each is a signed document (keys/signed_document.py) of type ``gate_event``, signed by the
*node's* identity key rather than the root, so the cloud can prove which gate recorded an
entry and a broker cannot invent one. The document's seq is the node's outbox sequence, the
idempotency key with the node id. Body::

    {"node": "G1", "kind": "use" | "passage" | "rollback" | "denial" | "alarm" | "heartbeat"
     | "face_bind", "at": <Unix ms>, "data": {...}}

``face_bind`` travels on the node's ``face`` topic, every other kind on its ``event`` topic
(``topic_kind``); its data is ``{"sealed": bytes}`` (keys/face_binding.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cbor_strict import CborError, decode_item
from keys.cose import EnvelopeError, Signer, decode_sign1
from keys.signed_document import DocumentError, SignedDocument, sign_document, verify_document

DOC_TYPE = "gate_event"
KINDS = ("use", "passage", "rollback", "denial", "alarm", "heartbeat", "face_bind")
FACE_KINDS = frozenset({"face_bind"})  # the kinds sent on the face topic, not the event topic
MAX_EVENT_BYTES = 4096
MAX_SEQ = 2**63 - 1  # the cloud stores seqs as BIGINT: one beyond is refused, not a crash


@dataclass(frozen=True, slots=True)
class GateEvent:
    """A verified event. ``raw`` is the signed bytes that prove it: its own ``gate_event``
    document, or the ``gate_event_batch`` that holds it (keys/gate_event_batch.py), whose
    SHA-256 is then ``batch`` (None for an event signed alone)."""

    site: str
    node: str
    seq: int
    kind: str
    at: datetime
    data: dict[str, Any]
    raw: bytes
    batch: bytes | None = None


def sign_event(
    node_key: Signer, *, site: str, node: str, seq: int, kind: str, at_ms: int, data: dict[str, Any]
) -> bytes:
    body = {"node": node, "kind": kind, "at": at_ms, "data": data}
    return sign_document(
        node_key, DOC_TYPE, site, seq, body, datetime.fromtimestamp(at_ms / 1000, UTC)
    )


def topic_kind(kind: str) -> str:
    """The gate topic level (keys/topics.py ``Kind``) an event of ``kind`` is published on."""
    return "face" if kind in FACE_KINDS else "event"


def peek_node(raw: bytes) -> str | None:
    """The node an event claims to come from, read *before* verifying, to find its key."""
    try:
        return read_node(raw)
    except DocumentError:
        return None


def read_node(raw: bytes, max_bytes: int = MAX_EVENT_BYTES) -> str:
    """As ``peek_node``, but say why an event is unreadable (``DocumentError``: bad_cbor,
    duplicate_key, malformed...), so a refusal at the gate carries its reason. ``max_bytes``:
    larger for a batch of events (keys/gate_event_batch.py ``peek_report_node``)."""
    try:
        envelope = decode_sign1(raw, max_bytes=max_bytes)
        payload = decode_item(envelope.payload, max_bytes=max_bytes)
    except EnvelopeError as exc:
        raise DocumentError(exc.reason.value, exc.detail) from None
    except CborError as exc:
        raise DocumentError(exc.code, str(exc)) from None
    body = payload.get(5) if isinstance(payload, dict) else None
    node = body.get("node") if isinstance(body, dict) else None
    if not isinstance(node, str):
        raise DocumentError("malformed", "not a signed gate event")
    return node


def verify_event(raw: bytes, node_key: Ed25519PublicKey, site: str | None) -> GateEvent:
    """Check the node's signature and the event's shape; ``DocumentError`` otherwise."""
    if len(raw) > MAX_EVENT_BYTES:
        raise DocumentError("too_large", f"event of {len(raw)} bytes")
    return event_of(verify_document(raw, node_key, doc_type=DOC_TYPE, site=site))


def event_of(document: SignedDocument) -> GateEvent:
    """The event a verified ``gate_event`` document holds; ``DocumentError`` if its body is
    not one."""
    body = document.body
    if not (isinstance(body, dict) and isinstance(body.get("node"), str) and reported(body)):
        raise DocumentError("malformed", "event body needs node, kind, at, data")
    if document.seq > MAX_SEQ:
        raise DocumentError("malformed", f"seq {document.seq} is beyond {MAX_SEQ}")
    at = event_time(body["at"])
    return GateEvent(
        document.site, body["node"], document.seq, body["kind"], at, body["data"], document.raw
    )


def event_time(at_ms: int) -> datetime:
    """An event's Unix ms as a time; ``DocumentError`` for one no datetime can hold (a signed
    event from year 300,000 must be refused, not crash the batch it came in)."""
    try:
        return datetime.fromtimestamp(at_ms / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        raise DocumentError("malformed", f"event time {at_ms} ms is out of range") from None


def reported(fields: dict[Any, Any]) -> bool:
    """The fields every event carries, single or batched: a known kind, a time in Unix ms
    (an int) and a data map."""
    return (
        fields.get("kind") in KINDS
        and isinstance(fields.get("at"), int)
        and isinstance(fields.get("data"), dict)
    )
