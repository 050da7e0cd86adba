"""Card index: which tickets an ID card or a member's RFID card opens, signed by the root key.

A visitor who bought a real-name ticket (实名制) or holds an annual pass card may walk up with
only the card. The gate cannot ask the cloud, so the cloud sends each site root-signed
documents of type ``cards`` (keys/signed_document.py), one sequence per site, like revocation
lists (keys/revocation.py). Bodies::

    snapshot: {"entries": [[holder_ref (bstr), ticket_text (tstr)], ...]}
              (optionally "kind": "snapshot"; the whole index as of its seq)
    delta:    {"kind": "delta",
               "add":    [[holder_ref, ticket_text], ...],
               "remove": [[holder_ref, ticket_text], ...]}

- A **snapshot** with seq N replaces whatever a gate holds with a lower seq.
- A **delta** with seq N changes the index held at exactly N-1: a paid real-name ticket or a
  newly bound RFID card is added, a refunded or changed ticket removed. A gate holding less
  raises ``SequenceGap`` (doc type ``cards``) and asks for a snapshot.

The gate computes ``holder_ref(salt, kind, card read)`` (keys/holder.py) and finds the ticket
texts. Each text is an ordinary issuer-signed ticket that the gate verifies and decides on as
if it had been scanned: the index adds no trust of its own beyond "this card belongs to that
ticket", which the root key vouches for. Removing an entry is hygiene, not security: a
refunded ticket is revoked anyway (revocation list), so a gate that has not yet seen the
removal still refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from keys.cose import Signer
from keys.revocation import SequenceGap
from keys.signed_document import DocumentError, SignedDocument, require_newer, sign_document

DOC_TYPE = "cards"
Row = tuple[bytes, str]


class CardIndex:
    """Which ticket texts an ID or RFID card's holder reference opens (a ``cards`` document).

    Adds no trust of its own: every ticket found is verified and decided as if scanned."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self._tickets: dict[bytes, list[str]] = {}

    def __len__(self) -> int:
        return len(self._tickets)

    def tickets_for(self, holder: bytes) -> list[str]:
        return self._tickets.get(holder, [])

    def apply(self, document: SignedDocument) -> None:
        """Take a verified snapshot or delta. Refuses an older one (``stale_sequence``) and a
        delta that does not follow the held seq (``SequenceGap``); changes nothing on error."""
        body = document.body if isinstance(document.body, dict) else None
        if body is None:
            raise DocumentError("malformed", "cards body must be a map")
        require_newer(document, self.seq)
        if body.get("kind", "snapshot") == "snapshot":
            tickets: dict[bytes, list[str]] = {}
            for holder, text in _rows(body.get("entries")):
                tickets.setdefault(holder, []).append(text)
            self._tickets, self.seq = tickets, document.seq
            return
        if body.get("kind") != "delta":
            raise DocumentError("malformed", "cards kind must be snapshot or delta")
        added, removed = _rows(body.get("add")), _rows(body.get("remove"))
        if self.seq is None or document.seq != self.seq + 1:
            raise SequenceGap(self.seq, document.seq, DOC_TYPE)
        tickets = {holder: list(texts) for holder, texts in self._tickets.items()}
        for holder, text in removed:
            kept = [t for t in tickets.get(holder, []) if t != text]
            if kept:
                tickets[holder] = kept
            else:
                tickets.pop(holder, None)
        for holder, text in added:
            if text not in tickets.setdefault(holder, []):
                tickets[holder].append(text)
        self._tickets, self.seq = tickets, document.seq

    def replace(self, document: SignedDocument) -> None:
        """A whole index (a snapshot); kept for callers that only ever send snapshots."""
        self.apply(document)


def _rows(rows: object) -> list[Row]:
    if not isinstance(rows, list):
        raise DocumentError("malformed", "cards body needs entries (or add and remove) lists")
    checked: list[Row] = []
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) == 2
            and isinstance(row[0], bytes)
            and 8 <= len(row[0]) <= 32
            and isinstance(row[1], str)
            and len(row[1]) < 400
        ):
            raise DocumentError("malformed", "cards entries are [holder_ref, ticket_text]")
        checked.append((row[0], row[1]))
    return checked


def sign_card_index(
    root: Signer,
    *,
    site: str,
    seq: int,
    entries: Mapping[bytes, Sequence[str]],
    issued_at: datetime | None = None,
) -> bytes:
    """A snapshot: the whole index of the site at ``seq``."""
    rows = [[holder, text] for holder, texts in entries.items() for text in texts]
    return sign_document(
        root, DOC_TYPE, site, seq, {"kind": "snapshot", "entries": rows}, issued_at
    )


def sign_card_delta(
    root: Signer,
    *,
    site: str,
    seq: int,
    add: Sequence[Row] = (),
    remove: Sequence[Row] = (),
    issued_at: datetime | None = None,
) -> bytes:
    """A delta: entries added and removed since ``seq - 1``."""
    body = {
        "kind": "delta",
        "add": [[holder, text] for holder, text in add],
        "remove": [[holder, text] for holder, text in remove],
    }
    return sign_document(root, DOC_TYPE, site, seq, body, issued_at)
