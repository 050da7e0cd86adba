"""Settling a verified payment against its order: once, for the right amount, or not at all.

- The order row is locked (and read again) before anything is decided: ``FOR UPDATE`` on
  PostgreSQL, the write lock taken at ``BEGIN IMMEDIATE`` on SQLite (cloud/db.py), so two
  payments of one order are decided one after the other. Every change is a conditional UPDATE
  whose row count is checked.
- The same platform transaction is applied once, however often it is notified (unique on
  provider and transaction; a replay returns the first result).
- The amount must equal what the order costs; a notification of another amount settles
  nothing: the money is held and the order flagged (below).
- A pending order becomes paid and gets its tickets. An order whose hold expired is paid if its
  places can be taken again; otherwise the money is refunded (no ticket without a place, no
  money kept without a ticket). A second payment of a paid order is refunded.
- A renewal of an annual pass that another renewal beat to it (services/annual_passes.py) is
  refunded too, and so is one paid after its hold expired whose dates would no longer be
  given (``annual_passes.late_renewal``).
- Money not yet taken (cash at the window, the sandbox checkout page) is refused instead
  (409 ``already_paid`` / ``places_gone``): the cashier does not take it, the till is not
  credited.
- Captured money whose settling fails for any other reason (a catalogue problem, a bug) is
  recorded as a ``held`` payment and the order is flagged for staff (``settle``): the channel
  gets its answer and stops retrying; nothing is lost and nothing answers 5xx.

Refunds decided here are claimed as ``pending`` refund rows; the caller has the channel pay
them once the transaction is committed (services/payments/payout.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CashierShift, Order, Payment, Refund
from cloud.services import annual_passes, holds, members, revenue_shares
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, issue_for_order
from cloud.services.payments import cash
from cloud.services.payments.provider import Notification

log = logging.getLogger("cloud.payments")
PAYABLE = ("pending", "expired")


@dataclass(frozen=True)
class Settlement:
    """What settling one payment notification did to its order, for the channel's answer."""

    order_no: str
    # paid | already_applied | refunded_duplicate | refunded_no_places | flagged
    # | refunded_pass_renewed (another renewal of the same annual pass was paid first)
    # | refunded_renewal_expired (a renewal paid after its hold, its dates no longer holding)
    status: str
    tickets: int
    refund_id: int | None = None  # a refund to pay out once committed (payout.pay_out)


def apply_payment(
    session: Session,
    note: Notification,
    issuer: Issuer,
    now: datetime,
    shift: CashierShift | None = None,
    source: str = "platform",
    refuse_unpayable: bool = False,
) -> Settlement:
    """Settle ``note`` in ``session``'s transaction. With a ``shift`` (cash) or
    ``refuse_unpayable`` the money has not been taken yet, so an order that cannot take it is
    refused rather than paid and refunded."""
    order = locked_order(session, note.order_no)
    existing = session.scalar(
        select(Payment.id).where(
            Payment.provider == note.provider, Payment.provider_txn == note.provider_txn
        )
    )
    refuse = refuse_unpayable or shift is not None
    if existing is not None:
        if refuse:  # money not taken yet (a till): taking it a second time is the mistake
            raise Problem(Code.ALREADY_PAID, order_status=order.status)
        return Settlement(order.order_no, "already_applied", 0)  # a channel's repeated notice
    if not note.paid:
        raise Problem(Code.NOT_PAID)
    _check_amount(session, order, note, source, now)
    if refuse and order.status not in PAYABLE:
        raise Problem(Code.ALREADY_PAID, order_status=order.status)
    outcome = "paid"
    if order.status not in PAYABLE:
        outcome = "refunded_duplicate"
    elif order.status == "expired" and not holds.retake(session, order):
        if refuse:
            raise Problem(Code.PLACES_GONE)
        outcome = "refunded_no_places"
    elif order.status == "expired" and (late := annual_passes.late_renewal(session, order, now)):
        if refuse:  # a renewal paid after its hold, whose dates no longer hold
            raise late
        outcome = "refunded_renewal_expired"
    elif not annual_passes.claim_renewal(session, order):  # another renewal won the pass
        if refuse:
            raise Problem(Code.PASS_RENEWED, order_no=order.order_no)
        outcome = "refunded_pass_renewed"
    status = "succeeded" if outcome == "paid" else "refunded"
    payment = _record(session, order, note, now, shift, status)
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
        cash.credit(session, shift.id, in_fen=note.amount_fen)
    if outcome != "paid":
        return _refund_whole(session, order, payment, now, outcome)
    marked = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status.in_(PAYABLE))
        .values(status="paid", paid_fen=note.amount_fen, paid_at=now)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"order {order.order_no} changed under its lock")
    session.refresh(order)
    # an annual pass's renewal gets its own ticket, from the old expiry (services/annual_passes)
    tickets = annual_passes.issue_renewal(session, order, issuer, now) or issue_for_order(
        session, order, issuer, now
    )
    members.earn_on_payment(session, order, now)  # a member's points (issue 17)
    annual_passes.on_sale(session, order, tickets, now)  # an annual ticket makes a pass
    revenue_shares.on_sale(session, order, tickets, now)  # package partners' shares
    return Settlement(order.order_no, "paid", len(tickets))


def settle(
    sessions: sessionmaker[Session],
    note: Notification,
    issuer: Issuer,
    now: datetime,
    source: str,
    refuse_unpayable: bool = False,
) -> Settlement:
    """``apply_payment`` in its own transaction, for money a channel reports. A refusal (4xx)
    stands, except a wrong amount: that money was captured too. It, and any other failure (this
    is a boundary: one notification), is recorded as a held payment with the order flagged
    (``hold_payment``)."""
    try:
        with sessions.begin() as db:
            return apply_payment(
                db, note, issuer, now, source=source, refuse_unpayable=refuse_unpayable
            )
    except Problem as refusal:
        if refusal.code is not Code.AMOUNT_MISMATCH:
            raise
        expected = refusal.extra.get("expected_fen")
        reason = f"amount_mismatch: paid {note.amount_fen} fen of {expected}"
    except Exception as exc:  # a bug or bad catalogue data must not lose captured money
        log.exception("settling %s %s failed; holding it", note.provider, note.provider_txn)
        reason = f"settling failed: {type(exc).__name__}: {exc}"[:120]
    with sessions.begin() as db:
        return hold_payment(db, note, now, reason, source)


def hold_payment(
    session: Session, note: Notification, now: datetime, reason: str, source: str
) -> Settlement:
    """Record captured money that could not be settled, flag its order for staff, audit it."""
    order = locked_order(session, note.order_no)
    if session.scalar(
        select(Payment.id).where(
            Payment.provider == note.provider, Payment.provider_txn == note.provider_txn
        )
    ):
        return Settlement(order.order_no, "already_applied", 0)
    _record(session, order, note, now, None, "held")
    session.execute(  # the first reason stays; a second held payment adds its own audit entry
        update(Order)
        .where(Order.id == order.id, Order.flag_reason.is_(None))
        .values(flag_reason=reason)
        .execution_options(synchronize_session=False)
    )
    audit(
        session,
        "payments",
        source,
        "flagged",
        order.order_no,
        {
            "provider": note.provider,
            "txn": note.provider_txn,
            "amount_fen": note.amount_fen,
            "reason": reason,
        },
        at=now,
    )
    return Settlement(order.order_no, "flagged", 0)


def locked_order(session: Session, order_no: str) -> Order:
    """The order, locked for this transaction and read again (an object loaded earlier in the
    session would otherwise keep the state it had before the lock)."""
    order = session.scalar(
        select(Order)
        .where(Order.order_no == order_no)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise not_found(Thing.ORDER)
    return order


def _check_amount(
    session: Session, order: Order, note: Notification, source: str, now: datetime
) -> None:
    if note.amount_fen == order.total_fen:
        return
    audit(
        session,
        "payments",
        source,
        "amount_mismatch",
        order.order_no,
        {"expected": order.total_fen, "notified": note.amount_fen, "txn": note.provider_txn},
        at=now,
    )
    raise Problem(Code.AMOUNT_MISMATCH, expected_fen=order.total_fen, notified_fen=note.amount_fen)


def _record(
    session: Session,
    order: Order,
    note: Notification,
    now: datetime,
    shift: CashierShift | None,
    status: str,
) -> Payment:
    payment = Payment(
        order_id=order.id,
        provider=note.provider,
        provider_txn=note.provider_txn,
        amount_fen=note.amount_fen,
        status=status,
        received_at=now,
        notification=note.raw,
        shift_id=shift.id if shift else None,
    )
    session.add(payment)
    try:
        session.flush()
    except IntegrityError:  # the order is locked, so only a bug gets here; refuse, keep nothing
        raise Problem(Code.PAYMENT_IN_PROGRESS) from None
    return payment


def _refund_whole(
    session: Session, order: Order, payment: Payment, now: datetime, status: str
) -> Settlement:
    """Claim the refund of a whole payment; the channel is told after the commit."""
    refund = Refund(
        order_id=order.id,
        payment_id=payment.id,
        tickets=[],
        amount_fen=payment.amount_fen,
        fee_fen=0,
        reason=status,
        created_at=now,
        actor="system",
        status="pending",
        refund_no=f"AUTO{payment.id}",
    )
    session.add(refund)
    session.flush()
    audit(
        session,
        "payments",
        "system",
        status,
        order.order_no,
        {"amount_fen": payment.amount_fen, "refund_no": refund.refund_no},
        at=now,
    )
    return Settlement(order.order_no, status, 0, refund.id)
