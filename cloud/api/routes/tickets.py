"""A ticket's QR code as PNG or SVG, and an order's printable page, for the buyer who holds
the order's token."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Header, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from cloud.api.deps import DB
from cloud.api.order_views import BuyersOrder, owned_order
from cloud.core.errors import Thing, not_found
from cloud.models import Inventory, Order, Product, Site, Ticket

router = APIRouter(prefix="/api/v1", tags=["tickets"])
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get("/tickets/{ticket_no}/qr.{kind}")
def qr(
    ticket_no: str, kind: str, db: DB, x_order_token: Annotated[str | None, Header()] = None
) -> Response:
    if kind not in MEDIA:
        raise not_found(Thing.PAGE)
    try:
        raw = bytes.fromhex(ticket_no)
    except ValueError:
        raise not_found(Thing.TICKET) from None
    ticket = db.scalar(select(Ticket).where(Ticket.ticket_id == raw))
    order = db.get(Order, ticket.order_id) if ticket else None
    if ticket is None or order is None:
        raise not_found(Thing.TICKET)
    owned_order(db, order.order_no, x_order_token)
    buffer = io.BytesIO()
    segno.make(ticket.text, error="m", micro=False).save(buffer, kind=kind, scale=8, border=4)
    return Response(buffer.getvalue(), media_type=MEDIA[kind])


@router.get("/orders/{order_no}/print", response_class=HTMLResponse)
def printable(order: BuyersOrder, db: DB) -> HTMLResponse:
    """The order's tickets as a printable page (one card per code, QR inline as SVG)."""
    site = db.get(Site, order.site)
    cards = []
    for ticket in db.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)):
        product = db.get(Product, ticket.product_id)
        stock = db.get(Inventory, ticket.inventory_id)
        assert product is not None and stock is not None
        cards.append(
            {
                "number": ticket.ticket_id.hex().upper(),
                "status": ticket.status,
                "people": ticket.people,
                "valid_from": ticket.valid_from.isoformat(),
                "valid_until": ticket.valid_until.isoformat(),
                "product_zh": product.name_zh,
                "product_en": product.name_en,
                "slot": (
                    f"{stock.slot_start // 60:02d}:{stock.slot_start % 60:02d}-"
                    f"{stock.slot_end // 60:02d}:{stock.slot_end % 60:02d}"
                )
                if stock.has_slot
                else None,
                "svg": segno.make(ticket.text, error="m", micro=False).svg_inline(scale=4),
            }
        )
    html = TEMPLATES.get_template("tickets.html").render(order=order, site=site, tickets=cards)
    return HTMLResponse(html)
