"""The card index the gates hold (keys/card_index.py): real-name tickets and RFID-bound passes.

What enters and leaves it:
- a paid real-name ticket enters under its holder reference (an ID card, ``id_card``), in the
  transaction that issues it (``enter_ticket``, called by services/issuing.py);
- an RFID card bound to a valid annual pass enters under ``holder_ref(salt, "rfid", uid)``
  (``bind_rfid``, the API's ``POST /api/v1/tickets/{ticket_no}/cards``);
- a refunded or changed ticket leaves (``leave_ticket``); a date change enters the new ticket.

Rows are written here; the gates hear of them through root-signed documents made by
``next_document``: the downlink service calls it on every step, and it signs one delta per
site with everything not yet published under the next ``cards`` sequence (allocated in
``site_documents`` like every site document). A site's first document is a snapshot, so a
gate holding nothing can apply it. ``snapshot`` answers a gate that asks (it missed a delta):
the whole index at the current sequence, tickets past their last day left out.

Never signs tickets, never publishes (the downlink service does, after the commit).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CardEntry, Order, Product, SiteDocument, Ticket
from cloud.services.downlink_documents import next_seq
from keys.card_index import DOC_TYPE, sign_card_delta, sign_card_index
from keys.cose import Signer
from keys.holder import holder_ref

_UID = re.compile(r"[0-9A-Fa-f]{4,32}")


def enter_ticket(session: Session, site: str, ticket: Ticket) -> None:
    """A paid real-name ticket: its holder's ID card opens it at the site's gates."""
    if ticket.holder_ref is None:
        return
    session.add(
        CardEntry(
            site=site,
            kind="id_card",
            holder_ref=ticket.holder_ref,
            ticket_id=ticket.ticket_id,
            text=ticket.text,
            last_day=ticket.valid_until,
        )
    )


def leave_ticket(session: Session, ticket: Ticket) -> int:
    """A refunded or changed ticket: every card that opened it stops opening it."""
    result = session.execute(
        update(CardEntry)
        .where(CardEntry.ticket_id == ticket.ticket_id, CardEntry.removed.is_(False))
        .values(removed=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def bind_rfid(session: Session, ticket_number: str, uid: str, salt: bytes) -> CardEntry:
    """Bind an RFID card (its UID as the reader prints it, hex) to a valid annual pass."""
    if not _UID.fullmatch(uid.strip()):
        raise Problem(Code.BAD_CARD_UID)
    try:
        ticket_id = bytes.fromhex(ticket_number)
    except ValueError:
        raise not_found(Thing.TICKET) from None
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_id == ticket_id))
    if ticket is None:
        raise not_found(Thing.TICKET)
    product = session.get(Product, ticket.product_id)
    order = session.get(Order, ticket.order_id)
    assert product is not None and order is not None
    if product.kind != "annual" or ticket.status != "valid":
        raise Problem(Code.NOT_ANNUAL_PASS, ticket=ticket_number.upper())
    reference = holder_ref(salt, "rfid", uid)
    bound = session.scalar(
        select(CardEntry).where(
            CardEntry.site == order.site,
            CardEntry.holder_ref == reference,
            CardEntry.removed.is_(False),
        )
    )
    if bound is not None:
        raise Problem(Code.CARD_ALREADY_BOUND, ticket=bound.ticket_id.hex().upper())
    entry = CardEntry(
        site=order.site,
        kind="rfid",
        holder_ref=reference,
        ticket_id=ticket.ticket_id,
        text=ticket.text,
        last_day=ticket.valid_until,
    )
    session.add(entry)
    session.flush()
    return entry


def sites_with_changes(session: Session) -> list[str]:
    """Sites whose index has entries the gates have not been told about."""
    return sorted(
        set(
            session.scalars(
                select(CardEntry.site).where(
                    or_(
                        CardEntry.added_seq.is_(None),
                        CardEntry.removed.is_(True) & CardEntry.removed_seq.is_(None),
                    )
                )
            )
        )
    )


def next_document(session: Session, root: Signer, site: str, now: datetime) -> bytes | None:
    """Sign what changed since the last document under the next ``cards`` seq (None if
    nothing did). An entry added and removed before it was ever published is not sent."""
    pending = session.scalars(
        select(CardEntry)
        .where(
            CardEntry.site == site,
            or_(
                CardEntry.added_seq.is_(None),
                CardEntry.removed.is_(True) & CardEntry.removed_seq.is_(None),
            ),
        )
        .order_by(CardEntry.id)
    ).all()
    if not pending:
        return None
    row = next_seq(session, site, DOC_TYPE)
    added, removed = [], []
    for entry in pending:
        if entry.added_seq is None:
            entry.added_seq = row.seq
            if not entry.removed:
                added.append((bytes(entry.holder_ref), entry.text))
        elif entry.removed:
            removed.append((bytes(entry.holder_ref), entry.text))
        if entry.removed:
            entry.removed_seq = row.seq
    session.flush()
    if row.seq == 1:
        raw = _snapshot(session, root, site, row.seq, now, None)
    else:
        raw = sign_card_delta(
            root, site=site, seq=row.seq, add=added, remove=removed, issued_at=now
        )
    row.raw, row.signed_at = raw, now
    return raw


def snapshot(session: Session, root: Signer, site: str, today: date, now: datetime) -> bytes | None:
    """The whole index at the current seq, for a gate that missed deltas (None: none yet)."""
    row = session.get(SiteDocument, (site, DOC_TYPE))
    if row is None:
        return None
    return _snapshot(session, root, site, row.seq, now, today)


def _snapshot(
    session: Session, root: Signer, site: str, seq: int, now: datetime, today: date | None
) -> bytes:
    query = select(CardEntry.holder_ref, CardEntry.text).where(
        CardEntry.site == site,
        CardEntry.removed.is_(False),
        CardEntry.added_seq.is_not(None),
        CardEntry.added_seq <= seq,
    )
    if today is not None:
        query = query.where(CardEntry.last_day >= today)
    entries: dict[bytes, list[str]] = {}
    for reference, text in session.execute(query.order_by(CardEntry.id)):
        entries.setdefault(bytes(reference), []).append(text)
    return sign_card_index(root, site=site, seq=seq, entries=entries, issued_at=now)
