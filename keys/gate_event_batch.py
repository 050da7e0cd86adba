"""Gate events signed together: one node signature over up to ``MAX_BATCH_EVENTS`` events.

Why: checking an Ed25519 signature costs ~290 µs on the cloud's 2-core machine, so one per
event caps two ingest workers near 6,600 events/s before any SQL. A gate whose outbox holds
several events when its uplink pumps (a busy lane, a drain after an outage) signs them as one
``gate_event_batch``; a lone event still goes out at once as its own ``gate_event``
(keys/gate_event.py), so batching adds no latency. Every event stays covered by the node's
signature: the cloud keeps the batch's signed bytes and can prove any stored event against
the gate's key (``event_in``).

A signed document (keys/signed_document.py) of type ``gate_event_batch``, signed by the node's
identity key like a single event::

    seq        the first event's seq (the events carry their own)
    issued_at  the last event's time (seconds)
    body       {"node": "G1", "events": [bstr, ...]}   1 to MAX_BATCH_EVENTS byte strings

and each byte string is one event, the fields of today's single event body but the node, with
its own seq::

    {"seq": 17, "kind": "use" | "passage" | ..., "at": <Unix ms>, "data": {...}}

Why each event is its own byte string: its size is bounded alone (``MAX_EVENT_BYTES``, as a
single event's), and one the cloud cannot read (bad CBOR, a duplicate key, a missing field, an
unknown kind) is refused alone, with its reason, while the others of the signed batch are
stored. A batch that fails as a whole (signature, site, envelope, over a cap) stores nothing.
The whole document is at most ``MAX_BATCH_BYTES``, far below the brokers' packet limit
(broker/site.conf ``max_packet_size``).

Seqs within a batch are distinct: a second entry with a seq already in the batch is refused
(``duplicate_seq``), the first kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.cbor_strict import CborError, decode_item
from keys.cose import Signer
from keys.gate_event import DOC_TYPE as EVENT_TYPE
from keys.gate_event import (
    MAX_EVENT_BYTES,
    MAX_SEQ,
    GateEvent,
    event_of,
    event_time,
    read_node,
    reported,
)
from keys.signed_document import DocumentError, SignedDocument, sign_document, verify_document

DOC_TYPE = "gate_event_batch"
MAX_BATCH_EVENTS = 64
"""As many as the uplink keeps awaiting PUBACK at once (gate_node/uplink.py ``WINDOW``): a full
window is one signature; the check then costs ~5 µs an event instead of ~290."""
MAX_BATCH_BYTES = 64 * 1024
"""64 events of up to ~1 KB each; events are ~60-150 bytes, so the count is the usual bound."""
ENVELOPE_BYTES = 256
"""Room ``pack`` leaves for the COSE envelope, signature and document map around the events."""
_ENTRY_KEYS = frozenset({"seq", "kind", "at", "data"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One event, encoded as it travels inside a batch."""

    seq: int
    at_ms: int
    encoded: bytes

    @classmethod
    def of(cls, seq: int, kind: str, at_ms: int, data: dict[str, Any]) -> Entry:
        body = {"seq": seq, "kind": kind, "at": at_ms, "data": data}
        return cls(seq, at_ms, cbor2.dumps(body, canonical=True))


@dataclass(frozen=True, slots=True)
class EventRefusal:
    """One event of a validly signed batch the cloud will not store, and why."""

    code: str
    seq: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """What a verified event document (single or batch) reports: the events to store and the
    entries refused. Only ``verify_report`` makes one."""

    node: str
    events: tuple[GateEvent, ...]
    refused: tuple[EventRefusal, ...]


def sign_batch(node_key: Signer, *, site: str, node: str, entries: Sequence[Entry]) -> bytes:
    """Sign ``entries`` (in seq order) as one batch. Caps are the caller's (``pack``): a batch
    over them is signed as asked, and refused by the cloud."""
    if not entries:
        raise ValueError("a batch holds at least one event")
    body = {"node": node, "events": [entry.encoded for entry in entries]}
    last = max(entry.at_ms for entry in entries)
    return sign_document(
        node_key,
        DOC_TYPE,
        site,
        entries[0].seq,
        body,
        datetime.fromtimestamp(last / 1000, UTC),
    )


def pack(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Split ``entries`` (in order) into batches within the caps: at most ``MAX_BATCH_EVENTS``
    and, envelope included, ``MAX_BATCH_BYTES``. An entry too large for any batch goes alone
    (the cloud refuses it as ``too_large``, as it would the same event signed alone)."""
    batches: list[list[Entry]] = []
    current: list[Entry] = []
    size = ENVELOPE_BYTES
    for entry in entries:
        need = len(entry.encoded) + 5  # a byte string's head is at most 5 bytes here
        if current and (len(current) >= MAX_BATCH_EVENTS or size + need > MAX_BATCH_BYTES):
            batches.append(current)
            current, size = [], ENVELOPE_BYTES
        current.append(entry)
        size += need
    if current:
        batches.append(current)
    return batches


def peek_report_node(raw: bytes) -> str | None:
    """The node a single event or a batch claims, read before verifying (for a refusal)."""
    try:
        return read_node(raw, MAX_BATCH_BYTES)
    except DocumentError:
        return None


def verify_report(raw: bytes, node_key: Ed25519PublicKey, site: str | None) -> Report:
    """Verify a ``gate_event`` or a ``gate_event_batch`` with one signature check.

    Raises ``DocumentError`` when the document fails as a whole (too large, not COSE, bad
    signature, wrong type or site, a body that is not an event or a batch, more than
    ``MAX_BATCH_EVENTS`` events): nothing of it may be stored. Otherwise every readable entry
    is in ``events`` and every unreadable one in ``refused``."""
    if len(raw) > MAX_BATCH_BYTES:
        raise DocumentError("too_large", f"event document of {len(raw)} bytes")
    document = verify_document(raw, node_key, doc_type=(EVENT_TYPE, DOC_TYPE), site=site)
    if document.doc_type == EVENT_TYPE:
        if len(raw) > MAX_EVENT_BYTES:
            raise DocumentError("too_large", f"event of {len(raw)} bytes")
        single = event_of(document)
        return Report(single.node, (single,), ())
    return _batch(document)


def event_in(raw: bytes, node_key: Ed25519PublicKey, site: str | None, seq: int) -> GateEvent:
    """Prove one stored event: verify the signed document the cloud kept for it (a single
    event or a batch) against the node's key and return the event with ``seq``;
    ``DocumentError`` if it fails or holds no such event."""
    for gate_event in verify_report(raw, node_key, site).events:
        if gate_event.seq == seq:
            return gate_event
    raise DocumentError("not_found", f"the signed document holds no event {seq}")


def _batch(document: SignedDocument) -> Report:
    body = document.body
    node = body.get("node") if isinstance(body, dict) else None
    entries = body.get("events") if isinstance(body, dict) else None
    if not (
        isinstance(body, dict)
        and set(body) == {"node", "events"}
        and isinstance(node, str)
        and isinstance(entries, list)
        and entries
    ):
        raise DocumentError("malformed", "batch body needs node and a non-empty events list")
    if len(entries) > MAX_BATCH_EVENTS:
        raise DocumentError(
            "too_many_events", f"{len(entries)} events in a batch, at most {MAX_BATCH_EVENTS}"
        )
    digest = hashlib.sha256(document.raw).digest()
    events: list[GateEvent] = []
    refused: list[EventRefusal] = []
    seen: set[int] = set()
    for entry in entries:
        try:
            seq, kind, at, data = _entry(entry)
        except _EntryError as exc:
            refused.append(EventRefusal(exc.code, exc.seq, exc.detail))
            continue
        if seq in seen:
            refused.append(EventRefusal("duplicate_seq", seq, f"seq {seq} twice in one batch"))
            continue
        seen.add(seq)
        events.append(GateEvent(document.site, node, seq, kind, at, data, document.raw, digest))
    return Report(node, tuple(events), tuple(refused))


class _EntryError(DocumentError):
    def __init__(self, code: str, detail: str, seq: int | None = None) -> None:
        super().__init__(code, detail)
        self.seq = seq


def _entry(entry: object) -> tuple[int, str, datetime, dict[str, Any]]:
    if not isinstance(entry, bytes):
        raise _EntryError("malformed", "a batch entry must be a byte string")
    if len(entry) > MAX_EVENT_BYTES:
        raise _EntryError("too_large", f"event of {len(entry)} bytes")
    try:
        fields = decode_item(entry, max_bytes=MAX_EVENT_BYTES)
    except CborError as exc:
        raise _EntryError(exc.code, str(exc)) from None
    seq = fields.get("seq") if isinstance(fields, dict) else None
    if not (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= MAX_SEQ):
        raise _EntryError("malformed", "event needs a seq (an unsigned 63-bit integer)")
    if set(fields) != _ENTRY_KEYS or not reported(fields):
        raise _EntryError("malformed", "event needs exactly seq, kind, at, data", seq)
    try:
        at = event_time(fields["at"])
    except DocumentError as exc:
        raise _EntryError(exc.code, exc.detail, seq) from None
    return seq, fields["kind"], at, fields["data"]
