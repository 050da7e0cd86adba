"""Settling a verified payment against its order: once, for the right amount, or not at all.

- The same platform transaction is applied once, however often it is notified (unique on
  provider and transaction; a replay returns the first result).
- The amount must equal what the order costs; anything else changes nothing (and is audited).
- A pending order becomes paid and gets its tickets. An order whose hold expired is paid if its
  places can be taken again; otherwise the money is refunded at once (no ticket without a
  place, no money kept without a ticket). A second payment of a paid order is refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Problem, not_found
from cloud.models import CashierShift, Order, OrderItem, Payment
from cloud.services import inventory
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, issue_for_order
from cloud.services.payments.provider import Notification, Provider


@dataclass(frozen=True)
class Settlement:
    order_no: str
    status: str  # paid | already_applied | refunded_duplicate | refunded_no_places
    tickets: int


def apply_payment(
    session: Session,
    note: Notification,
    issuer: Issuer,
    provider: Provider,
    now: datetime,
    shift: CashierShift | None = None,
    source: str = "platform",
) -> Settlement:
    existing = session.scalar(
        select(Payment).where(
            Payment.provider == note.provider, Payment.provider_txn == note.provider_txn
        )
    )
    order = session.scalar(select(Order).where(Order.order_no == note.order_no).with_for_update())
    if order is None:
        raise not_found("order", "订单")
    if existing is not None:
        return Settlement(order.order_no, "already_applied", 0)
    if not note.paid:
        raise Problem(409, "not_paid", "The platform reports no payment", "支付平台显示未支付")
    if note.amount_fen != order.total_fen:
        audit(
            session,
            "payments",
            source,
            "amount_mismatch",
            order.order_no,
            {"expected": order.total_fen, "notified": note.amount_fen, "txn": note.provider_txn},
            at=now,
        )
        raise Problem(
            400,
            "amount_mismatch",
            "Paid amount differs from the order total",
            "支付金额与订单金额不符",
            expected_fen=order.total_fen,
            notified_fen=note.amount_fen,
        )
    payment = Payment(
        order_id=order.id,
        provider=note.provider,
        provider_txn=note.provider_txn,
        amount_fen=note.amount_fen,
        status="succeeded",
        received_at=now,
        notification=note.raw,
        shift_id=shift.id if shift else None,
    )
    session.add(payment)
    try:
        session.flush()
    except IntegrityError:  # the same transaction, applied concurrently by another request
        raise Problem(
            409, "payment_in_progress", "This payment is being applied", "支付处理中"
        ) from None
    audit(
        session,
        "payments",
        source,
        "payment",
        order.order_no,
        {"provider": note.provider, "amount_fen": note.amount_fen},
        at=now,
    )
    if shift is not None:
        shift.cash_in_fen += note.amount_fen
    if order.status == "paid":
        return _refund_whole(session, order, payment, provider, now, "refunded_duplicate")
    if order.status == "expired" and not _retake_places(session, order):
        return _refund_whole(session, order, payment, provider, now, "refunded_no_places")
    if order.status not in ("pending", "expired"):
        return _refund_whole(session, order, payment, provider, now, "refunded_duplicate")
    order.status, order.paid_fen, order.paid_at = "paid", note.amount_fen, now
    tickets = issue_for_order(session, order, issuer, now)
    return Settlement(order.order_no, "paid", len(tickets))


def _retake_places(session: Session, order: Order) -> bool:
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)).all()
    taken: list[OrderItem] = []
    try:
        for item in items:
            inventory.reserve(session, item.inventory_id, item.quantity)
            taken.append(item)
    except Problem:
        for item in taken:
            inventory.release(session, item.inventory_id, item.quantity)
        return False
    return True


def _refund_whole(
    session: Session, order: Order, payment: Payment, provider: Provider, now: datetime, status: str
) -> Settlement:
    refund_no = f"AUTO{payment.id}"
    provider.refund(
        order.order_no, payment.provider_txn, refund_no, payment.amount_fen, payment.amount_fen
    )
    payment.status = "refunded"
    audit(
        session,
        "payments",
        "system",
        status,
        order.order_no,
        {"amount_fen": payment.amount_fen, "refund_no": refund_no},
        at=now,
    )
    return Settlement(order.order_no, status, 0)
