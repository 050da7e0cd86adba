"""Staff search (订单查询) and an order's story, for the window, finance and auditors.

Thin: services/order_story.py searches (hashes only, never decrypting) and tells the story;
every search and every story read is audited here with who, what and from where. The query
itself (a phone or ID number) is never written to the audit log: only what kind it was.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.staff_schemas import OrderFound, OrderStory
from cloud.services.audit import audit
from cloud.services.order_story import search as find_orders
from cloud.services.order_story import story

router = APIRouter(prefix="/api/v1", tags=["search"])
Searcher = Annotated[Staff, Depends(role("finance", "cashier", "auditor"))]
# Gate staff look a ticket up at the lane (which order, paid, refunded?), not its story.
LaneSearcher = Annotated[Staff, Depends(role("finance", "cashier", "auditor", "gate"))]


@router.get("/search", response_model=list[OrderFound])
def search(
    db: DB,
    ctx: Context,
    who: LaneSearcher,
    where: Source,
    by: Annotated[str, Query(pattern="^(order|ticket|phone|id)$")],
    q: Annotated[str, Query(min_length=1, max_length=64)],
) -> list[dict[str, Any]]:
    """Orders by ``order`` number, ``ticket`` number, buyer's ``phone`` or holder's ``id``
    number, newest first (at most 50)."""
    found = find_orders(db, by, q, pd=ctx.pd, holder_salt=ctx.issuer.holder_salt)
    audit(db, who.username, where, "search", f"search:{by}",
          {"results": [o["order_no"] for o in found]}, at=ctx.clock.now())  # fmt: skip
    return found


@router.get("/orders/{order_no}/story", response_model=OrderStory)
def order_story(
    order_no: str, db: DB, ctx: Context, who: Searcher, where: Source
) -> dict[str, Any]:
    """The order with its payments, tickets (without their codes), entries at gates, refunds
    and changes, and its audit trail; times in the site's time zone."""
    answer = story(db, order_no)
    audit(db, who.username, where, "read_order_story", order_no, at=ctx.clock.now())
    return answer
