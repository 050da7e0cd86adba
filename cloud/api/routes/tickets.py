"""A ticket's QR code as PNG or SVG, for the buyer who holds the order's token."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Header, Response
from sqlalchemy import select

from cloud.api.deps import DB
from cloud.api.routes.orders import owned_order
from cloud.core.errors import Problem, not_found
from cloud.models import Order, Ticket

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


@router.get("/{ticket_no}/qr.{kind}")
def qr(
    ticket_no: str, kind: str, db: DB, x_order_token: Annotated[str | None, Header()] = None
) -> Response:
    if kind not in MEDIA:
        raise Problem(404, "not_found", "Only qr.png and qr.svg exist", "仅支持PNG和SVG")
    try:
        raw = bytes.fromhex(ticket_no)
    except ValueError:
        raise not_found("ticket", "门票") from None
    ticket = db.scalar(select(Ticket).where(Ticket.ticket_id == raw))
    order = db.get(Order, ticket.order_id) if ticket else None
    if ticket is None or order is None:
        raise not_found("ticket", "门票")
    owned_order(db, order.order_no, x_order_token)
    buffer = io.BytesIO()
    segno.make(ticket.text, error="m", micro=False).save(buffer, kind=kind, scale=8, border=4)
    return Response(buffer.getvalue(), media_type=MEDIA[kind])
