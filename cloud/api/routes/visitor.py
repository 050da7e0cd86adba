"""What the ticket page asks the API for, with the order's token: the order's ticket cards
(codes as PNG, day, slot, zones, holder, people) and, before a refund or a date change is
confirmed, what it would cost (the fee) and where a ticket may move to.

Reads only; the refund and the change themselves are ``POST /orders/{no}/refunds`` and
``POST /tickets/{no}/change`` (api/routes/refunds.py), under the same rules as the quote
(services/refunds.quote). Without the token an order is "not found", as everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from sqlalchemy import select

from cloud.api.deps import DB, Context
from cloud.api.order_views import owned_order
from cloud.api.schemas import QuoteOut, TicketCardsOut
from cloud.core.errors import Thing, not_found
from cloud.models import Order, Site, Ticket
from cloud.services import refunds
from cloud.services.shop import change_options, ticket_cards

router = APIRouter(prefix="/api/v1", tags=["visitor"])
Token = Annotated[str | None, Header(description="The order's access token")]


@router.get("/orders/{order_no}/cards", response_model=TicketCardsOut)
def cards(order_no: str, ctx: Context, db: DB, x_order_token: Token = None) -> dict[str, Any]:
    """The order's tickets as the visitor's phone shows and keeps them."""
    order = owned_order(db, order_no, x_order_token)
    return ticket_cards(db, order, ctx.pd, ctx.clock.now())


@router.get("/tickets/{ticket_no}/quote", response_model=QuoteOut)
def quote(ticket_no: str, ctx: Context, db: DB, x_order_token: Token = None) -> dict[str, Any]:
    """What refunding the ticket would pay back and keep as a fee now, whether it may change
    date, and to which days and slots (places left, same price)."""
    ticket = db.scalar(select(Ticket).where(Ticket.ticket_id == refunds.ticket_id_of(ticket_no)))
    order = db.get(Order, ticket.order_id) if ticket else None
    if ticket is None or order is None:
        raise not_found(Thing.TICKET)
    owned_order(db, order.order_no, x_order_token)
    site = db.get(Site, order.site)
    assert site is not None
    now = ctx.clock.now()
    terms = refunds.quote(db, ticket, site, now)
    return {
        "ticket_no": terms.ticket_no,
        "refundable": terms.refundable,
        "changeable": terms.changeable,
        "refund_fen": terms.refund_fen,
        "fee_fen": terms.fee_fen,
        "change_fee_fen": 0,
        "refund_until_hours": terms.hours,
        "why_not": str(terms.reason) if terms.reason else None,
        "options": change_options(db, ticket, now) if terms.changeable else [],
    }
