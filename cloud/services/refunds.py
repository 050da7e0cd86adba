"""Refunds and date changes (退改签), by the product's rules, consistent with the gates.

A ticket can be refunded or changed only if:
- it is still ``valid`` (not already refunded or changed);
- no gate has reported an entry with it (the gates are the source of truth for who walked
  through: a use event in ``gate_events`` means it was used);
- the product allows it, before its window closes: ``refund_until_hours`` before the visit
  day starts, in the site's time zone.

A refund pays back the ticket's price less the product's fee (integer fen, rounded down in the
buyer's favour... of the fee), gives its place back and revokes it. A change takes a place on
the new day or slot (same product and price), issues a new code and revokes the old one.
Revocations go out as a root-signed delta (services/downlink_documents.py) returned to the
caller for publishing after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Problem, not_found
from cloud.models import (
    CalendarDay,
    CashierShift,
    GateEventRecord,
    Inventory,
    Order,
    OrderItem,
    Payment,
    Price,
    Product,
    Refund,
    Site,
    Ticket,
)
from cloud.services import downlink_documents, inventory
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, make_ticket
from cloud.services.payments.provider import Provider
from keys.cose import Signer


@dataclass(frozen=True)
class Outcome:
    order_no: str
    refund_fen: int
    fee_fen: int
    tickets: list[str]
    revocation: bytes  # the signed delta to publish after commit
    new_tickets: list[str]


def refund_tickets(
    session: Session,
    *,
    order_no: str,
    ticket_numbers: list[str] | None,
    providers: dict[str, Provider],
    root: Signer,
    actor: str,
    source: str,
    now: datetime,
    shift: CashierShift | None = None,
) -> Outcome:
    """Refund tickets of an order. Cash goes back across the counter: a cash order is refunded
    only by a cashier with an open ``shift``, whose till pays it out."""
    order, site = _order(session, order_no)
    tickets = _tickets(session, order, ticket_numbers)
    products = [_refundable(session, ticket, site, now, "refund") for ticket in tickets]
    payment = session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.status != "refunded")
    )
    if payment is None:
        raise Problem(409, "not_paid", "This order has no payment to refund", "订单无可退款项")
    refund_fen = fee_fen = 0
    for ticket, product in zip(tickets, products, strict=True):
        fee = ticket.unit_fen * product.refund_fee_percent // 100
        refund_fen += ticket.unit_fen - fee
        fee_fen += fee
        ticket.status = "refunded"
        inventory.release(session, ticket.inventory_id, ticket.people)
    revocation = downlink_documents.revoke(
        session, root, site.code, {t.ticket_id: t.valid_until for t in tickets}, now
    )
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        amount_fen=refund_fen,
        fee_fen=fee_fen,
        reason="refund",
        created_at=now,
        actor=actor,
        tickets=[t.ticket_id.hex().upper() for t in tickets],
    )
    session.add(refund)
    session.flush()
    if payment.provider == "cash":
        if shift is None:
            raise Problem(
                409,
                "refund_at_window",
                "Cash payments are refunded at the window",
                "现金支付请到售票窗口退款",
            )
        shift.cash_out_fen += refund_fen
    provider = providers[payment.provider]
    refund.provider_refund = provider.refund(
        order.order_no, payment.provider_txn, f"RF{refund.id}", refund_fen, payment.amount_fen
    )
    order.refunded_fen += refund_fen
    remaining = session.scalar(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.status == "valid")
    )
    order.status = "partially_refunded" if remaining else "refunded"
    payment.status = "partially_refunded" if remaining else "refunded"
    audit(
        session,
        actor,
        source,
        "refund",
        order.order_no,
        {"refund_fen": refund_fen, "fee_fen": fee_fen, "tickets": refund.tickets},
        at=now,
    )
    return Outcome(order.order_no, refund_fen, fee_fen, refund.tickets, revocation, [])


def change_ticket(
    session: Session,
    *,
    ticket_number: str,
    inventory_id: int,
    issuer: Issuer,
    root: Signer,
    actor: str,
    source: str,
    now: datetime,
) -> Outcome:
    ticket = session.scalar(
        select(Ticket).where(Ticket.ticket_id == ticket_id_of(ticket_number)).with_for_update()
    )
    if ticket is None:
        raise not_found("ticket", "门票")
    order, site = _order(session, None, order_id=ticket.order_id)
    product = _refundable(session, ticket, site, now, "change")
    if not product.changeable:
        raise Problem(409, "not_changeable", "This product cannot be changed", "该产品不可改签")
    target = session.get(Inventory, inventory_id)
    if target is None or target.product_id != product.id:
        raise Problem(
            422,
            "bad_target",
            "Change to a day or slot of the same product",
            "只能改签到同一产品的其他日期或时段",
        )
    if (
        _unit_price(session, product, target, item_price_type(session, ticket))
        != ticket.unit_fen // ticket.people
    ):
        raise Problem(
            409,
            "price_differs",
            "That day has another price (peak day): refund and buy again",
            "目标日期票价不同（高峰日），请退票后重新购买",
        )
    inventory.reserve(session, target.id, ticket.people)
    inventory.release(session, ticket.inventory_id, ticket.people)
    item = session.get(OrderItem, ticket.item_id)
    assert item is not None
    new = make_ticket(
        session, issuer, order, item, product, target, ticket.people, ticket.holder_ref, now
    )
    session.flush()
    ticket.status, ticket.replaced_by = "changed", new.id
    revocation = downlink_documents.revoke(
        session, root, site.code, {ticket.ticket_id: ticket.valid_until}, now
    )
    audit(
        session,
        actor,
        source,
        "change",
        order.order_no,
        {
            "from": ticket.ticket_id.hex().upper(),
            "to": new.ticket_id.hex().upper(),
            "day": target.day.isoformat(),
        },
        at=now,
    )
    return Outcome(
        order.order_no,
        0,
        0,
        [ticket.ticket_id.hex().upper()],
        revocation,
        [new.ticket_id.hex().upper()],
    )


def item_price_type(session: Session, ticket: Ticket) -> str:
    item = session.get(OrderItem, ticket.item_id)
    assert item is not None
    return item.price_type


def _unit_price(session: Session, product: Product, stock: Inventory, price_type: str) -> int:
    """What one person pays for this product on that day (the peak price on peak days)."""
    price = session.get(Price, (product.id, price_type))
    if price is None:
        return -1
    day = session.get(CalendarDay, (product.site, stock.day))
    if day is not None and day.peak and price.peak_amount_fen:
        return price.peak_amount_fen
    return price.amount_fen


def _refundable(session: Session, ticket: Ticket, site: Site, now: datetime, what: str) -> Product:
    number = ticket.ticket_id.hex().upper()
    if ticket.status != "valid":
        raise Problem(
            409,
            "ticket_not_valid",
            f"Ticket {number} was already {ticket.status}",
            f"门票{number}已{'退票' if ticket.status == 'refunded' else '改签'}",
        )
    used = session.scalar(
        select(GateEventRecord.id).where(
            GateEventRecord.site == site.code,
            GateEventRecord.kind == "use",
            GateEventRecord.data["ticket"].as_string() == number,
        )
    )
    if used:
        raise Problem(
            409,
            "ticket_used",
            f"Ticket {number} has been used at a gate",
            f"门票{number}已检票入园",
        )
    product = session.get(Product, ticket.product_id)
    assert product is not None
    visit_starts = datetime.combine(
        ticket.valid_from, datetime.min.time(), tzinfo=ZoneInfo(site.timezone)
    )
    if now > visit_starts - timedelta(hours=product.refund_until_hours):
        raise Problem(
            409,
            f"{what}_window_closed",
            f"{what.capitalize()}s close {product.refund_until_hours} h before the day",
            f"{'退票' if what == 'refund' else '改签'}须在游玩日前"
            f"{product.refund_until_hours}小时办理",
        )
    return product


def _order(
    session: Session, order_no: str | None, order_id: int | None = None
) -> tuple[Order, Site]:
    query = select(Order).with_for_update()
    query = (
        query.where(Order.order_no == order_no) if order_no else query.where(Order.id == order_id)
    )
    order = session.scalar(query)
    if order is None:
        raise not_found("order", "订单")
    site = session.get(Site, order.site)
    assert site is not None
    return order, site


def _tickets(session: Session, order: Order, numbers: list[str] | None) -> list[Ticket]:
    tickets = session.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()
    if numbers is None:
        chosen = [t for t in tickets if t.status == "valid"]
    else:
        wanted = {ticket_id_of(n) for n in numbers}
        chosen = [t for t in tickets if t.ticket_id in wanted]
        if len(chosen) != len(wanted):
            raise Problem(
                404, "not_found", "A ticket is not part of this order", "门票不属于该订单"
            )
    if not chosen:
        raise Problem(409, "nothing_to_refund", "No valid tickets to refund", "没有可退的门票")
    return chosen


def ticket_id_of(number: str) -> bytes:
    """A ticket number as typed or shown (hex) to its id; 422 if it is not hex."""
    try:
        return bytes.fromhex(number)
    except ValueError:
        raise Problem(
            422, "bad_ticket_number", "A ticket number is hexadecimal", "票号格式错误"
        ) from None
