"""Face enrolments: which face belongs to which holder, as root-signed snapshots and deltas.

The cloud computes an embedding from a photo taken at purchase or at the window and sends each
site a root-signed document of type ``faces`` (keys/signed_document.py) with the body::

    {"kind": "snapshot" | "delta",
     "add":    [[holder_ref (bstr 8-32), embedding (bstr 512: 128 float32 LE), [ticket_text]]],
     "remove": [holder_ref, ...]}

``holder_ref`` is the ticket's holder reference (keys/holder.py): a real-name ticket's QR says
whose face to compare with (1:1). The ticket texts let a gate admit by face alone (1:N, annual
passes and members): each is an ordinary issuer-signed ticket the gate verifies and decides on
as if scanned; an enrolment with no ticket serves only 1:1.

A snapshot replaces everything held; a delta must carry exactly the next seq (a gap raises
``SequenceGap``: the gate asks for a snapshot, as with revocations), and ``remove`` is how a
member's right to be forgotten reaches every gate. No image ever travels: 512 bytes per face.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from keys.cose import Signer
from keys.face_embedding import embedding_bytes, embedding_from
from keys.revocation import SequenceGap
from keys.signed_document import DocumentError, SignedDocument, sign_document

DOC_TYPE = "faces"
KINDS = ("snapshot", "delta")


@dataclass(frozen=True)
class Enrolment:
    holder: bytes
    embedding: np.ndarray  # float32 (128,)
    tickets: tuple[str, ...] = ()


class FaceEnrolments:
    """The enrolments a gate holds now, and the seq of the last document applied."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.entries: dict[bytes, Enrolment] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, document: SignedDocument) -> list[bytes]:
        """Take a verified ``faces`` document; changes nothing on error. Returns the holders
        no longer enrolled (removed, or left out of a snapshot): their first-entry bindings
        must go too."""
        kind, added, removed = _parse(document.body)
        if kind == "snapshot":
            if self.seq is not None and document.seq <= self.seq:
                raise DocumentError("stale_sequence", f"faces seq {document.seq} <= {self.seq}")
            entries: dict[bytes, Enrolment] = {}
        else:
            if self.seq is not None and document.seq <= self.seq:
                raise DocumentError("stale_sequence", f"faces seq {document.seq} <= {self.seq}")
            if self.seq is None or document.seq != self.seq + 1:
                raise SequenceGap(self.seq, document.seq, DOC_TYPE)
            entries = dict(self.entries)
        for holder in removed:
            entries.pop(holder, None)
        for enrolment in added:
            entries[enrolment.holder] = enrolment
        gone = [h for h in self.entries if h not in entries]
        gone += [h for h in removed if h not in self.entries and h not in entries]
        self.entries = entries
        self.seq = document.seq
        return gone

    def to_body(self) -> dict[str, Any]:
        """Everything held as one snapshot body (what the gate keeps, encrypted, on disk)."""
        return {
            "kind": "snapshot",
            "add": [
                [e.holder, embedding_bytes(e.embedding), list(e.tickets)]
                for e in self.entries.values()
            ],
            "remove": [],
        }

    @classmethod
    def from_body(cls, seq: int, body: Any) -> FaceEnrolments:
        held = cls()
        _, added, _ = _parse(body)
        held.entries = {e.holder: e for e in added}
        held.seq = seq
        return held


def _parse(body: Any) -> tuple[str, list[Enrolment], list[bytes]]:
    if not isinstance(body, dict) or set(body) != {"kind", "add", "remove"}:
        raise DocumentError("malformed", "faces body needs kind, add and remove")
    kind, add, remove = body["kind"], body["add"], body["remove"]
    if kind not in KINDS or not isinstance(add, list) or not isinstance(remove, list):
        raise DocumentError("malformed", "faces kind is snapshot or delta; add, remove lists")
    added = []
    for row in add:
        if not (
            isinstance(row, list)
            and len(row) == 3
            and _holder(row[0])
            and isinstance(row[2], list)
            and all(isinstance(t, str) and len(t) < 400 for t in row[2])
        ):
            raise DocumentError("malformed", "faces add rows are [holder_ref, embedding, tickets]")
        try:
            embedding = embedding_from(row[1])
        except ValueError as exc:
            raise DocumentError("malformed", str(exc)) from None
        added.append(Enrolment(row[0], embedding, tuple(row[2])))
    if not all(_holder(h) for h in remove):
        raise DocumentError("malformed", "faces remove holds holder references")
    return kind, added, list(remove)


def _holder(value: object) -> bool:
    return isinstance(value, bytes) and 8 <= len(value) <= 32


def sign_face_enrolments(
    root: Signer,
    *,
    site: str,
    seq: int,
    kind: str,
    add: Mapping[bytes, tuple[np.ndarray, Sequence[str]]] | None = None,
    remove: Sequence[bytes] = (),
    issued_at: datetime | None = None,
) -> bytes:
    """A root-signed ``faces`` document: ``add`` maps holder_ref -> (embedding, ticket texts)."""
    if kind not in KINDS:
        raise ValueError("kind is snapshot or delta")
    rows = [
        [holder, embedding_bytes(embedding), list(tickets)]
        for holder, (embedding, tickets) in (add or {}).items()
    ]
    body = {"kind": kind, "add": rows, "remove": list(remove)}
    return sign_document(root, DOC_TYPE, site, seq, body, issued_at)
