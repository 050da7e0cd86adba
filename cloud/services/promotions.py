"""Limited offers for members: flash sales (限时抢购) and coupons / promo codes (优惠券).

Two limits hold under any concurrency, each by one statement whose row count is checked:

- the offer's own total: ``UPDATE flash_sales SET taken = taken + q WHERE taken + q <= places``
  (coupons: ``used + 1 <= total_limit``);
- the per-member limit: the member's row in ``member_takes`` (primary key offer + member) is
  created by INSERT, so of two first takes by one member exactly one creates it (the other
  meets the key: on PostgreSQL it waits for the first to commit, then fails in a savepoint),
  and every later take is ``UPDATE ... SET taken = taken + q WHERE taken + q <= limit``.

A refusal (limit, sold out, closed) raises, so the whole transaction (order, places, takes)
rolls back: nothing is half taken. Proven with 200 concurrent buyers for 50 places on both
engines (tests/cloud/test_members.py).

Never: let a flash-sale order keep the list price, or count a coupon whose order was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Coupon, FlashSale, Inventory, Member, MemberTake, Order, OrderItem, Product
from cloud.models.base import as_utc
from cloud.services.audit import audit
from cloud.services.orders import LineRequest, create_order
from cloud.services.personal_data import PersonalData


@dataclass(frozen=True)
class FlashOrder:
    order_no: str
    total_fen: int


MAX_FEN = 10_000_000  # an offer's amounts, as the catalogue's prices
MAX_COUNT = 10_000_000  # places or uses of one offer
MAX_PER_MEMBER = 100


def _within(name: str, value: int, least: int, most: int) -> None:
    """422 ``bad_offer`` naming the field: an offer's number the sale could not apply (a
    percentage over 100 makes every order free, a negative amount makes it dearer)."""
    if not least <= value <= most:
        raise Problem(Code.BAD_OFFER, field=name, allowed=f"{least}-{most}")


def _in_order(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Problem(Code.BAD_OFFER, field="ends_at", allowed=">starts_at")


def create_flash_sale(
    session: Session,
    *,
    inventory_id: int,
    price_type: str,
    price_fen: int,
    places: int,
    per_member_limit: int,
    starts_at: datetime,
    ends_at: datetime,
    actor: str,
    source: str,
    now: datetime,
) -> int:
    """A flash sale, checked, audited (who offered which places at which price)."""
    _within("price_fen", price_fen, 0, MAX_FEN)
    _within("places", places, 1, MAX_COUNT)
    _within("per_member_limit", per_member_limit, 1, MAX_PER_MEMBER)
    _in_order(starts_at, ends_at)
    if session.get(Inventory, inventory_id) is None:
        raise not_found(Thing.INVENTORY)
    sale = FlashSale(
        inventory_id=inventory_id,
        price_type=price_type,
        price_fen=price_fen,
        places=places,
        taken=0,
        per_member_limit=per_member_limit,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    session.add(sale)
    session.flush()
    audit(session, actor, source, "create_flash_sale", f"flash_sale:{sale.id}",
          {"inventory_id": inventory_id, "price_type": price_type, "price_fen": price_fen,
           "places": places, "per_member_limit": per_member_limit,
           "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}, at=now)  # fmt: skip
    return sale.id


def flash_buy(
    session: Session,
    sale_id: int,
    member: Member,
    quantity: int,
    *,
    pd: PersonalData,
    holder_salt: bytes,
    now: datetime,
) -> FlashOrder:
    """A pending order for ``quantity`` places of flash sale ``sale_id`` at its price, for
    ``member``; paid like any order."""
    sale = session.get(FlashSale, sale_id)
    if sale is None:
        raise not_found(Thing.OFFER)
    if not as_utc(sale.starts_at) <= now < as_utc(sale.ends_at):
        raise Problem(Code.OFFER_NOT_OPEN)
    take(session, f"flash:{sale_id}", member.id, quantity, sale.per_member_limit)
    grabbed = session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale_id, FlashSale.taken + quantity <= FlashSale.places)
        .values(taken=FlashSale.taken + quantity)
        .execution_options(synchronize_session=False)
    )
    if grabbed.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.OFFER_SOLD_OUT)
    stock = session.get(Inventory, sale.inventory_id)
    product = session.get(Product, stock.product_id) if stock else None
    assert product is not None
    order = create_order(
        session,
        site=product.site,
        lines=[LineRequest(sale.inventory_id, sale.price_type, quantity)],
        channel="web",
        contact=pd.open(member.contact) if member.contact else None,
        pd=pd,
        holder_salt=holder_salt,
        now=now,
    )
    reprice(session, order, sale.price_fen)
    return FlashOrder(order.order_no, order.total_fen)


def reprice(session: Session, order: Order, unit_fen: int) -> None:
    """Set every item of a pending order to ``unit_fen`` a person, and its total to match."""
    session.flush()
    session.execute(
        update(OrderItem)
        .where(OrderItem.order_id == order.id)
        .values(unit_fen=unit_fen)
        .execution_options(synchronize_session=False)
    )
    people = sum(session.scalars(select(OrderItem.quantity).where(OrderItem.order_id == order.id)))
    priced = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "pending")
        .values(total_fen=unit_fen * people)
        .execution_options(synchronize_session=False)
    )
    if priced.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"order {order.order_no} changed while it was being made")
    session.expire_all()  # its items, loaded before the UPDATEs, are read again when used


def discount(session: Session, order: Order, per_person_fen: int) -> None:
    """Take ``per_person_fen`` off every person's price in a pending order, and its total."""
    session.flush()
    session.execute(
        update(OrderItem)
        .where(OrderItem.order_id == order.id)
        .values(unit_fen=OrderItem.unit_fen - per_person_fen)
        .execution_options(synchronize_session=False)
    )
    people = sum(session.scalars(select(OrderItem.quantity).where(OrderItem.order_id == order.id)))
    priced = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == "pending")
        .values(total_fen=Order.total_fen - per_person_fen * people)
        .execution_options(synchronize_session=False)
    )
    if priced.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"order {order.order_no} changed while it was being made")
    session.expire_all()  # its items, loaded before the UPDATEs, are read again when used


def take(session: Session, offer: str, member_id: int, quantity: int, limit: int) -> None:
    """Count ``quantity`` of ``offer`` against ``member_id``'s ``limit`` (module docstring)."""
    if quantity > limit:
        raise Problem(Code.MEMBER_LIMIT, limit=limit)
    if _add_take(session, offer, member_id, quantity, limit):
        return
    try:
        with session.begin_nested():
            session.add(MemberTake(offer=offer, member_id=member_id, taken=quantity))
    except IntegrityError:  # the member's first take, made concurrently, won
        if not _add_take(session, offer, member_id, quantity, limit):
            raise Problem(Code.MEMBER_LIMIT, limit=limit) from None


def _add_take(session: Session, offer: str, member_id: int, quantity: int, limit: int) -> bool:
    """True if the member's row existed and had room; raises if it existed without room."""
    added = session.execute(
        update(MemberTake)
        .where(
            MemberTake.offer == offer,
            MemberTake.member_id == member_id,
            MemberTake.taken + quantity <= limit,
        )
        .values(taken=MemberTake.taken + quantity)
        .execution_options(synchronize_session=False)
    )
    if added.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(MemberTake, (offer, member_id)) is not None:
        raise Problem(Code.MEMBER_LIMIT, limit=limit)
    return False


def create_coupon(
    session: Session,
    *,
    code: str,
    starts_at: datetime,
    ends_at: datetime,
    total_limit: int,
    per_member_limit: int = 1,
    amount_fen: int | None = None,
    percent: int | None = None,
    min_total_fen: int = 0,
    product_id: int | None = None,
    actor: str,
    source: str,
    now: datetime,
) -> None:
    """A coupon, checked, audited (who made which discount with which limits)."""
    if (amount_fen is None) == (percent is None):
        raise Problem(Code.COUPON_AMOUNT_OR_PERCENT)
    if amount_fen is not None:
        _within("amount_fen", amount_fen, 1, MAX_FEN)
    if percent is not None:
        _within("percent", percent, 1, 100)
    _within("min_total_fen", min_total_fen, 0, MAX_FEN)
    _within("total_limit", total_limit, 1, MAX_COUNT)
    _within("per_member_limit", per_member_limit, 1, MAX_PER_MEMBER)
    _in_order(starts_at, ends_at)
    if product_id is not None and session.get(Product, product_id) is None:
        raise not_found(Thing.PRODUCT)
    if session.get(Coupon, code.strip().upper()) is not None:
        raise Problem(Code.DUPLICATE_OFFER, coupon=code.strip().upper())
    session.add(
        Coupon(
            code=code.strip().upper(),
            amount_fen=amount_fen,
            percent=percent,
            min_total_fen=min_total_fen,
            product_id=product_id,
            starts_at=starts_at,
            ends_at=ends_at,
            total_limit=total_limit,
            per_member_limit=per_member_limit,
            used=0,
        )
    )
    session.flush()
    audit(session, actor, source, "create_coupon", f"coupon:{code.strip().upper()}",
          {"amount_fen": amount_fen, "percent": percent, "min_total_fen": min_total_fen,
           "product_id": product_id, "total_limit": total_limit,
           "per_member_limit": per_member_limit, "starts_at": starts_at.isoformat(),
           "ends_at": ends_at.isoformat()}, at=now)  # fmt: skip


def use_coupon(session: Session, code: str, member_id: int, order: Order, now: datetime) -> int:
    """Count one use of ``code`` by the member for ``order``; the discount in fen."""
    coupon = session.get(Coupon, code.strip().upper())
    if coupon is None:
        raise not_found(Thing.OFFER)
    products = set(
        session.scalars(select(OrderItem.product_id).where(OrderItem.order_id == order.id))
    )
    if (
        not as_utc(coupon.starts_at) <= now < as_utc(coupon.ends_at)
        or order.total_fen < coupon.min_total_fen
        or (coupon.product_id is not None and coupon.product_id not in products)
    ):
        raise Problem(Code.COUPON_NOT_APPLICABLE)
    take(session, f"coupon:{coupon.code}", member_id, 1, coupon.per_member_limit)
    counted = session.execute(
        update(Coupon)
        .where(Coupon.code == coupon.code, Coupon.used < Coupon.total_limit)
        .values(used=Coupon.used + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.OFFER_SOLD_OUT)
    off = (
        coupon.amount_fen
        if coupon.amount_fen is not None
        else order.total_fen * (coupon.percent or 0) // 100
    )
    return min(off, order.total_fen)
