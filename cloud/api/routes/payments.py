"""Paying: intents for online channels, their notifications, cash at the window, shifts.

Notifications (``/payments/{provider}/notify``) are verified by the channel's own rules
before anything happens; a valid one is settled once (services/payments/settle.py), and a
refund it decides (a duplicate payment) is paid out after the commit. Captured money always
gets a 2xx answer, so the channel stops retrying: settled, refunded, or held with the order
flagged for staff. The sandbox checkout page lives in routes/sandbox.py, mounted only when the
operator turns the sandbox on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Context, IdempotencyKey, Source, Staff, idempotent_answer, role
from cloud.api.order_views import BuyersOrder, order_out
from cloud.api.schemas import (
    CashIn,
    CashPaid,
    NotifyOut,
    PayIn,
    PaymentIntentOut,
    ShiftClose,
    ShiftClosed,
    ShiftOpen,
    ShiftOpened,
)
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Order
from cloud.services.payments import cash
from cloud.services.payments.payout import pay_out
from cloud.services.payments.settle import apply_payment, settle

router = APIRouter(prefix="/api/v1", tags=["payments"])
Cashier = Annotated[Staff, Depends(role("cashier"))]


@router.post("/orders/{order_no}/payments", response_model=PaymentIntentOut)
def start_payment(order: BuyersOrder, body: PayIn, ctx: Context) -> PaymentIntentOut:
    provider = ctx.providers.get(body.provider)
    if provider is None:
        raise Problem(Code.CHANNEL_UNAVAILABLE, channel=body.provider)
    if order.status != "pending":
        raise Problem(Code.NOT_PAYABLE, order_status=order.status)
    intent = provider.create_intent(order.order_no, order.total_fen, "门票 tickets")
    return PaymentIntentOut(
        provider=intent.provider,
        order_no=intent.order_no,
        amount_fen=intent.amount_fen,
        pay_url=intent.pay_url,
        details=intent.details,
    )


@router.post("/payments/{provider_name}/notify", response_model=NotifyOut)
async def notify(provider_name: str, request: Request, ctx: Context, where: Source) -> NotifyOut:
    provider = ctx.providers.get(provider_name)
    if provider is None:
        raise not_found(Thing.PAYMENT_CHANNEL)
    body = await request.body()
    note = provider.verify_notification(dict(request.headers), body)
    result = settle(ctx.sessions, note, ctx.issuer, ctx.clock.now(), where)
    if result.refund_id is not None:
        pay_out(ctx.sessions, ctx.providers, result.refund_id)
    return NotifyOut(code="SUCCESS", order_no=result.order_no, result=result.status)


@router.post("/shifts", status_code=201, response_model=ShiftOpened)
def open_shift(
    body: ShiftOpen, ctx: Context, who: Cashier, idempotency_key: IdempotencyKey = None
) -> ShiftOpened:
    def produce(db: Session) -> ShiftOpened:
        shift = cash.open_shift(db, who.id, body.float_fen, ctx.clock.now())
        return ShiftOpened(shift_id=shift.id, float_fen=shift.opening_float_fen)

    payload = {"user": who.id, **body.model_dump()}
    return idempotent_answer(
        ShiftOpened, ctx, idempotency_key, "open_shift", payload, produce, caller=who.scope
    )[0]


@router.post("/shifts/close", response_model=ShiftClosed)
def close_shift(
    body: ShiftClose,
    ctx: Context,
    who: Cashier,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> ShiftClosed:
    def produce(db: Session) -> ShiftClosed:
        shift = cash.close_shift(
            db,
            cash.current_shift(db, who.id),
            body.counted_fen,
            who.username,
            where,
            ctx.clock.now(),
        )
        return ShiftClosed(
            shift_id=shift.id,
            expected_fen=shift.expected_fen,
            counted_fen=shift.counted_fen,
            difference_fen=(shift.counted_fen or 0) - shift.expected_fen,
        )

    payload = {"user": who.id, **body.model_dump()}
    return idempotent_answer(
        ShiftClosed, ctx, idempotency_key, "close_shift", payload, produce, caller=who.scope
    )[0]


@router.post("/orders/{order_no}/cash", response_model=CashPaid)
def pay_cash(
    order_no: str,
    body: CashIn,
    ctx: Context,
    who: Cashier,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> CashPaid:
    """Cash at the window: the order is paid and the answer says the change to hand back. The
    same request again (same Idempotency-Key) gives the same answer; cash for an order that is
    paid already (a second cashier, or the same one with a new key) is 409 ``already_paid``."""

    def produce(db: Session) -> CashPaid:
        order = db.scalar(select(Order).where(Order.order_no == order_no))
        if order is None:
            raise not_found(Thing.ORDER)
        shift = cash.current_shift(db, who.id)
        note = cash.cash_notification(order, shift, body.tendered_fen)
        apply_payment(db, note, ctx.issuer, ctx.clock.now(), shift=shift, source=where)
        return CashPaid(
            **order_out(db, order).model_dump(),
            tendered_fen=body.tendered_fen,
            change_fen=int(note.raw["change_fen"]),
        )

    payload = {"order": order_no, **body.model_dump()}
    return idempotent_answer(
        CashPaid, ctx, idempotency_key, "cash", payload, produce, caller=who.scope
    )[0]
