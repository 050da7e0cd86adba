"""Orders for buyers (with the order's access token) and staff (audited): create and read."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.deps import DB, Context, remember, replay_or_none
from cloud.api.schemas import OrderIn, OrderOut, TicketOut
from cloud.core.errors import Problem, not_found
from cloud.core.security import new_token, token_hash
from cloud.models import Order, Ticket
from cloud.services.orders import LineRequest, create_order

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
ROUTE = "create_order"


@router.post("", status_code=201, response_model=OrderOut)
def create(
    body: OrderIn, ctx: Context, idempotency_key: Annotated[str | None, Header()] = None
) -> OrderOut:
    """Hold places for a cart. Send an ``Idempotency-Key`` so a retry never buys twice."""
    if idempotency_key is None:
        raise Problem(
            428,
            "idempotency_key_required",
            "Send an Idempotency-Key header with every order",
            "下单须携带幂等键",
        )
    payload = body.model_dump(mode="json")
    with ctx.sessions.begin() as db:
        earlier = replay_or_none(db, idempotency_key, ROUTE, payload)
        if earlier is not None:
            return OrderOut(**earlier.response)
    try:
        with ctx.sessions.begin() as db:
            lines = [LineRequest(**line.model_dump()) for line in body.lines]
            order = create_order(
                db,
                site=body.site,
                lines=lines,
                channel=body.channel,
                contact=body.contact,
                pd=ctx.pd,
                holder_salt=ctx.issuer.holder_salt,
                now=ctx.clock(),
                idempotency_key=idempotency_key,
            )
            token = new_token()
            order.access_hash = token_hash(token)
            out = order_out(db, order, access_token=token)
            remember(
                db, idempotency_key, ROUTE, payload, 201, out.model_dump(mode="json"), ctx.clock()
            )
    except IntegrityError:  # the same key, created concurrently: answer as the first did
        with ctx.sessions.begin() as db:
            earlier = replay_or_none(db, idempotency_key, ROUTE, payload)
        if earlier is None:
            raise
        return OrderOut(**earlier.response)
    return out


@router.get("/{order_no}", response_model=OrderOut)
def read(order_no: str, db: DB, x_order_token: Annotated[str | None, Header()] = None) -> OrderOut:
    return order_out(db, owned_order(db, order_no, x_order_token))


def owned_order(db: Session, order_no: str, token: str | None) -> Order:
    """The order, if the caller holds its access token (anyone else learns nothing)."""
    order = db.scalar(select(Order).where(Order.order_no == order_no))
    if (
        order is None
        or token is None
        or order.access_hash is None
        or not hmac.compare_digest(order.access_hash, token_hash(token))
    ):
        raise not_found("order", "订单")
    return order


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
