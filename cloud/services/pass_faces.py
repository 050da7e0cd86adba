"""Carrying an annual pass's face to the gates after a renewal, a refund of one, or a deletion.

A renewal is settled inside a payment's transaction, which holds neither the root key nor the
personal-data key; it only moves the enrolment to the new ticket and marks the pass
``face_pending``. The downlink service (which holds both) calls ``sign_pending`` on every
step, as it does for the card index: per site, one ``faces`` delta re-adding each such
holder's embedding with the texts that admit them now (services/pass_tickets.py), or removing
a holder whose enrolment was deleted (a member who deleted their data). The mark is cleared by
a conditional UPDATE on the pass's version, so a pass that changed meanwhile stays marked and
goes out again next step. Never publishes (the caller does, after the commit).
"""

from __future__ import annotations

import base64
from datetime import datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.models import AnnualPass, FaceEnrolment, Ticket
from cloud.services.downlink_documents import face_enrolments
from cloud.services.face_enrolment import enrolled
from cloud.services.pass_tickets import face_texts
from cloud.services.personal_data import PersonalData
from keys import face_embedding
from keys.cose import Signer


def sites_pending(session: Session) -> list[str]:
    return sorted(
        set(session.scalars(select(AnnualPass.site).where(AnnualPass.face_pending.is_(True))))
    )


def sign_pending(
    session: Session, root: Signer, pd: PersonalData, site: str, now: datetime
) -> bytes | None:
    """The faces delta for ``site``'s marked passes (None: nothing to tell the gates)."""
    marked = session.scalars(
        select(AnnualPass).where(AnnualPass.site == site, AnnualPass.face_pending.is_(True))
    ).all()
    add: dict[bytes, tuple[np.ndarray, list[str]]] = {}
    remove: list[bytes] = []
    for held in marked:
        cleared = session.execute(
            update(AnnualPass)
            .where(AnnualPass.id == held.id, AnnualPass.version == held.version)
            .values(face_pending=False, version=held.version + 1)
            .execution_options(synchronize_session=False)
        )
        if cleared.rowcount != 1 or held.holder_ref is None:  # type: ignore[attr-defined]
            continue
        holder = bytes(held.holder_ref)
        row = session.get(FaceEnrolment, (site, holder))
        if row is None:
            continue
        if row.deleted_at is not None or row.embedding_sealed is None:
            remove.append(holder)
            continue
        ticket = session.scalar(select(Ticket).where(Ticket.ticket_id == row.ticket_id))
        raw = base64.b64decode(pd.open(row.embedding_sealed))
        texts = face_texts(session, ticket) if ticket is not None else []
        add[holder] = (face_embedding.embedding_from(raw), texts)
    if not add and not remove:
        return None
    return face_enrolments(
        session,
        root,
        site,
        add=add,
        remove=remove,
        everything=lambda: enrolled(session, pd, site),
        now=now,
    )
