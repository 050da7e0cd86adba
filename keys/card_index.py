"""Card index: which tickets an ID card or a member's RFID card opens, signed by the root key.

A visitor who bought a real-name ticket (实名制) or holds an annual pass card may walk up with
only the card. The gate cannot ask the cloud, so the cloud sends each site a root-signed
document of type ``cards`` (keys/signed_document.py) with the body::

    {"entries": [[holder_ref (bstr, keys/holder.py), ticket_text (tstr)], ...]}

The gate computes ``holder_ref(salt, kind, card read)`` and finds the ticket texts. Each text
is an ordinary issuer-signed ticket that the gate verifies and decides on as if it had been
scanned: the index adds no trust of its own beyond "this card belongs to that ticket", which
the root key vouches for. A new index replaces the old one (its seq must be higher).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from keys.cose import Signer
from keys.signed_document import DocumentError, SignedDocument, sign_document

DOC_TYPE = "cards"


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

    def replace(self, document: SignedDocument) -> None:
        """Take a verified ``cards`` document; refuses an older one, changes nothing on error."""
        if self.seq is not None and document.seq <= self.seq:
            raise DocumentError("stale_sequence", f"cards seq {document.seq} <= {self.seq}")
        body = document.body
        rows = body.get("entries") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise DocumentError("malformed", "cards body needs an entries list")
        tickets: dict[bytes, list[str]] = {}
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
            tickets.setdefault(row[0], []).append(row[1])
        self._tickets = tickets
        self.seq = document.seq


def sign_card_index(
    root: Signer,
    *,
    site: str,
    seq: int,
    entries: Mapping[bytes, Sequence[str]],
    issued_at: datetime | None = None,
) -> bytes:
    rows = [[holder, text] for holder, texts in entries.items() for text in texts]
    return sign_document(root, DOC_TYPE, site, seq, {"entries": rows}, issued_at)
