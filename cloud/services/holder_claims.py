"""One ID, one ticket (防黄牛): claim a real-name ID's place of a product on a day, or refuse.

The rule lives in the primary key of ``holder_claims`` (product, day, holder reference), not in
a look-up before a write, so it holds across the lines of one order, across pending orders and
between two buyers submitting the same ID at the same instant, on SQLite and PostgreSQL alike.
A claim is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` whose returned row says who
won: the loser is refused without an IntegrityError spoiling its transaction, so a late payment
can test a claim and still refund cleanly (services/holds.py, ``retake``).

Lifecycle: taken by ``create_order`` (and again by a late payment of an expired hold), moved by
a date change, given back when a hold expires (``release_order``) or a ticket is refunded
(``release_ticket``). This module never touches places or money.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import HolderClaim, Ticket


def duplicate_holder() -> Problem:
    return Problem(Code.DUPLICATE_HOLDER)


def claim(session: Session, order_id: int, product_id: int, day: date, ref: bytes) -> bool:
    """Claim ``ref``'s place of the product on ``day`` for the order; False if someone (this
    order included) holds it already. Nothing is changed then."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    won = session.execute(
        insert(HolderClaim)
        .values(product_id=product_id, day=day, holder_ref=ref, order_id=order_id)
        .on_conflict_do_nothing()
        .returning(HolderClaim.order_id)  # the ORM reports no row count here (-1 on psycopg)
    ).first()
    return won is not None


def claim_holders(
    session: Session, order_id: int, product_id: int, day: date, refs: list[bytes]
) -> None:
    """Claim every ID of an order line, or raise ``duplicate_holder`` (the same ID twice in
    one order is a duplicate too). Claims taken before a refusal stay: the caller's
    transaction rolls them back, or ``release_order`` gives them back."""
    for ref in refs:
        if not claim(session, order_id, product_id, day, ref):
            raise duplicate_holder()


def release_order(session: Session, order_id: int) -> int:
    """Give back every claim of an order (its hold expired); returns how many."""
    result = session.execute(delete(HolderClaim).where(HolderClaim.order_id == order_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_ticket(session: Session, ticket: Ticket) -> None:
    """A refunded ticket's ID may buy that day again. Tickets without a holder have no claim."""
    if ticket.holder_ref is None:
        return
    session.execute(
        delete(HolderClaim).where(
            HolderClaim.product_id == ticket.product_id,
            HolderClaim.day == ticket.valid_from,
            HolderClaim.holder_ref == ticket.holder_ref,
            HolderClaim.order_id == ticket.order_id,
        )
    )


def move(session: Session, ticket: Ticket, day: date) -> None:
    """A date change takes the ID's claim to the new day, or is refused (``duplicate_holder``)
    if the ID already holds that day. Call it before the ticket's day changes."""
    if ticket.holder_ref is None or day == ticket.valid_from:
        return
    if not claim(session, ticket.order_id, ticket.product_id, day, ticket.holder_ref):
        raise duplicate_holder()
    release_ticket(session, ticket)
