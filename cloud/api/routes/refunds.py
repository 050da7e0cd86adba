"""Refunds and date changes, for the buyer (with the order token) or staff; each revokes the
old codes at the gates: the signed delta is published once the change is committed.

A refund is claimed in the request's transaction and paid out through its channel after the
commit (services/payments/payout.py); ``refund_status`` says whether the channel has paid it
(``succeeded``) or is to be retried (``pending``: send the same request with the same
Idempotency-Key, or a manager runs ``POST /api/v1/refunds/retry``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import (
    Context,
    IdempotencyKey,
    Source,
    Staff,
    idempotent_answer,
    role,
    staff_of,
)
from cloud.api.order_views import owned_order
from cloud.api.schemas import ChangeIn, ChangeOut, RefundIn, RefundOut, RefundsRetried
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CashierShift, Order, Ticket
from cloud.services.payments.payout import pay_out, retry_pending
from cloud.services.refunds import Outcome, change_ticket, refund_tickets, ticket_id_of

router = APIRouter(prefix="/api/v1", tags=["refunds"])
Authorization = Annotated[str | None, Header()]
OrderToken = Annotated[str | None, Header()]


@dataclass(frozen=True)
class _Caller:
    scope: str  # whose Idempotency-Keys (deps.idempotent)
    actor: str  # who, in the audit log
    user_id: int | None = None  # staff only


def _caller(ctx: Context, authorization: str | None, order_no: str, token: str | None) -> _Caller:
    """A signed-in cashier or manager, or the buyer holding the order's token; checked
    before any stored answer is replayed, so a retry needs the same right as the request."""
    with ctx.sessions() as db:
        if authorization:
            who: Staff = staff_of(db, ctx, authorization)
            db.commit()  # the session's last use
            if who.role not in ("cashier", "manager"):
                raise Problem(Code.FORBIDDEN, needs="cashier")
            return _Caller(who.scope, who.username, who.id)
        owned_order(db, order_no, token)
        return _Caller(f"buyer:{order_no}", "buyer")


def order_caller(
    order_no: str,
    ctx: Context,
    authorization: Authorization = None,
    x_order_token: OrderToken = None,
) -> _Caller:
    """Who may act on the path's order (``_caller``)."""
    return _caller(ctx, authorization, order_no, x_order_token)


def ticket_caller(
    ticket_no: str,
    ctx: Context,
    authorization: Authorization = None,
    x_order_token: OrderToken = None,
) -> _Caller:
    """Who may act on the path's ticket: whoever may act on its order (``_caller``)."""
    with ctx.sessions() as db:
        order_no = db.scalar(
            select(Order.order_no)
            .join(Ticket, Ticket.order_id == Order.id)
            .where(Ticket.ticket_id == ticket_id_of(ticket_no))
        )
    if order_no is None:
        raise not_found(Thing.TICKET)
    return _caller(ctx, authorization, order_no, x_order_token)


OrderCaller = Annotated[_Caller, Depends(order_caller)]
TicketCaller = Annotated[_Caller, Depends(ticket_caller)]


def _till(db: Session, caller: _Caller) -> CashierShift | None:
    """The staff member's open till, if any (cash goes back out of it)."""
    if caller.user_id is None:
        return None
    return db.scalar(
        select(CashierShift).where(
            CashierShift.user_id == caller.user_id, CashierShift.closed_at.is_(None)
        )
    )


@router.post("/orders/{order_no}/refunds", response_model=RefundOut)
def refund(
    order_no: str,
    body: RefundIn,
    caller: OrderCaller,
    ctx: Context,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> RefundOut:
    def act(db: Session) -> Outcome:
        return refund_tickets(
            db,
            order_no=order_no,
            ticket_numbers=body.tickets,
            providers=ctx.providers,
            root=ctx.root,
            actor=caller.actor,
            source=where,
            now=ctx.clock.now(),
            shift=_till(db, caller),
        )

    payload = {"order": order_no, **body.model_dump(mode="json")}
    done = _once(ctx, idempotency_key, "refund", payload, caller, act)
    refund_id = done.refund_id
    status = "succeeded" if refund_id is None else pay_out(ctx.sessions, ctx.providers, refund_id)
    return RefundOut(**_answer(done), refund_status=status)


@router.post("/refunds/retry", response_model=RefundsRetried)
def retry_refunds(ctx: Context, _: Annotated[Staff, Depends(role("finance"))]) -> RefundsRetried:
    """Pay out every refund still pending (a channel was down when it was claimed)."""
    return RefundsRetried(retry_pending(ctx.sessions, ctx.providers))


@router.post("/tickets/{ticket_no}/change", response_model=ChangeOut)
def change(
    ticket_no: str,
    body: ChangeIn,
    caller: TicketCaller,
    ctx: Context,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> ChangeOut:
    def act(db: Session) -> Outcome:
        return change_ticket(
            db,
            ticket_number=ticket_no,
            inventory_id=body.inventory_id,
            issuer=ctx.issuer,
            root=ctx.root,
            actor=caller.actor,
            source=where,
            now=ctx.clock.now(),
        )

    payload = {"ticket": ticket_no, **body.model_dump(mode="json")}
    return ChangeOut(**_answer(_once(ctx, idempotency_key, "change", payload, caller, act)))


class _Done(ChangeOut):
    """A refund's or a change's answer as stored under its Idempotency-Key, with what only
    this side needs after the commit: never sent to the caller."""

    site: str | None  # whose gates get the revocation
    revocation: str  # the signed delta, hex
    refund_id: int | None = None  # the refund to pay out (none: answers stored before states)


def _once(
    ctx: Context,
    key: str | None,
    route: str,
    payload: dict[str, Any],
    caller: _Caller,
    act: Callable[[Session], Outcome],
) -> _Done:
    """Refund or change once per Idempotency-Key; publish its revocation to the gates once it
    is committed (a replay's was published already)."""

    def produce(db: Session) -> _Done:
        outcome = act(db)
        return _Done(
            order_no=outcome.order_no,
            refund_fen=outcome.refund_fen,
            fee_fen=outcome.fee_fen,
            revoked=outcome.tickets,
            new_tickets=outcome.new_tickets,
            site=outcome.site,
            revocation=outcome.revocation.hex(),
            refund_id=outcome.refund_id,
        )

    done, replay = idempotent_answer(_Done, ctx, key, route, payload, produce, caller=caller.scope)
    if done.site is not None and not replay:
        ctx.publish(done.site, "revocations", bytes.fromhex(done.revocation))
    return done


def _answer(done: _Done) -> dict[str, Any]:
    """What the caller is told: the answer without what only this side needs."""
    return done.model_dump(include=set(ChangeOut.model_fields))
