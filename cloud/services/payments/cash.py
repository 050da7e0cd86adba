"""Cash at the window (现金): a cashier's shift, payments into the till, change, and the count.

A cashier opens a shift with a float, takes cash for orders (the payment is settled like any
other channel's, idempotently: the transaction id is the order number within the shift),
refunds cash out of the same till, and closes the shift with a count; the difference between
counted and expected is recorded (长短款) and audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import CashierShift, Order
from cloud.services.audit import audit
from cloud.services.payments.provider import Intent, Notification


class CashProvider:
    """The till as a payment channel: nothing to verify remotely, a refund is cash out."""

    name = "cash"

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent:
        return Intent(self.name, order_no, amount_fen)

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        raise Problem(Code.NO_NOTIFICATIONS)

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        return f"CASHRF-{refund_no}"


def open_shift(session: Session, user_id: int, float_fen: int, now: datetime) -> CashierShift:
    if float_fen < 0:
        raise Problem(Code.BAD_AMOUNT, field="float_fen", allowed=">=0")
    if session.scalar(
        select(CashierShift.id).where(
            CashierShift.user_id == user_id, CashierShift.closed_at.is_(None)
        )
    ):
        raise Problem(Code.SHIFT_OPEN)
    shift = CashierShift(user_id=user_id, opened_at=now, opening_float_fen=float_fen)
    session.add(shift)
    session.flush()
    return shift


def credit(session: Session, shift_id: int, in_fen: int = 0, out_fen: int = 0) -> None:
    """Count cash into or out of an open till: one conditional UPDATE (two cashiers, or two
    requests of one, never overwrite each other's count); a closed till takes nothing (409).
    Cash paid out must be in the till: a refund larger than the float plus the day's takings
    less what went out is refused (409 ``till_short``), never counted into a negative till."""
    in_till = CashierShift.opening_float_fen + CashierShift.cash_in_fen - CashierShift.cash_out_fen
    counted = session.execute(
        update(CashierShift)
        .where(
            CashierShift.id == shift_id,
            CashierShift.closed_at.is_(None),
            in_till + in_fen >= out_fen,
        )
        .values(
            cash_in_fen=CashierShift.cash_in_fen + in_fen,
            cash_out_fen=CashierShift.cash_out_fen + out_fen,
        )
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        shift = session.get(CashierShift, shift_id, populate_existing=True)
        if shift is not None and shift.closed_at is None:
            raise Problem(Code.TILL_SHORT, refund_yuan=f"{out_fen / 100:.2f}")
        raise Problem(Code.SHIFT_CLOSED)


def current_shift(session: Session, user_id: int) -> CashierShift:
    shift = session.scalar(
        select(CashierShift).where(
            CashierShift.user_id == user_id, CashierShift.closed_at.is_(None)
        )
    )
    if shift is None:
        raise Problem(Code.NO_SHIFT)
    return shift


def cash_notification(order: Order, shift: CashierShift, tendered_fen: int) -> Notification:
    """The till's own 'notification': cash tendered for an order, change computed."""
    if tendered_fen < order.total_fen:
        raise Problem(Code.NOT_ENOUGH_CASH, total_fen=order.total_fen)
    return Notification(
        "cash",
        order.order_no,
        f"S{shift.id}-{order.order_no}",
        order.total_fen,
        True,
        {"tendered_fen": tendered_fen, "change_fen": tendered_fen - order.total_fen},
    )


def close_shift(
    session: Session, shift: CashierShift, counted_fen: int, actor: str, source: str, now: datetime
) -> CashierShift:
    closed = session.execute(
        update(CashierShift)
        .where(CashierShift.id == shift.id, CashierShift.closed_at.is_(None))
        .values(counted_fen=counted_fen, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.SHIFT_CLOSED)
    session.refresh(shift)  # the count as stored, with every payment credited meanwhile
    audit(
        session,
        actor,
        source,
        "close_shift",
        f"shift:{shift.id}",
        {
            "expected_fen": shift.expected_fen,
            "counted_fen": counted_fen,
            "difference_fen": counted_fen - shift.expected_fen,
        },
        at=now,
    )
    return shift
