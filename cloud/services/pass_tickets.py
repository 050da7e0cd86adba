"""Which ticket texts let a face alone admit its holder (1:N): the rule in one place.

A multi-day ticket's text goes with its holder's face enrolment; a day ticket's does not (its
face serves the 1:1 check after the QR code). An annual pass just renewed has two texts that
admit: the ticket it had, still valid to its own last day, and the renewal, which starts the
day after. Gates try each text as if scanned and admit on the first that grants, so both go
down until the old one has expired. services/face_enrolment.py (deltas and snapshots) and
services/pass_faces.py (carrying a renewed pass's face over) both ask here. Reads only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import PassRenewal, Ticket


def face_texts(session: Session, ticket: Ticket) -> list[str]:
    """The texts a face enrolled for ``ticket`` admits by: its predecessor in a pass while that
    is still valid, then the ticket itself; nothing for a day ticket."""
    if ticket.valid_until <= ticket.valid_from:
        return []
    earlier = session.scalar(
        select(Ticket)
        .join(PassRenewal, PassRenewal.from_ticket_id == Ticket.id)
        .where(
            PassRenewal.to_ticket_id == ticket.id,
            PassRenewal.status == "paid",
            Ticket.status == "valid",
        )
    )
    return ([earlier.text] if earlier is not None else []) + [ticket.text]
