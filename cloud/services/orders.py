"""Orders: from a cart to a pending order holding its places, or a clear refusal.

``create_order`` checks the order's size (lines, and each product's ``max_per_order`` over all
its lines) and what its anonymous client already holds (services/holds.py), then every line
(product on sale, day open and not past, slot not over, price type priced, ID numbers for
real-name products), prices it (peak days), reserves the places atomically
(services/inventory.py) and records the order as ``pending`` until ``expires_at``
(``HOLD_MINUTES``). services/holds.py expires unpaid orders and gives their places back.

Duplicate purchases: an order from the same buyer for the same day and slot within
``DUPLICATE_WINDOW`` is accepted but marked ``duplicate_of`` (families do buy twice; the
window staff see it). A real-name ID that already holds a ticket or a pending order for the
same product and day, in this order or another, is refused: one person, one ticket (防黄牛),
by the primary key of services/holder_claims.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CalendarDay, Inventory, Order, OrderItem, Price, Product, Site
from cloud.services import holder_claims, holds, inventory
from cloud.services.calendar import price_on
from cloud.services.personal_data import PersonalData
from keys.holder import holder_ref, valid_id_number

HOLD_MINUTES = 15
DUPLICATE_WINDOW = timedelta(minutes=30)
CHANNELS = ("web", "window", "ota", "distributor", "kiosk")
DEFAULT_LIMITS = holds.HoldLimits()


@dataclass(frozen=True)
class LineRequest:
    inventory_id: int
    price_type: str
    quantity: int
    group_ticket: bool = False
    holders: list[str] = field(default_factory=list)  # ID numbers, real-name products


def create_order(
    session: Session,
    *,
    site: str,
    lines: list[LineRequest],
    channel: str,
    contact: str | None,
    pd: PersonalData,
    holder_salt: bytes,
    now: datetime,
    idempotency_key: str | None = None,
    client: str | None = None,
    limits: holds.HoldLimits = DEFAULT_LIMITS,
) -> Order:
    """Hold places for ``lines``. ``client`` is the anonymous buyer's address (None when staff
    sell): its unpaid places count against ``limits.client_places``."""
    if channel not in CHANNELS:
        raise Problem(Code.BAD_CHANNEL, channels=", ".join(CHANNELS))
    if not lines:
        raise Problem(Code.EMPTY_ORDER)
    place = session.get(Site, site)
    if place is None:
        raise not_found(Thing.SITE)
    _check_size(session, lines, limits)
    places = sum(line.quantity for line in lines)
    holds.check_client(session, client, places, limits.client_places, now)
    local_now = now.astimezone(ZoneInfo(place.timezone))
    buyer_ref = pd.blind_ref(contact) if contact else None
    order = Order(
        order_no=_order_no(local_now),
        site=site,
        status="pending",
        channel=channel,
        total_fen=0,
        buyer_ref=buyer_ref,
        buyer_contact=pd.seal(contact) if contact else None,
        idempotency_key=idempotency_key,
        created_at=now,
        expires_at=now + timedelta(minutes=HOLD_MINUTES),
        client=client,
    )
    session.add(order)
    session.flush()
    for line in lines:
        item = _line(session, order, line, place, local_now, holder_salt, pd)
        order.total_fen += item.unit_fen * item.quantity
        inventory.reserve(session, line.inventory_id, line.quantity)
    order.duplicate_of = _recent_duplicate(session, order, lines, now)
    return order


def _check_size(session: Session, lines: list[LineRequest], limits: holds.HoldLimits) -> None:
    """An order has at most ``limits.max_lines`` lines, and a product's ``max_per_order``
    counts every line of it (else 50 lines of 20 hold 1,000 places)."""
    if len(lines) > limits.max_lines:
        raise Problem(Code.TOO_MANY_LINES, most=limits.max_lines)
    per_product: dict[int, int] = {}
    for line in lines:
        stock = session.get(Inventory, line.inventory_id)
        if stock is not None:  # an unknown one is refused line by line
            per_product[stock.product_id] = per_product.get(stock.product_id, 0) + line.quantity
    for product_id, quantity in per_product.items():
        product = session.get(Product, product_id)
        if product is not None and quantity > product.max_per_order:
            raise Problem(Code.BAD_QUANTITY, least=1, most=product.max_per_order)


def check_bookable(session: Session, stock: Inventory, place: Site, local_now: datetime) -> None:
    """Refuse a day that is over, a slot that has ended or a closed day (site-local time):
    for a new order and for a date change alike."""
    today = local_now.date()
    if stock.day < today:
        raise Problem(Code.DAY_PAST)
    if (
        stock.has_slot
        and stock.day == today
        and local_now.hour * 60 + local_now.minute >= stock.slot_end
    ):
        raise Problem(Code.SLOT_OVER)
    calendar = session.get(CalendarDay, (place.code, stock.day))
    if calendar is not None and calendar.closed:
        raise Problem(Code.DAY_CLOSED)


def unit_price(session: Session, site: str, price: Price, day: date) -> int:
    """What one person pays at ``price`` on ``day`` at ``site``, by the calendar's rule
    (services/calendar.price_on). Orders and date changes both price by this."""
    return price_on(price, session.get(CalendarDay, (site, day)))


def _line(
    session: Session,
    order: Order,
    line: LineRequest,
    place: Site,
    local_now: datetime,
    holder_salt: bytes,
    pd: PersonalData,
) -> OrderItem:
    stock = session.get(Inventory, line.inventory_id)
    if stock is None:
        raise not_found(Thing.INVENTORY)
    product = session.get(Product, stock.product_id)
    if product is None or not product.active or product.site != place.code:
        raise Problem(Code.NOT_ON_SALE)
    if not 1 <= line.quantity <= product.max_per_order:
        raise Problem(Code.BAD_QUANTITY, least=1, most=product.max_per_order)
    check_bookable(session, stock, place, local_now)
    price = session.get(Price, (product.id, line.price_type))
    if price is None:
        raise Problem(Code.NO_PRICE, price_type=line.price_type)
    unit = unit_price(session, place.code, price, stock.day)
    holders = _holders(session, order, product, stock, line, holder_salt, pd)
    item = OrderItem(
        order_id=order.id,
        product_id=product.id,
        inventory_id=stock.id,
        price_type=line.price_type,
        quantity=line.quantity,
        unit_fen=unit,
        group_ticket=line.group_ticket and line.quantity > 1,
        holders=holders,
    )
    session.add(item)
    return item


def _holders(
    session: Session,
    order: Order,
    product: Product,
    stock: Inventory,
    line: LineRequest,
    salt: bytes,
    pd: PersonalData,
) -> list[dict[str, str]] | None:
    if not product.real_name:
        return None
    if len(line.holders) != line.quantity or line.group_ticket:
        raise Problem(Code.HOLDERS_REQUIRED)
    refs = []
    for number in line.holders:
        if not valid_id_number(number):
            raise Problem(Code.BAD_ID_NUMBER)
        refs.append(holder_ref(salt, "id_card", number))
    holder_claims.claim_holders(session, order.id, product.id, stock.day, refs)
    return [
        {"ref": ref.hex(), "id": pd.seal(number).hex()}
        for ref, number in zip(refs, line.holders, strict=True)
    ]


def _recent_duplicate(
    session: Session, order: Order, lines: list[LineRequest], now: datetime
) -> str | None:
    if order.buyer_ref is None:
        return None
    inventories = [line.inventory_id for line in lines]
    earlier = session.scalars(
        select(Order.order_no)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(
            Order.buyer_ref == order.buyer_ref,
            Order.id != order.id,
            Order.status.in_(["pending", "paid"]),
            Order.created_at >= now - DUPLICATE_WINDOW,
            OrderItem.inventory_id.in_(inventories),
        )
    ).first()
    return earlier


def _order_no(local_now: datetime) -> str:
    """Date first (staff read it), then 10 random digits: unguessable, unique in practice
    (and unique by constraint)."""
    return local_now.strftime("%Y%m%d") + f"{secrets.randbelow(10**10):010d}"
