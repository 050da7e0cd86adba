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

from cloud.api.deps import Context, IdempotencyKey, Source, Staff, idempotent, role, staff_of
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
    answer = _once(ctx, idempotency_key, "refund", payload, caller, act)
    refund_id = answer.pop("refund_id", None)  # answers stored before refunds had states: none
    status = "succeeded" if refund_id is None else pay_out(ctx.sessions, ctx.providers, refund_id)
    return RefundOut(**answer, refund_status=status)


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
    return ChangeOut(**_once(ctx, idempotency_key, "change", payload, caller, act))


def _once(
    ctx: Context,
    key: str | None,
    route: str,
    payload: dict[str, Any],
    caller: _Caller,
    act: Callable[[Session], Outcome],
) -> dict[str, Any]:
    """Refund or change once per Idempotency-Key; publish its revocation to the gates once it
    is committed (a replay's was published already). The answer, with ``refund_id`` if any."""

    def produce(db: Session) -> dict[str, Any]:
        outcome = act(db)
        done = ChangeOut(
            order_no=outcome.order_no,
            refund_fen=outcome.refund_fen,
            fee_fen=outcome.fee_fen,
            revoked=outcome.tickets,
            new_tickets=outcome.new_tickets,
        ).model_dump()
        # Stored with the answer, for the publishing below; never sent to the caller.
        done |= {"site": outcome.site, "revocation": outcome.revocation.hex()}
        return done if outcome.refund_id is None else done | {"refund_id": outcome.refund_id}

    stored, replay = idempotent(ctx, key, route, payload, produce, caller=caller.scope)
    answer = dict(stored)
    revocation, site = bytes.fromhex(answer.pop("revocation")), answer.pop("site")
    if site is not None and not replay:
        ctx.publish(site, "revocations", revocation)
    return answer
