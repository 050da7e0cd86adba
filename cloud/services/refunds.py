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

Under concurrency: the order is locked and read again first, and every change is a conditional
UPDATE whose row count is checked, so of two refunds of one ticket exactly one wins. A refund
is *claimed* here (a ``pending`` row); the channel pays it once the claim is committed
(services/payments/payout.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import (
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
from cloud.services import (
    annual_passes,
    card_index,
    downlink_documents,
    holder_claims,
    inventory,
    points_refund,
    revenue_shares,
)
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, make_ticket
from cloud.services.orders import check_bookable, unit_price
from cloud.services.payments import cash
from cloud.services.payments.provider import Provider
from keys.cose import Signer


@dataclass(frozen=True)
class Outcome:
    """What a refund or a change did, and what the caller must do once it is committed:
    publish ``revocation`` to ``site``'s gates, pay out refund ``refund_id``."""

    order_no: str
    refund_fen: int
    fee_fen: int
    tickets: list[str]  # revoked
    revocation: bytes  # the signed delta to publish after commit
    new_tickets: list[str]
    site: str
    refund_id: int | None = None  # the claimed refund, to pay out after commit


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
    """Claim the refund of tickets of an order. Cash goes back across the counter: a cash order
    is refunded only by a cashier with an open ``shift``, whose till pays it out."""
    order, site = _order(session, order_no)
    tickets = _tickets(session, order, ticket_numbers)
    products = [
        _refundable(session, ticket, site, now, Code.REFUND_WINDOW_CLOSED) for ticket in tickets
    ]
    payment = session.scalar(
        select(Payment).where(
            Payment.order_id == order.id,
            Payment.status.in_(("succeeded", "partially_refunded")),  # not refunded, not held
        )
    )
    if payment is None:
        raise Problem(Code.NOT_PAID)
    if payment.provider not in providers:
        raise Problem(Code.CHANNEL_UNAVAILABLE, channel=payment.provider)
    refund_fen = fee_fen = 0
    for ticket, product in zip(tickets, products, strict=True):
        fee = refund_fee(ticket, product)
        refund_fen += ticket.unit_fen - fee
        fee_fen += fee
        _retire(session, ticket, "refunded")
        if _holds_place(session, ticket):
            inventory.release(session, ticket.inventory_id, ticket.people)
        holder_claims.release_ticket(session, ticket)
        card_index.leave_ticket(session, ticket)
    annual_passes.on_refund(session, tickets, now)  # a renewal reverts, a pass is refunded
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
        status="pending",
    )
    session.add(refund)
    session.flush()
    refund.refund_no = f"RF{refund.id}"
    revenue_shares.on_refund(session, tickets, refund, now)
    points = points_refund.on_refund(session, order, refund, tickets, now)
    refund_fen = refund.amount_fen  # less points already spent (services/points_refund.py)
    if payment.provider == "cash":
        if shift is None:
            raise Problem(Code.REFUND_AT_WINDOW)
        cash.credit(session, shift.id, out_fen=refund_fen)
    remaining = session.scalar(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.status == "valid")
    )
    _count_refund(
        session, order, payment, refund_fen, "partially_refunded" if remaining else "refunded"
    )
    audit(
        session,
        actor,
        source,
        "refund",
        order.order_no,
        {
            "refund_fen": refund_fen,
            "fee_fen": fee_fen,
            "tickets": refund.tickets,
            **({"points": asdict(points)} if points != points_refund.NONE else {}),
        },
        at=now,
    )
    return Outcome(
        order.order_no, refund_fen, fee_fen, refund.tickets, revocation, [], site.code, refund.id
    )


def _retire(session: Session, ticket: Ticket, status: str, **values: object) -> None:
    """valid -> refunded | changed, only if still valid (another request may have won)."""
    retired = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == "valid")
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    if retired.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.TICKET_NOT_VALID, ticket=ticket.ticket_id.hex().upper())
    session.refresh(ticket)


def _count_refund(
    session: Session, order: Order, payment: Payment, refund_fen: int, status: str
) -> None:
    """Add the refund to the order and its payment, never beyond what was paid."""
    counted = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.refunded_fen + refund_fen <= Order.paid_fen)
        .values(refunded_fen=Order.refunded_fen + refund_fen, status=status)
        .execution_options(synchronize_session=False)
    )
    marked = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(("succeeded", "partially_refunded")))
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1 or marked.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.REFUND_TOO_LARGE)
    session.refresh(order)


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
        select(Ticket)
        .where(Ticket.ticket_id == ticket_id_of(ticket_number))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ticket is None:
        raise not_found(Thing.TICKET)
    order, site = _order(session, None, order_id=ticket.order_id)
    product = _refundable(session, ticket, site, now, Code.CHANGE_WINDOW_CLOSED)
    annual_passes.check_changeable(session, ticket)  # a renewal's ticket keeps its dates
    if not product.changeable:
        raise Problem(Code.NOT_CHANGEABLE)
    target = session.get(Inventory, inventory_id)
    if target is None or target.product_id != product.id:
        raise Problem(Code.BAD_TARGET)
    check_bookable(session, target, site, now.astimezone(ZoneInfo(site.timezone)))
    if (
        unit_price_of(session, product, target, item_price_type(session, ticket))
        != ticket.unit_fen // ticket.people
    ):
        raise Problem(Code.PRICE_DIFFERS)
    holder_claims.move(session, ticket, target.day)
    inventory.reserve(session, target.id, ticket.people)
    inventory.release(session, ticket.inventory_id, ticket.people)
    item = session.get(OrderItem, ticket.item_id)
    assert item is not None
    new = make_ticket(
        session, issuer, order, item, product, target, ticket.people, ticket.holder_ref, now
    )
    session.flush()
    _retire(session, ticket, "changed", replaced_by=new.id)
    annual_passes.on_change(session, ticket, new)
    card_index.leave_ticket(session, ticket)  # the new ticket entered it in make_ticket
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
        site.code,
    )


def _holds_place(session: Session, ticket: Ticket) -> bool:
    """Whether the ticket's item took a place (an annual pass's renewal took none)."""
    item = session.get(OrderItem, ticket.item_id)
    return item is None or item.holds_place


def item_price_type(session: Session, ticket: Ticket) -> str:
    item = session.get(OrderItem, ticket.item_id)
    assert item is not None
    return item.price_type


def unit_price_of(session: Session, product: Product, stock: Inventory, price_type: str) -> int:
    """What one person pays for this product on that day (-1: it has no such price now)."""
    price = session.get(Price, (product.id, price_type))
    if price is None:
        return -1
    return unit_price(session, product.site, price, stock.day)


def _refundable(
    session: Session, ticket: Ticket, site: Site, now: datetime, too_late: Code
) -> Product:
    number = ticket.ticket_id.hex().upper()
    if ticket.status != "valid":
        raise Problem(Code.TICKET_NOT_VALID, ticket=number, ticket_status=ticket.status)
    used = session.scalar(
        select(GateEventRecord.id).where(
            GateEventRecord.site == site.code,
            GateEventRecord.kind == "use",
            GateEventRecord.data["ticket"].as_string() == number,
        )
    )
    if used:
        raise Problem(Code.TICKET_USED, ticket=number)
    product = session.get(Product, ticket.product_id)
    assert product is not None
    visit_starts = datetime.combine(
        ticket.valid_from, datetime.min.time(), tzinfo=ZoneInfo(site.timezone)
    )
    if now > visit_starts - timedelta(hours=product.refund_until_hours):
        raise Problem(too_late, hours=product.refund_until_hours)
    return product


def _order(
    session: Session, order_no: str | None, order_id: int | None = None
) -> tuple[Order, Site]:
    query = select(Order).with_for_update().execution_options(populate_existing=True)
    query = (
        query.where(Order.order_no == order_no) if order_no else query.where(Order.id == order_id)
    )
    order = session.scalar(query)
    if order is None:
        raise not_found(Thing.ORDER)
    site = session.get(Site, order.site)
    assert site is not None
    return order, site


def _tickets(session: Session, order: Order, numbers: list[str] | None) -> list[Ticket]:
    tickets = session.scalars(
        select(Ticket).where(Ticket.order_id == order.id).execution_options(populate_existing=True)
    ).all()
    if numbers is None:
        chosen = [t for t in tickets if t.status == "valid"]
    else:
        wanted = {ticket_id_of(n) for n in numbers}
        chosen = [t for t in tickets if t.ticket_id in wanted]
        if len(chosen) != len(wanted):
            raise not_found(Thing.TICKET)
    if not chosen:
        raise Problem(Code.NOTHING_TO_REFUND)
    return chosen


def ticket_id_of(number: str) -> bytes:
    """A ticket number as typed or shown (hex) to its id; 422 if it is not hex."""
    try:
        return bytes.fromhex(number)
    except ValueError:
        raise Problem(Code.BAD_TICKET_NUMBER) from None


def refund_fee(ticket: Ticket, product: Product) -> int:
    """The fee kept on refunding ``ticket``, in fen: the product's percentage of what the code
    cost, rounded down (in the buyer's favour)."""
    return ticket.unit_fen * product.refund_fee_percent // 100


@dataclass(frozen=True)
class TicketQuote:
    """What refunding or changing one ticket would do now, before anyone confirms it."""

    ticket_no: str
    refundable: bool
    changeable: bool
    refund_fen: int  # paid back if refunded now (0 when not refundable)
    fee_fen: int  # kept as the refund fee
    reason: Code | None  # why not, when neither is possible
    hours: int  # the product's refund_until_hours (the rule the buyer is shown)


def quote(session: Session, ticket: Ticket, site: Site, now: datetime) -> TicketQuote:
    """The refund and change terms of ``ticket`` as of ``now``, by the same checks
    ``refund_tickets`` and ``change_ticket`` make; reads only."""
    number = ticket.ticket_id.hex().upper()
    product = session.get(Product, ticket.product_id)
    assert product is not None
    try:
        _refundable(session, ticket, site, now, Code.REFUND_WINDOW_CLOSED)
    except Problem as refused:
        return TicketQuote(number, False, False, 0, 0, refused.code, product.refund_until_hours)
    fee = refund_fee(ticket, product)
    return TicketQuote(
        number,
        True,
        product.changeable,
        ticket.unit_fen - fee,
        fee,
        None,
        product.refund_until_hours,
    )
