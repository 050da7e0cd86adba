"""Refunds and date changes, for the buyer (with the order token) or staff; each revokes the
old codes at the gates: the signed delta is published once the change is committed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from sqlalchemy import select

from cloud.api.deps import Context, IdempotencyKey, Source, Staff, idempotent, staff_of
from cloud.api.routes.orders import owned_order
from cloud.api.schemas import ChangeIn, RefundIn
from cloud.core.errors import Problem
from cloud.models import CashierShift, Order, Ticket
from cloud.services.refunds import Outcome, change_ticket, refund_tickets, ticket_id_of

router = APIRouter(prefix="/api/v1", tags=["refunds"])


def _actor(
    db: Any, ctx: Any, authorization: str | None, order_no: str, token: str | None
) -> tuple[str, CashierShift | None]:
    """A signed-in cashier or manager (with their open till, if any), or the buyer holding
    the order's token."""
    if authorization:
        who: Staff = staff_of(db, ctx, authorization)
        if who.role not in ("cashier", "manager"):
            raise Problem(403, "forbidden", "Needs role: cashier", "无权限执行此操作")
        till = db.scalar(
            select(CashierShift).where(
                CashierShift.user_id == who.id, CashierShift.closed_at.is_(None)
            )
        )
        return who.username, till
    owned_order(db, order_no, token)
    return "buyer", None


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
    def produce(db: Any) -> dict[str, Any]:
        actor, till = _actor(db, ctx, authorization, order_no, x_order_token)
        outcome = refund_tickets(
            db,
            order_no=order_no,
            ticket_numbers=body.tickets,
            providers=ctx.providers,
            root=ctx.root,
            actor=actor,
            source=where,
            now=ctx.clock.now(),
            shift=till,
        )
        site = db.scalar(select(Order.site).where(Order.order_no == order_no))
        return _answer(site, outcome)

    payload = {"order": order_no, **body.model_dump(mode="json")}
    answer, replay = idempotent(ctx, idempotency_key, "refund", payload, produce)
    return _published(ctx, answer, replay)


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
    def produce(db: Any) -> dict[str, Any]:
        order = db.scalar(
            select(Order)
            .join(Ticket, Ticket.order_id == Order.id)
            .where(Ticket.ticket_id == ticket_id_of(ticket_no))
        )
        if order is None:
            raise Problem(404, "not_found", "ticket not found", "门票不存在")
        actor, _ = _actor(db, ctx, authorization, order.order_no, x_order_token)
        outcome = change_ticket(
            db,
            ticket_number=ticket_no,
            inventory_id=body.inventory_id,
            issuer=ctx.issuer,
            root=ctx.root,
            actor=actor,
            source=where,
            now=ctx.clock.now(),
        )
        return _answer(order.site, outcome)

    payload = {"ticket": ticket_no, **body.model_dump(mode="json")}
    answer, replay = idempotent(ctx, idempotency_key, "change", payload, produce)
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
