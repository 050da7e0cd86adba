"""Face bindings reported by gates: open the seal, keep the site's first, send it to every gate.

An annual pass sold online has no enrolment photo: the first gate to admit it binds the face
it saw and reports it in a ``face_bind`` event, sealed to the cloud's face key
(keys/face_binding.py). ``record`` runs inside the ingest's transaction (services/ingest.py),
once per newly stored event, and:

1. opens the seal with the site and node the event's signature proved (a seal lifted into
   another gate's event fails), and checks the ticket named is one of that site's with that
   holder;
2. inserts the enrolment with ``INSERT ... ON CONFLICT (site, holder_ref) DO NOTHING``: the
   first binding of a holder wins, on SQLite and PostgreSQL alike, whichever worker commits
   first; the row says ``source`` "gate" and ``bound_by`` the node;
3. if it won, returns the root-signed ``faces`` delta that gives the binding to every gate of
   the site (services/face_enrolment.py ``publish_enrolled``); each gate then replaces any
   face it bound locally with this one (gate_node/state.py ``apply_faces``);
4. if a binding was there already, compares the faces: the same person (within
   ``SAME_FACE_DISTANCE``) is nothing new, another face opens a ``face_bind_conflict`` alarm
   for staff (a pass shown by two people at two gates before either heard of the other);
   the recorded binding is never overwritten. A binding made before the member's enrolment
   was deleted (right to be forgotten) is not kept; one made after it binds afresh.

Every outcome but a repeat is audited (no face in the audit, only the ticket and the node).
A duplicate event never gets here: the ingest applies effects only of newly stored events.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud.models import Alarm, FaceEnrolment, Order, Ticket
from cloud.models.base import as_utc
from cloud.services.audit import audit
from cloud.services.face_enrolment import Published, publish_enrolled
from cloud.services.personal_data import PersonalData
from keys import face_embedding
from keys.cose import Signer
from keys.errors import Refusal
from keys.face_binding import FaceBinding, open_binding
from keys.gate_event import GateEvent

log = logging.getLogger("cloud.faces")

# The gates' default match threshold (gate_node/face/settings.py ``max_distance``): two
# bindings this close are one person, bound twice (two gates before the first was heard of).
SAME_FACE_DISTANCE = 0.5
CONFLICT = "face_bind_conflict"


@dataclass(frozen=True)
class BindingKeys:
    """What recording a binding needs beside the session: the face key that opens the seal,
    the root key that signs the delta, the personal-data key that seals the embedding at rest."""

    face: X25519PrivateKey
    root: Signer
    pd: PersonalData


@dataclass(frozen=True)
class Outcome:
    result: str  # bound | same | conflict | stale | refused
    published: Published | None = None
    detail: str = ""


def record(session: Session, keys: BindingKeys, event: GateEvent, now: datetime) -> Outcome:
    """Record the binding ``event`` carries (module docstring); never raises for its content."""
    sealed = event.data.get("sealed")
    try:
        binding = open_binding(keys.face, event.site, event.node, sealed)  # type: ignore[arg-type]
    except Refusal as exc:
        return _refused(session, event, exc.code, now)
    ticket = session.scalar(  # one of this site's: a gate of S2 gives no face to an S1 holder
        select(Ticket)
        .join(Order, Order.id == Ticket.order_id)
        .where(Ticket.ticket_id == binding.ticket_id, Order.site == event.site)
    )
    if ticket is None or ticket.holder_ref is None or bytes(ticket.holder_ref) != binding.holder:
        return _refused(session, event, "binding_unknown_ticket", now)
    bound_at = datetime.fromtimestamp(binding.at_ms / 1000, UTC)
    embedding_sealed = keys.pd.seal(
        base64.b64encode(face_embedding.embedding_bytes(binding.embedding)).decode()
    )
    if _insert_first(session, event, binding, embedding_sealed, bound_at):
        return _bound(session, keys, event, binding, ticket, now)
    row = session.get(FaceEnrolment, (event.site, binding.holder), populate_existing=True)
    assert row is not None  # the insert found it
    if row.deleted_at is not None:
        if bound_at <= as_utc(row.deleted_at) or not _revive(
            session, event, binding, embedding_sealed, bound_at
        ):
            audit(session, _actor(event), event.node, "face.bind_stale", _number(ticket), at=now)
            return Outcome("stale")
        return _bound(session, keys, event, binding, ticket, now)
    assert row.embedding_sealed is not None
    held = face_embedding.embedding_from(base64.b64decode(keys.pd.open(row.embedding_sealed)))
    distance = float(np.linalg.norm(held - binding.embedding))
    if distance <= SAME_FACE_DISTANCE:
        return Outcome("same")
    recorded_by = row.bound_by or row.source
    session.add(
        Alarm(
            site=event.site,
            node=event.node,
            seq=event.seq,
            alarm=CONFLICT,
            at=event.at,
            detail={
                "ticket": _number(ticket),
                "recorded_by": recorded_by,
                "distance": round(distance, 3),
            },
            status="open",
        )
    )
    audit(
        session,
        _actor(event),
        event.node,
        "face.bind_conflict",
        _number(ticket),
        {"recorded_by": recorded_by},
        at=now,
    )
    return Outcome("conflict", detail=f"recorded by {recorded_by}")


def _insert_first(
    session: Session,
    event: GateEvent,
    binding: FaceBinding,
    embedding_sealed: bytes,
    bound_at: datetime,
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True if this binding is the holder's first."""
    table = FaceEnrolment.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(
            site=event.site,
            holder_ref=binding.holder,
            ticket_id=binding.ticket_id,
            source="gate",
            embedding_sealed=embedding_sealed,
            enrolled_at=bound_at,
            bound_by=event.node,
        )
        .on_conflict_do_nothing(index_elements=["site", "holder_ref"])
        .returning(table.c.holder_ref)
    )
    return session.execute(statement).first() is not None


def _revive(
    session: Session,
    event: GateEvent,
    binding: FaceBinding,
    embedding_sealed: bytes,
    bound_at: datetime,
) -> bool:
    """A binding made after the holder's enrolment was deleted: one conditional UPDATE, so of
    two such bindings one wins, as with the insert."""
    done = session.execute(
        update(FaceEnrolment)
        .where(
            FaceEnrolment.site == event.site,
            FaceEnrolment.holder_ref == binding.holder,
            FaceEnrolment.deleted_at.is_not(None),
        )
        .values(
            ticket_id=binding.ticket_id,
            source="gate",
            embedding_sealed=embedding_sealed,
            enrolled_at=bound_at,
            deleted_at=None,
            bound_by=event.node,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(done == 1)


def _bound(
    session: Session,
    keys: BindingKeys,
    event: GateEvent,
    binding: FaceBinding,
    ticket: Ticket,
    now: datetime,
) -> Outcome:
    audit(session, _actor(event), event.node, "face.bind", _number(ticket), at=now)
    published = publish_enrolled(
        session, keys.root, keys.pd, event.site, binding.holder, binding.embedding, ticket, now
    )
    return Outcome("bound", published)


def _refused(session: Session, event: GateEvent, code: str, now: datetime) -> Outcome:
    """A binding that cannot be opened or names no ticket of ours: kept as the event only."""
    log.warning("face binding refused", extra={"fields": {"node": event.node, "code": code}})
    audit(
        session,
        _actor(event),
        event.node,
        "face.bind_refused",
        f"{event.site}/{event.node}/{event.seq}",
        {"code": code},
        at=now,
    )
    return Outcome("refused", detail=code)


def _actor(event: GateEvent) -> str:
    return f"gate:{event.node}"


def _number(ticket: Ticket) -> str:
    return bytes(ticket.ticket_id).hex().upper()
