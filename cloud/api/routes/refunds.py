"""Refunds and date changes, for the buyer (with the order token) or staff; each revokes the
old codes at the gates: the signed delta is published once the change is committed.

A refund is claimed in the request's transaction and paid out through its channel after the
commit (services/payments/payout.py); ``refund_status`` says whether the channel has paid it
(``succeeded``) or is to be retried (``pending``: send the same request with the same
Idempotency-Key, or a manager runs ``POST /api/v1/refunds/retry``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Context, IdempotencyKey, Source, Staff, idempotent, role, staff_of
from cloud.api.order_views import owned_order
from cloud.api.schemas import ChangeIn, RefundIn
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import CashierShift, Order, Ticket
from cloud.services.payments.payout import pay_out, retry_pending
from cloud.services.refunds import Outcome, change_ticket, refund_tickets, ticket_id_of

router = APIRouter(prefix="/api/v1", tags=["refunds"])


@dataclass(frozen=True)
class _Caller:
    scope: str  # whose Idempotency-Keys (deps.idempotent)
    actor: str  # who, in the audit log
    user_id: int | None = None  # staff only


def _caller(ctx: Any, authorization: str | None, order_no: str, token: str | None) -> _Caller:
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


def _till(db: Session, caller: _Caller) -> CashierShift | None:
    """The staff member's open till, if any (cash goes back out of it)."""
    if caller.user_id is None:
        return None
    return db.scalar(
        select(CashierShift).where(
            CashierShift.user_id == caller.user_id, CashierShift.closed_at.is_(None)
        )
    )


@router.post("/orders/{order_no}/refunds")
def refund(
    order_no: str,
    body: RefundIn,
    ctx: Context,
    where: Source,
    authorization: Annotated[str | None, Header()] = None,
    x_order_token: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    caller = _caller(ctx, authorization, order_no, x_order_token)

    def produce(db: Any) -> dict[str, Any]:
        outcome = refund_tickets(
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
        site = db.scalar(select(Order.site).where(Order.order_no == order_no))
        return {**_answer(site, outcome), "refund_id": outcome.refund_id}

    payload = {"order": order_no, **body.model_dump(mode="json")}
    answer, replay = idempotent(
        ctx, idempotency_key, "refund", payload, produce, caller=caller.scope
    )
    answer = _published(ctx, answer, replay)
    refund_id = answer.pop("refund_id", None)  # answers stored before refunds had states: none
    answer["refund_status"] = (
        "succeeded" if refund_id is None else pay_out(ctx.sessions, ctx.providers, refund_id)
    )
    return answer


@router.post("/refunds/retry")
def retry_refunds(ctx: Context, _: Annotated[Staff, Depends(role("finance"))]) -> dict[str, int]:
    """Pay out every refund still pending (a channel was down when it was claimed)."""
    return retry_pending(ctx.sessions, ctx.providers)


@router.post("/tickets/{ticket_no}/change")
def change(
    ticket_no: str,
    body: ChangeIn,
    ctx: Context,
    where: Source,
    authorization: Annotated[str | None, Header()] = None,
    x_order_token: Annotated[str | None, Header()] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    with ctx.sessions() as db:
        order_no = db.scalar(
            select(Order.order_no)
            .join(Ticket, Ticket.order_id == Order.id)
            .where(Ticket.ticket_id == ticket_id_of(ticket_no))
        )
    if order_no is None:
        raise not_found(Thing.TICKET)
    caller = _caller(ctx, authorization, order_no, x_order_token)

    def produce(db: Any) -> dict[str, Any]:
        outcome = change_ticket(
            db,
            ticket_number=ticket_no,
            inventory_id=body.inventory_id,
            issuer=ctx.issuer,
            root=ctx.root,
            actor=caller.actor,
            source=where,
            now=ctx.clock.now(),
        )
        site = db.scalar(select(Order.site).where(Order.order_no == order_no))
        return _answer(site, outcome)

    payload = {"ticket": ticket_no, **body.model_dump(mode="json")}
    answer, replay = idempotent(
        ctx, idempotency_key, "change", payload, produce, caller=caller.scope
    )
    return _published(ctx, answer, replay)


def _answer(site: str | None, outcome: Outcome) -> dict[str, Any]:
    return {
        "order_no": outcome.order_no,
        "refund_fen": outcome.refund_fen,
        "fee_fen": outcome.fee_fen,
        "revoked": outcome.tickets,
        "new_tickets": outcome.new_tickets,
        "site": site,
        "revocation": outcome.revocation.hex(),
    }


def _published(ctx: Any, answer: dict[str, Any], replay: bool) -> dict[str, Any]:
    """Publish the revocation once the change is committed (a replay was published already)."""
    answer = dict(answer)
    revocation, site = bytes.fromhex(answer.pop("revocation")), answer.pop("site")
    if site is not None and not replay:
        ctx.publish(site, "revocations", revocation)
    return answer
