"""Face enrolment of real-name ticket holders: photo in, encrypted embedding kept, signed delta out.

``enrol`` takes a photo uploaded at purchase (the buyer, with the order token) or at the window
(a cashier), computes the embedding with the same model the gates use (keys/face_embedding.py),
stores it sealed under the personal-data key and returns the root-signed ``faces`` delta for
the gates (keys/face_enrolment.py). The photo is decoded in memory and never written anywhere.
``forget`` deletes an enrolment (the member's right to be forgotten): the embedding is wiped
and a delta removing the holder goes to every gate. ``status`` tells staff whether a ticket's
holder is enrolled; ``snapshot`` decrypts every enrolment of a site for a gate that missed a
delta. Each writes an audit entry (who, from where, which ticket or site), in the same
transaction; no entry holds personal data.

The embedding needs the ``face`` extra on the cloud too; without it ``enrol`` refuses with
``face_engine_unavailable`` (409) rather than failing, and deletion still works.

A multi-day ticket (an annual pass) is enrolled with its ticket text, so gates can admit it by
face alone (1:N); a day ticket's enrolment serves the 1:1 check after its QR code only. A pass
just renewed carries its previous ticket's text too while that is valid (the rule is in
services/pass_tickets.py; services/pass_faces.py re-signs a renewed pass's face).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import FaceEnrolment, Ticket
from cloud.services.audit import audit
from cloud.services.downlink_documents import FaceRows, face_enrolments, face_snapshot
from cloud.services.pass_tickets import face_texts
from cloud.services.personal_data import PersonalData
from cloud.services.photo_size import photo_size
from cloud.services.refunds import ticket_id_of
from keys import face_embedding
from keys.cose import Signer
from keys.reasons import Reason

MAX_PIXELS = 4096 * 4096  # a phone photo is 12 MP at most; a decompression bomb is refused
MIN_FACE_PX = 80  # as the gates' default (gate_node/face/settings.py): smaller embeds badly


@dataclass(frozen=True)
class Who:
    actor: str  # "buyer" or a staff username
    source: str  # the client address


@dataclass(frozen=True)
class Published:
    site: str
    document: bytes  # the signed faces delta, to publish after the commit


def enrol(
    session: Session,
    root: Signer,
    pd: PersonalData,
    ticket: Ticket,
    site: str,
    photo: bytes,
    source: str,
    who: Who,
    now: datetime,
) -> Published:
    """Enrol the face on ``photo`` for ``ticket``'s holder (replacing an earlier one)."""
    if ticket.holder_ref is None or ticket.status != "valid":
        raise Problem(Code.FACE_NOT_REAL_NAME)
    model = face_embedding.load()
    if model is None:
        raise Problem(Code.FACE_ENGINE_UNAVAILABLE)
    found = model.analyse(_decode(photo), min_face_px=MIN_FACE_PX)
    if isinstance(found, Reason) or found.embedding is None:
        reason = found if isinstance(found, Reason) else Reason.FACE_NONE
        raise Problem(
            Code.FACE_PHOTO_REFUSED,
            reason=reason.value,
            reason_en=reason.text.en,
            reason_zh=reason.text.zh,
        )
    holder = bytes(ticket.holder_ref)
    sealed = pd.seal(base64.b64encode(face_embedding.embedding_bytes(found.embedding)).decode())
    row = session.get(FaceEnrolment, (site, holder))
    if row is None:
        session.add(
            FaceEnrolment(
                site=site,
                holder_ref=holder,
                ticket_id=ticket.ticket_id,
                source=source,
                embedding_sealed=sealed,
                enrolled_at=now,
            )
        )
    else:
        row.ticket_id, row.source, row.embedding_sealed = ticket.ticket_id, source, sealed
        row.enrolled_at, row.deleted_at, row.bound_by = now, None, None
    session.flush()
    audit(session, who.actor, who.source, "face.enrol", _number(ticket), {"via": source}, at=now)
    return publish_enrolled(session, root, pd, site, holder, found.embedding, ticket, now)


def forget(
    session: Session,
    root: Signer,
    pd: PersonalData,
    ticket: Ticket,
    site: str,
    who: Who,
    now: datetime,
) -> Published:
    """Delete the enrolment of ``ticket``'s holder and tell every gate to forget it."""
    holder = bytes(ticket.holder_ref) if ticket.holder_ref else None
    done = (
        session.execute(
            update(FaceEnrolment)
            .where(
                FaceEnrolment.site == site,
                FaceEnrolment.holder_ref == holder,
                FaceEnrolment.deleted_at.is_(None),
            )
            .values(embedding_sealed=None, deleted_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if holder is not None
        else 0
    )
    if done != 1:
        raise Problem(Code.FACE_NOT_ENROLLED)
    assert holder is not None
    audit(session, who.actor, who.source, "face.delete", _number(ticket), at=now)
    document = face_enrolments(
        session,
        root,
        site,
        add={},
        remove=[holder],
        everything=lambda: enrolled(session, pd, site),
        now=now,
    )
    return Published(site, document)


def status(session: Session, ticket: Ticket, site: str, who: Who, now: datetime) -> datetime:
    """When the ticket's holder was enrolled (404 ``face_not_enrolled`` if not)."""
    row = (
        session.get(FaceEnrolment, (site, bytes(ticket.holder_ref))) if ticket.holder_ref else None
    )
    audit(session, who.actor, who.source, "face.read", _number(ticket), at=now)
    if row is None or row.deleted_at is not None:
        raise Problem(Code.FACE_NOT_ENROLLED)
    return row.enrolled_at


def snapshot(
    session: Session, root: Signer, pd: PersonalData, site: str, now: datetime, node: str = ""
) -> bytes | None:
    """The signed snapshot of a site's enrolments at the current seq, for a gate that saw a
    gap in the deltas (it asks ``{"want": "faces"}``); None if nothing was ever enrolled.
    Audited: every enrolment is decrypted for it."""
    raw = face_snapshot(session, root, site, enrolled(session, pd, site), now)
    if raw is not None:
        audit(session, "downlink", node or "-", "face.snapshot", site, at=now)
    return raw


def ticket_of(session: Session, number: str) -> Ticket:
    """The ticket numbered ``number`` (hex); 422 if it is not hex, 404 if there is none."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_id == ticket_id_of(number)))
    if ticket is None:
        raise not_found(Thing.TICKET)
    return ticket


def publish_enrolled(
    session: Session,
    root: Signer,
    pd: PersonalData,
    site: str,
    holder: bytes,
    embedding: np.ndarray,
    ticket: Ticket,
    now: datetime,
) -> Published:
    """The delta giving every gate of ``site`` the face ``holder`` is enrolled with now, as
    ``enrol`` sends a photo's: for a binding made at a gate's first entry, recorded by
    services/face_binding.py (its caller audits it)."""
    document = face_enrolments(
        session,
        root,
        site,
        add={holder: (embedding, face_texts(session, ticket))},
        remove=[],
        everything=lambda: enrolled(session, pd, site),
        now=now,
    )
    return Published(site, document)


def enrolled(session: Session, pd: PersonalData, site: str) -> FaceRows:
    """Every live enrolment of ``site``, decrypted, with the texts it admits by."""
    rows = session.scalars(
        select(FaceEnrolment).where(FaceEnrolment.site == site, FaceEnrolment.deleted_at.is_(None))
    ).all()
    found: dict[bytes, tuple[np.ndarray, list[str]]] = {}
    for row in rows:
        assert row.embedding_sealed is not None
        raw = base64.b64decode(pd.open(row.embedding_sealed))
        ticket = session.scalar(select(Ticket).where(Ticket.ticket_id == row.ticket_id))
        tickets = face_texts(session, ticket) if ticket is not None else []
        found[bytes(row.holder_ref)] = (face_embedding.embedding_from(raw), tickets)
    return found


def _number(ticket: Ticket) -> str:
    return bytes(ticket.ticket_id).hex().upper()


def _decode(photo: bytes) -> np.ndarray:
    """A JPEG or PNG (by its magic bytes) as RGB; OpenCV is in the base install, Pillow not."""
    if not photo.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        raise Problem(Code.FACE_PHOTO_UNREADABLE)
    size = photo_size(photo)  # before decoding: imdecode allocates the whole bitmap first
    if size is None or size[0] * size[1] > MAX_PIXELS:
        raise Problem(Code.FACE_PHOTO_UNREADABLE)
    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise Problem(Code.FACE_PHOTO_UNREADABLE)
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
