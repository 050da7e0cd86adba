"""Making the root-signed documents the gates trust: revocations, node registry, time.

Sequence numbers are allocated in the database (``site_documents``, one row per site and type,
locked with SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers anyway), in the same
transaction that records what the document says. So a revocation delta's seq is exactly one
more than the previous one across every process of the cloud, and a gate can tell a gap from a
replay (keys/revocation.py).

Each maker takes ``now`` (the caller's clock): it is the document's issued_at, its signed_at row,
and for a keyring the Unix-time floor of its seq. Left out, it is the system clock's now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Device, Revocation, SiteDocument
from keys.card_index import DOC_TYPE as CARDS
from keys.card_index import sign_card_index
from keys.clock import SYSTEM
from keys.cose import Signer
from keys.keyring import IssuerKey, sign_keyring
from keys.node_registry import sign_node_registry
from keys.revocation import sign_revocations
from keys.signed_document import sign_document


def _next_seq(session: Session, site: str, doc_type: str) -> SiteDocument:
    row = session.scalars(
        select(SiteDocument)
        .where(SiteDocument.site == site, SiteDocument.doc_type == doc_type)
        .with_for_update()
    ).one_or_none()
    if row is None:
        row = SiteDocument(site=site, doc_type=doc_type, seq=0)
        session.add(row)
    row.seq += 1
    return row


def _keep(row: SiteDocument, raw: bytes, now: datetime) -> bytes:
    row.raw = raw
    row.signed_at = now
    return raw


def revoke(
    session: Session,
    root: Signer,
    site: str,
    tickets: Mapping[bytes, date],
    now: datetime | None = None,
) -> bytes:
    """Record revoked tickets and return the signed delta that tells the gates.

    The first revocations of a site are a snapshot (a gate holding nothing can apply it)."""
    now = now or SYSTEM.now()
    row = _next_seq(session, site, "revocations")
    for ticket_id, last_day in tickets.items():
        if session.get(Revocation, (site, ticket_id)) is None:
            session.add(Revocation(site=site, ticket_id=ticket_id, last_day=last_day, seq=row.seq))
    if row.seq == 1:
        session.flush()
        return _keep(row, _snapshot_document(session, root, site, row.seq, now), now)
    raw = sign_revocations(
        root, site=site, seq=row.seq, kind="delta", revoked=dict(tickets), issued_at=now
    )
    return _keep(row, raw, now)


def revocation_snapshot(
    session: Session, root: Signer, site: str, today: date, now: datetime | None = None
) -> bytes | None:
    """The whole list at the current seq (for a gate that missed deltas), expired ones left out.
    None if the site has never revoked anything."""
    row = session.get(SiteDocument, (site, "revocations"))
    if row is None:
        return None
    return _snapshot_document(session, root, site, row.seq, now or SYSTEM.now(), today)


def _snapshot_document(
    session: Session, root: Signer, site: str, seq: int, now: datetime, today: date | None = None
) -> bytes:
    query = select(Revocation.ticket_id, Revocation.last_day).where(Revocation.site == site)
    if today is not None:
        query = query.where(Revocation.last_day >= today)
    entries = {bytes(ticket): last for ticket, last in session.execute(query)}
    return sign_revocations(
        root, site=site, seq=seq, kind="snapshot", revoked=entries, issued_at=now
    )


def node_registry(session: Session, root: Signer, site: str, now: datetime | None = None) -> bytes:
    """The site's active nodes and their keys, for peer gossip (keys/node_registry.py)."""
    now = now or SYSTEM.now()
    row = _next_seq(session, site, "nodes")
    devices = session.scalars(
        select(Device).where(Device.site == site, Device.status == "active")
    ).all()
    keys = {d.node: Ed25519PublicKey.from_public_bytes(d.public_key) for d in devices}
    raw = sign_node_registry(root, site=site, seq=row.seq, nodes=keys, issued_at=now)
    return _keep(row, raw, now)


def signed_keyring(
    session: Session,
    root: Signer,
    site: str,
    issuers: list[IssuerKey],
    now: datetime | None = None,
) -> bytes:
    """The issuer keys the site's gates accept (keys/keyring.py), under the next keyring seq."""
    now = now or SYSTEM.now()
    row = _next_seq(session, site, "keyring")
    # Never below Unix time: a gate set up with `scenic-keys keyring` holds a keyring whose
    # seq defaults to Unix time, and must accept the cloud's next one as newer.
    row.seq = max(row.seq, int(now.timestamp()))
    return _keep(row, sign_keyring(root, issuers, site=site, seq=row.seq, issued_at=now), now)


def signed_time(session: Session, root: Signer, site: str, now: datetime | None = None) -> bytes:
    """A heartbeat of trusted time: gates raise their clock floor to it (gate_node/clock.py)."""
    now = now or SYSTEM.now()
    row = _next_seq(session, site, "time")
    return _keep(row, sign_document(root, "time", site, row.seq, {}, issued_at=now), now)


def card_index(
    session: Session,
    root: Signer,
    site: str,
    entries: Mapping[bytes, list[str]],
    now: datetime | None = None,
) -> bytes:
    """The site's whole card index (keys/card_index.py) under the next seq: a gate replaces
    what it holds with it."""
    now = now or SYSTEM.now()
    row = _next_seq(session, site, CARDS)
    raw = sign_card_index(root, site=site, seq=row.seq, entries=entries, issued_at=now)
    return _keep(row, raw, now)
