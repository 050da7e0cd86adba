"""An order as its buyer may see it: found by number and access token, shaped for the answer.

Shared by the routes that act on a buyer's order (orders, payments, refunds, tickets, the
sandbox), so no route imports another: ``BuyersOrder`` is the typed dependency for a route
with ``{order_no}`` in its path and the token in ``X-Order-Token``; ``owned_order`` is the
same check where the order number comes from elsewhere (a ticket's). Never: tell a caller
without the token whether an order exists (it is "not found" either way).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Context
from cloud.api.schemas import OrderOut, TicketOut
from cloud.core.errors import Thing, not_found
from cloud.core.security import token_hash
from cloud.models import Order, Ticket


def owned_order(db: Session, order_no: str, token: str | None) -> Order:
    """The order, if the caller holds its access token (anyone else learns nothing)."""
    order = db.scalar(select(Order).where(Order.order_no == order_no))
    if (
        order is None
        or token is None
        or order.access_hash is None
        or not hmac.compare_digest(order.access_hash, token_hash(token))
    ):
        raise not_found(Thing.ORDER)
    return order


def buyers_order(
    order_no: str, ctx: Context, x_order_token: Annotated[str | None, Header()] = None
) -> Order:
    """The path's order for the holder of its token, checked in a short session of its own
    that is closed before the route runs (as ``deps.staff``: a request never holds two
    database connections at once). The order comes back detached: its columns, as read."""
    with ctx.sessions() as db:
        return owned_order(db, order_no, x_order_token)


BuyersOrder = Annotated[Order, Depends(buyers_order)]


def order_out(db: Session, order: Order, access_token: str | None = None) -> OrderOut:
    tickets = db.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
    return OrderOut(
        order_no=order.order_no,
        status=order.status,
        total_fen=order.total_fen,
        paid_fen=order.paid_fen,
        refunded_fen=order.refunded_fen,
        expires_at=order.expires_at,
        duplicate_of=order.duplicate_of,
        access_token=access_token,
        tickets=[
            TicketOut(
                ticket_no=t.ticket_id.hex().upper(),
                status=t.status,
                people=t.people,
                valid_from=t.valid_from,
                valid_until=t.valid_until,
                text=t.text,
            )
            for t in tickets
        ],
    )
