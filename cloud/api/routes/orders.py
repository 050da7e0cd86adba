"""Orders for buyers (with the order's access token) and staff (audited): create and read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import DB, Context, IdempotencyKey, Source, idempotent_answer, role, staff
from cloud.api.order_views import order_out, owned_order
from cloud.api.schemas import OrderIn, OrderOut
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import token_hash
from cloud.models import Order
from cloud.services.audit import audit
from cloud.services.idempotency import ANONYMOUS
from cloud.services.orders import LineRequest, create_order

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
ROUTE = "create_order"


@router.post("", status_code=201, response_model=OrderOut)
def create(
    body: OrderIn,
    ctx: Context,
    where: Source,
    idempotency_key: IdempotencyKey = None,
    authorization: Annotated[str | None, Header()] = None,
) -> OrderOut:
    """Hold places for a cart. An ``Idempotency-Key`` is required: a retry never buys twice.

    Anonymous buyers' unpaid places count per client address (429 ``client_hold_limit``);
    signed-in staff selling at the window are not counted, and their keys are their own.

    The order's access token is in the answer that created the order only. A retry with the
    same key gets the order back without it: the key is no credential (deps.idempotent), and
    anyone who learnt a buyer's key and cart would otherwise get that buyer's token. A buyer
    whose first answer was lost orders again under a new key; the first hold lapses."""
    if idempotency_key is None:
        raise Problem(Code.IDEMPOTENCY_KEY_REQUIRED)
    key = idempotency_key
    seller = staff(ctx, authorization) if authorization is not None else None
    client = None if seller is not None else where

    def produce(db: Session) -> OrderOut:
        lines = [LineRequest(**line.model_dump()) for line in body.lines]
        order = create_order(
            db,
            site=body.site,
            lines=lines,
            channel=body.channel,
            contact=body.contact,
            pd=ctx.pd,
            holder_salt=ctx.issuer.holder_salt,
            now=ctx.clock.now(),
            idempotency_key=key,
            client=client,
            limits=ctx.limits,
        )
        order.access_hash = token_hash(_access_token(ctx, order.order_no, key))
        return order_out(db, order)

    payload = body.model_dump(mode="json")
    out, replayed = idempotent_answer(
        OrderOut, ctx, key, ROUTE, payload, produce, caller=seller.scope if seller else ANONYMOUS
    )
    if not replayed:
        out.access_token = _access_token(ctx, out.order_no, key)  # recomputed, never stored
    return out


def _access_token(ctx: Context, order_no: str, key: str) -> str:
    return ctx.pd.derived_token(f"{order_no}:{key}")


# Staff who may read any order with its ticket codes (to print or resend them); the order's
# story without codes is routes/search.py, for auditors too.
ORDER_READERS = ("cashier", "finance")


@router.get("/{order_no}", response_model=OrderOut)
def read(
    order_no: str,
    db: DB,
    ctx: Context,
    where: Source,
    x_order_token: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> OrderOut:
    """The buyer with the order's token, or staff (cashier, finance, manager: audited)."""
    if authorization is None or x_order_token is not None:
        return order_out(db, owned_order(db, order_no, x_order_token))
    who = role(*ORDER_READERS)(staff(ctx, authorization))
    order = db.scalar(select(Order).where(Order.order_no == order_no))
    if order is None:
        raise not_found(Thing.ORDER)
    audit(db, who.username, where, "read_order", order_no, at=ctx.clock.now())
    return order_out(db, order)
