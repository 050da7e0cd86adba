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

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Device, Revocation, SiteDocument
from keys.clock import SYSTEM
from keys.cose import Signer
from keys.face_enrolment import sign_face_enrolments
from keys.keyring import IssuerKey, sign_keyring
from keys.keystore import SigningKey
from keys.node_registry import sign_node_registry
from keys.revocation import sign_revocations
from keys.signed_document import sign_document, verify_document

HEADS = ("revocations", "cards", "faces")  # lists sent as deltas: the heartbeat names their seq


def next_seq(session: Session, site: str, doc_type: str) -> SiteDocument:
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
    row = next_seq(session, site, "revocations")
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
    row = next_seq(session, site, "nodes")
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
    row = next_seq(session, site, "keyring")
    # Never below Unix time: a gate set up with `scenic-keys keyring` holds a keyring whose
    # seq defaults to Unix time, and must accept the cloud's next one as newer.
    row.seq = max(row.seq, int(now.timestamp()))
    return _keep(row, sign_keyring(root, issuers, site=site, seq=row.seq, issued_at=now), now)


def signed_time(session: Session, root: Signer, site: str, now: datetime | None = None) -> bytes:
    """A heartbeat of trusted time: gates raise their clock floor to it (gate_node/clock.py).

    It carries ``heads``: the site's current revocation and card index seq. Retained on the
    broker, so a gate that connects, or that stayed connected but missed a delta (deltas are
    not retained), compares them with what it holds and asks for a snapshot when it is behind
    (gate_node/downlink.py). Signed, so a broker cannot make a gate believe it is up to date
    with a lower head; it can only delay the heartbeat, which the clock floor notices."""
    now = now or SYSTEM.now()
    heads = {
        row.doc_type: row.seq
        for row in session.scalars(
            select(SiteDocument).where(SiteDocument.site == site, SiteDocument.doc_type.in_(HEADS))
        )
    }
    row = next_seq(session, site, "time")
    body = {"heads": heads}
    return _keep(row, sign_document(root, "time", site, row.seq, body, issued_at=now), now)


def signed_config(
    session: Session,
    root: Signer,
    site: str,
    settings: Mapping[str, object],
    holder_salt: bytes,
    now: datetime | None = None,
    face_key: bytes | None = None,
) -> bytes:
    """The site's configuration for its gates (settings gate_node/config.py lets the cloud
    set, the holder salt real-name checks need, and the face key first-entry face bindings
    are sealed to, if the cloud has one), under the next config seq."""
    now = now or SYSTEM.now()
    row = next_seq(session, site, "config")
    body: dict[str, object] = {"settings": dict(settings), "holder_salt": holder_salt}
    if face_key is not None:
        body["face_key"] = face_key
    return _keep(row, sign_document(root, "config", site, row.seq, body, issued_at=now), now)


def configs_with_face_key(
    session: Session, root: SigningKey, face_key: bytes, now: datetime | None = None
) -> list[str]:
    """Every site's last config signed again with ``face_key`` added (``scenic-cloud keys
    face-init`` on an install whose gates were enrolled before the key existed); the downlink
    service publishes them, retained. The sites re-signed."""
    rows = session.scalars(
        select(SiteDocument).where(SiteDocument.doc_type == "config", SiteDocument.raw.is_not(None))
    ).all()
    key = root.public_key
    held_bodies = [
        (row.site, verify_document(bytes(row.raw or b""), key, doc_type="config", site=row.site))
        for row in rows
    ]
    for site, held in held_bodies:
        body = held.body
        signed_config(
            session, root, site, body.get("settings", {}), body["holder_salt"], now, face_key
        )
    return [site for site, _ in held_bodies]


def held(session: Session, site: str, doc_type: str) -> bytes | None:
    """The last document of ``doc_type`` signed for ``site`` (None if there is none)."""
    row = session.get(SiteDocument, (site, doc_type))
    return bytes(row.raw) if row is not None and row.raw is not None else None


FaceRows = Mapping[bytes, tuple[np.ndarray, Sequence[str]]]


def face_enrolments(
    session: Session,
    root: Signer,
    site: str,
    *,
    add: FaceRows,
    remove: Sequence[bytes],
    everything: Callable[[], FaceRows],
    now: datetime | None = None,
) -> bytes:
    """The next ``faces`` document (keys/face_enrolment.py): a delta adding and removing these
    holders, or, for a site's first, a snapshot of ``everything()`` (all enrolments held)."""
    now = now or SYSTEM.now()
    row = next_seq(session, site, "faces")
    if row.seq == 1:
        session.flush()
        raw = sign_face_enrolments(
            root, site=site, seq=1, kind="snapshot", add=everything(), issued_at=now
        )
    else:
        raw = sign_face_enrolments(
            root, site=site, seq=row.seq, kind="delta", add=add, remove=remove, issued_at=now
        )
    return _keep(row, raw, now)


def face_snapshot(
    session: Session, root: Signer, site: str, rows: FaceRows, now: datetime | None = None
) -> bytes | None:
    """Every enrolment (``rows``) at the current ``faces`` seq, for a gate that saw a gap;
    None if the site never enrolled a face."""
    row = session.get(SiteDocument, (site, "faces"))
    if row is None:
        return None
    return sign_face_enrolments(
        root, site=site, seq=row.seq, kind="snapshot", add=rows, issued_at=now or SYSTEM.now()
    )
