"""Staff search and an order's story (订单查询): find orders by order number, ticket number,
phone or ID number, and tell what happened to one: payments, tickets, entries at gates,
refunds and changes, and its audit trail.

Never: decrypt anything to search. A phone is looked up by its blind reference
(``PersonalData.blind_ref``, as the order stored it) and an ID number by its holder reference
(``keys/holder.holder_ref`` with the site's holder salt, as the ticket carries it), so a
search compares hashes only. Never write, except through ``services/audit``: the route audits
every search and every story read (who, what, which object, from where).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import (
    AuditEntry,
    Device,
    GateEventRecord,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Site,
    Ticket,
)
from cloud.models.base import as_utc
from keys.holder import holder_ref

SEARCH_BY = ("order", "ticket", "phone", "id")
MAX_RESULTS = 50


def search(
    db: Session, by: str, query: str, *, pd: Any, holder_salt: bytes
) -> list[dict[str, Any]]:
    """Orders matching ``query`` read as ``by`` (422 ``bad_search`` for another ``by`` or an
    unreadable number), newest first, at most ``MAX_RESULTS``: a short summary each."""
    query = query.strip()
    if by not in SEARCH_BY or not query:
        raise Problem(Code.BAD_SEARCH)
    statement = select(Order)
    if by == "order":
        statement = statement.where(Order.order_no == query)
    elif by == "ticket":
        try:
            raw = bytes.fromhex(query)
        except ValueError:
            raise Problem(Code.BAD_SEARCH) from None
        statement = statement.join(Ticket, Ticket.order_id == Order.id).where(
            Ticket.ticket_id == raw
        )
    elif by == "phone":
        statement = statement.where(Order.buyer_ref == pd.blind_ref(query))
    else:
        reference = holder_ref(holder_salt, "id_card", query)
        statement = statement.where(
            Order.id.in_(select(Ticket.order_id).where(Ticket.holder_ref == reference))
        )
    orders = db.scalars(statement.order_by(Order.created_at.desc()).limit(MAX_RESULTS))
    return [_summary(order, _zone(db, order.site)) for order in orders.unique()]


def story(db: Session, order_no: str) -> dict[str, Any]:
    """Everything that happened to one order, each part in time order (404 if unknown)."""
    order = db.scalar(select(Order).where(Order.order_no == order_no))
    if order is None:
        raise not_found(Thing.ORDER)
    tz = _zone(db, order.site)
    tickets = list(db.scalars(select(Ticket).where(Ticket.order_id == order.id)))
    numbers = [t.ticket_id.hex().upper() for t in tickets]
    return {
        **_summary(order, tz),
        "items": _items(db, order),
        "payments": [
            {
                "provider": p.provider,
                "provider_txn": p.provider_txn,
                "amount_fen": p.amount_fen,
                "status": p.status,
                "shift_id": p.shift_id,
                "received_at": _at(p.received_at, tz),
            }
            for p in db.scalars(
                select(Payment).where(Payment.order_id == order.id).order_by(Payment.received_at)
            )
        ],
        "tickets": [
            {
                "ticket_no": t.ticket_id.hex().upper(),
                "status": t.status,
                "people": t.people,
                "unit_fen": t.unit_fen,
                "valid_from": t.valid_from.isoformat(),
                "valid_until": t.valid_until.isoformat(),
                "real_name": t.holder_ref is not None,
                "issued_at": _at(t.issued_at, tz),
                "replaced_by": _replacement(tickets, t.replaced_by),
            }
            for t in tickets
        ],
        "entries": _entries(db, order.site, numbers, tz),
        "refunds": [
            {
                "kind": r.reason,  # refund | change
                "tickets": r.tickets,
                "amount_fen": r.amount_fen,
                "fee_fen": r.fee_fen,
                "status": r.status,
                "actor": r.actor,
                "at": _at(r.created_at, tz),
            }
            for r in db.scalars(
                select(Refund).where(Refund.order_id == order.id).order_by(Refund.created_at)
            )
        ],
        "audit": [
            {
                "at": _at(a.at, tz),
                "actor": a.actor,
                "source": a.source,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a in db.scalars(
                select(AuditEntry)
                .where(or_(AuditEntry.target == order.order_no, AuditEntry.target.in_(numbers)))
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ],
    }


def _summary(order: Order, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "site": order.site,
        "status": order.status,
        "channel": order.channel,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "refunded_fen": order.refunded_fen,
        "created_at": _at(order.created_at, tz),
        "paid_at": _at(order.paid_at, tz) if order.paid_at else None,
        "flag_reason": order.flag_reason,
        "has_contact": order.buyer_contact is not None,
    }


def _items(db: Session, order: Order) -> list[dict[str, Any]]:
    rows = db.execute(
        select(OrderItem, Product.code)
        .join(Product, Product.id == OrderItem.product_id)
        .where(OrderItem.order_id == order.id)
        .order_by(OrderItem.id)
    )
    return [
        {
            "product": code,
            "price_type": item.price_type,
            "quantity": item.quantity,
            "unit_fen": item.unit_fen,
            "inventory_id": item.inventory_id,
        }
        for item, code in rows
    ]


def _entries(db: Session, site: str, numbers: Sequence[str], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Uses and refusals of these tickets reported by gates, each use with its passages (who
    actually walked through) and the gate's zone."""
    if not numbers:
        return []
    ticket = GateEventRecord.data["ticket"].as_string()
    uses = list(
        db.scalars(
            select(GateEventRecord)
            .where(
                GateEventRecord.site == site,
                GateEventRecord.kind.in_(("use", "denial")),
                ticket.in_(list(numbers)),
            )
            .order_by(GateEventRecord.at, GateEventRecord.id)
        )
    )
    nodes = {e.node for e in uses}
    seqs = [int(e.data["use"]) for e in uses if e.kind == "use"]
    passed: dict[tuple[str, int], int] = {}
    if seqs:
        for follow in db.scalars(
            select(GateEventRecord).where(
                GateEventRecord.site == site,
                GateEventRecord.node.in_(nodes),
                GateEventRecord.kind == "passage",
                GateEventRecord.data["use"].as_integer().in_(seqs),
            )
        ):
            key = (follow.node, int(follow.data["use"]))
            passed[key] = passed.get(key, 0) + 1
    zones = {
        node: zone
        for node, zone in db.execute(select(Device.node, Device.zone).where(Device.site == site))
    }
    return [
        {
            "at": _at(e.at, tz),
            "gate": e.node,
            "zone": zones.get(e.node),
            "kind": e.kind,
            "ticket_no": e.data.get("ticket"),
            "direction": e.data.get("dir"),
            "granted": e.data.get("granted"),
            "passages": passed.get((e.node, int(e.data["use"])), 0) if e.kind == "use" else 0,
            "reason": e.data.get("reason"),
        }
        for e in uses
    ]


def _zone(db: Session, site: str) -> ZoneInfo:
    place = db.get(Site, site)
    return ZoneInfo(place.timezone if place else "Asia/Shanghai")


def _replacement(tickets: Sequence[Ticket], replaced_by: int | None) -> str | None:
    for t in tickets:
        if t.id == replaced_by:
            return t.ticket_id.hex().upper()
    return None


def _at(when: datetime, tz: ZoneInfo) -> str:
    """An instant in the site's time zone (ISO 8601 with its offset)."""
    return as_utc(when).astimezone(tz).isoformat()
