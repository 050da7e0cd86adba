"""Revocation lists: refunded and changed tickets, which every gate must refuse, even offline.

The cloud publishes root-signed documents of type ``revocations`` (keys/signed_document.py),
one sequence per site. Body::

    {"kind": "snapshot" | "delta", "revoked": [[ticket_id (bstr), last_day (uint)], ...]}

- A **snapshot** with seq N is the whole list as of N; it replaces whatever a gate holds with
  a lower seq (a gate that was away for weeks catches up in one document).
- A **delta** with seq N adds entries to the list at exactly N-1. A gate holding less raises
  ``SequenceGap`` and asks for what it misses (from ``missing_from``); a replayed or older
  delta is refused as stale. Nothing can be un-revoked: no document removes an entry.
- ``last_day`` is the ticket's last valid site-local day (days since 1970-01-01). After it the
  ticket is refused as expired anyway, so ``prune`` drops the entry and the list stays the
  size of the tickets still alive, not of all refunds ever made.

Lookups are one dict probe: O(1), about 0.1 us.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from keys.claims import day_from_number, day_number
from keys.cose import Signer
from keys.signed_document import DocumentError, SignedDocument, require_newer, sign_document

DOC_TYPE = "revocations"


class SequenceGap(DocumentError):
    """A delta arrived that does not follow the held sequence; fetch ``doc_type`` from
    ``missing_from`` (revocations, or face enrolments: keys/face_enrolment.py)."""

    def __init__(self, held: int | None, got: int, doc_type: str = "revocations") -> None:
        self.missing_from = 0 if held is None else held + 1
        self.doc_type = doc_type  # revocations or cards (keys/card_index.py): what to ask for
        super().__init__(
            "sequence_gap",
            f"held {doc_type} seq {held}, got delta {got}: need {self.missing_from}..{got - 1}",
        )


class RevocationList:
    """The revoked tickets a gate refuses, with the seq of the document it holds.

    Never un-revokes: only ``prune`` drops an entry, once its ticket has expired anyway."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self._last_day: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._last_day)

    def is_revoked(self, ticket_id: bytes) -> bool:
        return ticket_id in self._last_day

    def apply(self, document: SignedDocument) -> int:
        """Apply a verified snapshot or delta; return how many entries it added.

        Raises ``DocumentError`` (stale, malformed) or ``SequenceGap``; on error nothing changes.
        """
        kind, entries = _parse_body(document.body)
        if kind == "snapshot":
            require_newer(document, self.seq)
            self._last_day = entries
            self.seq = document.seq
            return len(entries)
        require_newer(document, self.seq)
        if self.seq is None or document.seq != self.seq + 1:
            raise SequenceGap(self.seq, document.seq)
        before = len(self._last_day)
        for ticket_id, last in entries.items():
            self._last_day[ticket_id] = max(last, self._last_day.get(ticket_id, 0))
        self.seq = document.seq
        return len(self._last_day) - before

    def prune(self, today: date) -> int:
        """Drop entries whose ticket can no longer be valid; return how many were dropped."""
        cutoff = day_number(today)
        expired = [tid for tid, last in self._last_day.items() if last < cutoff]
        for ticket_id in expired:
            del self._last_day[ticket_id]
        return len(expired)

    def entries(self) -> dict[bytes, date]:
        return {tid: day_from_number(last) for tid, last in self._last_day.items()}


def sign_revocations(
    root: Signer,
    *,
    site: str,
    seq: int,
    kind: str,
    revoked: Mapping[bytes, date],
    issued_at: datetime | None = None,
) -> bytes:
    """Sign a snapshot or a delta of revoked tickets (ticket id -> last valid day)."""
    if kind not in ("snapshot", "delta"):
        raise ValueError("kind must be snapshot or delta")
    body = {"kind": kind, "revoked": [[tid, day_number(day)] for tid, day in revoked.items()]}
    return sign_document(root, DOC_TYPE, site, seq, body, issued_at)


def _parse_body(body: object) -> tuple[str, dict[bytes, int]]:
    if not isinstance(body, dict) or body.get("kind") not in ("snapshot", "delta"):
        raise DocumentError("malformed", "revocations body needs kind snapshot or delta")
    rows = body.get("revoked")
    if not isinstance(rows, list):
        raise DocumentError("malformed", "revocations body needs a revoked list")
    entries: dict[bytes, int] = {}
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) == 2
            and isinstance(row[0], bytes)
            and 6 <= len(row[0]) <= 16
            and isinstance(row[1], int)
            and not isinstance(row[1], bool)
            and 0 <= row[1] < 65536
        ):
            raise DocumentError("malformed", "revoked entries are [ticket_id, last_day]")
        entries[row[0]] = row[1]
    return body["kind"], entries
