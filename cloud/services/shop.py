"""What the visitor's phone shows: a site's shop (products, prices, days on sale) and an order's
ticket cards (codes, day, slot, zones, holder, people, what a refund or change would do).

Reads only: buying, paying, refunding and changing go through the same services as the API
(the pages call the API itself), so rate limits, hold caps, idempotency and real-name checks
are those of the API. Never: return another order's data (callers pass an order they already
checked the token of, api/order_views.owned_order), or an ID number in full (only its first
three and last four characters: enough for a visitor to tell whose code is whose).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Thing, not_found
from cloud.models import Inventory, Order, OrderItem, Price, Product, Site, Ticket, Zone
from cloud.services import refunds
from cloud.services.personal_data import PersonalData

PRICE_ORDER = ("adult", "child", "concession", "senior", "group", "member")
SHOP_DAYS = 14  # how many days ahead the shop offers (inventory further out is sold elsewhere)
# A QR module of 8 px with the 4-module quiet zone: a version-6 code (41 modules) is 392 px,
# sharp at the ~280 CSS px the page shows it on a 2x screen, and small as a PNG (~1 KB).
QR_SCALE = 8


@dataclass(frozen=True)
class ShopView:
    site: dict[str, Any]
    products: list[dict[str, Any]]
    today: str  # the site's date (ISO), where the day picker starts


def shop_view(session: Session, site_code: str, now: datetime) -> ShopView:
    """The site's products on sale, each with its prices and the days it has places on."""
    site = session.get(Site, site_code)
    if site is None:
        raise not_found(Thing.SITE)
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    zones = _zone_names(session, site.code)
    products = []
    for product in session.scalars(
        select(Product)
        .where(Product.site == site.code, Product.active.is_(True))
        .order_by(Product.id)
    ):
        prices = sorted(
            session.scalars(select(Price).where(Price.product_id == product.id)),
            key=lambda p: PRICE_ORDER.index(p.price_type) if p.price_type in PRICE_ORDER else 99,
        )
        days = sorted(
            {
                row.day
                for row in session.scalars(
                    select(Inventory).where(
                        Inventory.product_id == product.id, Inventory.day >= today
                    )
                )
                if (row.day - today).days < SHOP_DAYS
            }
        )
        products.append(
            {
                "id": product.id,
                "name_zh": product.name_zh,
                "name_en": product.name_en,
                "kind": product.kind,
                "real_name": product.real_name,
                "max_per_order": product.max_per_order,
                "refund_until_hours": product.refund_until_hours,
                "refund_fee_percent": product.refund_fee_percent,
                "changeable": product.changeable,
                "zones": _zones_of(product, zones),
                "prices": [
                    {"price_type": p.price_type, "amount_fen": p.amount_fen}
                    for p in prices
                    if p.price_type in ("adult", "child", "concession", "senior")
                ],
                "days": [d.isoformat() for d in days],
            }
        )
    return ShopView(
        {
            "code": site.code,
            "name_zh": site.name_zh,
            "name_en": site.name_en,
            "timezone": site.timezone,
        },
        products,
        today.isoformat(),
    )


def ticket_cards(session: Session, order: Order, pd: PersonalData, now: datetime) -> dict[str, Any]:
    """Everything the ticket page keeps on the phone for ``order``: one card per code, with
    its QR code as a PNG data URI (the page saves it for offline use and "save image")."""
    site = session.get(Site, order.site)
    assert site is not None
    zones = _zone_names(session, site.code)
    cards = []
    for ticket in session.scalars(
        select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)
    ):
        product = session.get(Product, ticket.product_id)
        stock = session.get(Inventory, ticket.inventory_id)
        item = session.get(OrderItem, ticket.item_id)
        assert product is not None and stock is not None and item is not None
        terms = refunds.quote(session, ticket, site, now)
        cards.append(
            {
                "ticket_no": ticket.ticket_id.hex().upper(),
                "status": ticket.status,
                "people": ticket.people,
                "price_type": item.price_type,
                "product_id": product.id,
                "product_zh": product.name_zh,
                "product_en": product.name_en,
                "day": ticket.valid_from.isoformat(),
                "valid_until": ticket.valid_until.isoformat(),
                "slot": slot_text(stock),
                "zones": _zones_of(product, zones),
                "holder": _holder(item, ticket, pd),
                "qr_png": _qr_png(ticket.text) if ticket.status == "valid" else None,
                "refundable": terms.refundable,
                "changeable": terms.changeable,
                "refund_fen": terms.refund_fen,
                "fee_fen": terms.fee_fen,
                "refund_until_hours": terms.hours,
                "why_not": str(terms.reason) if terms.reason else None,
            }
        )
    return {
        "order_no": order.order_no,
        "status": order.status,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "refunded_fen": order.refunded_fen,
        "expires_at": order.expires_at.isoformat(),
        "site": {
            "code": site.code,
            "name_zh": site.name_zh,
            "name_en": site.name_en,
            "timezone": site.timezone,
        },
        "tickets": cards,
    }


def change_options(session: Session, ticket: Ticket, now: datetime) -> list[dict[str, Any]]:
    """Days and slots ``ticket`` may move to: the same product, from the site's today, with
    places left and the same price per person (a change never costs or pays money here;
    services/refunds.change_ticket refuses anything else with ``price_differs``)."""
    product = session.get(Product, ticket.product_id)
    item = session.get(OrderItem, ticket.item_id)
    site = session.get(Site, product.site) if product else None
    assert product is not None and item is not None and site is not None
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    unit = ticket.unit_fen // ticket.people
    found = []
    for row in session.scalars(
        select(Inventory)
        .where(Inventory.product_id == product.id, Inventory.day >= today)
        .order_by(Inventory.day, Inventory.slot_start)
    ):
        described = row.describe()
        if row.id == ticket.inventory_id or described["available"] < ticket.people:
            continue
        if refunds.unit_price_of(session, product, row, item.price_type) != unit:
            continue
        found.append({**described, "slot": slot_text(row)})
    return found


def slot_text(stock: Inventory) -> str | None:
    """A time slot as the site's clock shows it, "09:00-10:00"; None for a whole-day place."""
    if not stock.has_slot:
        return None
    return (
        f"{stock.slot_start // 60:02d}:{stock.slot_start % 60:02d}-"
        f"{stock.slot_end // 60:02d}:{stock.slot_end % 60:02d}"
    )


def mask_id(number: str) -> str:
    """110105********002X: the first three and last four characters of an ID number."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def _holder(item: OrderItem, ticket: Ticket, pd: PersonalData) -> str | None:
    if ticket.holder_ref is None or not item.holders:
        return None
    for holder in item.holders:
        if holder.get("ref") == ticket.holder_ref.hex():
            return mask_id(pd.open(bytes.fromhex(holder["id"])))
    return None


def _qr_png(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=QR_SCALE, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _zone_names(session: Session, site: str) -> dict[int, dict[str, str]]:
    return {
        z.zone: {"zh": z.name_zh, "en": z.name_en}
        for z in session.scalars(select(Zone).where(Zone.site == site))
    }


def _zones_of(product: Product, zones: dict[int, dict[str, str]]) -> list[dict[str, str]]:
    """The zones a product's tickets open, named; every zone of the site when it names none."""
    ids = product.zones if product.zones is not None else sorted(zones)
    return [zones.get(z, {"zh": f"{z}区", "en": f"Zone {z}"}) for z in ids]
