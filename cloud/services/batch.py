"""Festival batches (批量出票): tens of thousands of tickets for one day as a job, not a request.

A distributor or the organiser takes ``count`` places on one inventory row in one conditional
UPDATE (all or nothing: no oversell), then the tickets are signed and written in chunks of
``CHUNK`` with one commit each, so progress is visible and a crash loses at most one chunk of
work (the order records how many were issued; ``resume_batch`` finishes it). The order is a
normal order on channel ``distributor``, settled by invoice (payment provider ``invoice``), so
reports, refunds and verification treat batch tickets like any other.

Each ticket's text is stored with it, so ``batch_tickets`` can write a batch's codes again at
any time (``scenic-cloud batch export``): a lost CSV loses no places. The order number starts
with the site's date, as online orders' do. Real-name tickets (one ID each) and annual passes
(one pass per holder, made at its sale, renewed, linked to a member) are not batched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import Inventory, Order, OrderItem, Payment, Price, Product, Site, Ticket
from cloud.services import inventory
from cloud.services.audit import audit
from cloud.services.issuing import Issuer, claims_for
from cloud.services.orders import _order_no
from keys.ticket import issue_ticket

CHUNK = 2000


@dataclass(frozen=True)
class Batch:
    order_no: str
    issued: int
    ordered: int = 0  # tickets the batch order is for; issued < ordered: resume it

    @property
    def complete(self) -> bool:
        return self.issued >= self.ordered


def issue_batch(
    sessions: sessionmaker[Session],
    issuer: Issuer,
    *,
    inventory_id: int,
    price_type: str,
    count: int,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
    when_ordered: Callable[[str], None] = lambda order_no: None,
) -> Batch:
    """Take ``count`` places and record the paid batch order in one transaction, tell
    ``when_ordered`` its number (so a crash after it can be resumed by number), then issue."""
    if not 1 <= count <= 1_000_000:
        raise Problem(Code.BAD_QUANTITY, least=1, most=1_000_000)
    with sessions.begin() as db:
        stock = db.get(Inventory, inventory_id)
        if stock is None:
            raise not_found(Thing.INVENTORY)
        product = db.get(Product, stock.product_id)
        price = db.get(Price, (stock.product_id, price_type))
        if product is None or price is None:
            raise Problem(Code.NO_PRICE, price_type=price_type)
        if product.real_name:
            raise Problem(Code.REAL_NAME_BATCH)
        if product.kind == "annual":  # a pass is made per holder at its sale (annual_passes)
            raise Problem(Code.ANNUAL_BATCH)
        place = db.get(Site, product.site)
        site_zone = ZoneInfo(place.timezone if place else "Asia/Shanghai")
        inventory.reserve(db, inventory_id, count)
        order = Order(
            order_no=_order_no(now.astimezone(site_zone)),
            site=product.site,
            status="paid",
            channel="distributor",
            total_fen=price.amount_fen * count,
            paid_fen=price.amount_fen * count,
            created_at=now,
            expires_at=now,
            paid_at=now,
        )
        db.add(order)
        db.flush()
        item = OrderItem(
            order_id=order.id,
            product_id=product.id,
            inventory_id=inventory_id,
            price_type=price_type,
            quantity=count,
            unit_fen=price.amount_fen,
        )
        db.add(item)
        db.flush()
        db.add(
            Payment(
                order_id=order.id,
                provider="invoice",
                provider_txn=f"BATCH-{order.order_no}",
                amount_fen=order.total_fen,
                status="succeeded",
                received_at=now,
            )
        )
        audit(
            db,
            actor,
            "cli",
            "issue_batch",
            order.order_no,
            {"inventory_id": inventory_id, "count": count, "price_type": price_type},
            at=now,
        )
        order_no = order.order_no
    when_ordered(order_no)
    return resume_batch(sessions, issuer, order_no=order_no, now=now, progress=progress)


def resume_batch(
    sessions: sessionmaker[Session],
    issuer: Issuer,
    *,
    order_no: str,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> Batch:
    """Issue what a batch order still lacks, chunk by chunk; safe to run again after a crash."""
    with sessions() as db:
        order = db.scalar(select(Order).where(Order.order_no == order_no))
        if order is None:
            raise not_found(Thing.ORDER)
        item = db.scalar(select(OrderItem).where(OrderItem.order_id == order.id))
        assert item is not None
        product = db.get(Product, item.product_id)
        stock = db.get(Inventory, item.inventory_id)
        assert product is not None and stock is not None
        done = (
            db.scalar(select(func.count()).select_from(Ticket).where(Ticket.order_id == order.id))
            or 0
        )
        ids = (order.id, item.id, product.id, stock.id)
    progress(done)
    for chunk in _chunks(item.quantity - done):
        rows = []
        for _ in range(chunk):
            ticket_id = os.urandom(8)
            claims = claims_for(product, stock, item, 1, None, ticket_id)
            rows.append(
                {
                    "ticket_id": ticket_id,
                    "order_id": ids[0],
                    "item_id": ids[1],
                    "product_id": ids[2],
                    "inventory_id": ids[3],
                    "status": "valid",
                    "people": 1,
                    "unit_fen": item.unit_fen,
                    "valid_from": stock.day,
                    "valid_until": stock.day + timedelta(days=max(1, product.validity_days) - 1),
                    "holder_ref": None,
                    "kid": issuer.kid,
                    "text": issue_ticket(issuer.key, claims),
                    "issued_at": now,
                }
            )
        with sessions.begin() as db:
            db.execute(insert(Ticket), rows)
        done += chunk
        progress(done)
    return Batch(order_no, done, item.quantity)


def find_batch(sessions: sessionmaker[Session], order_no: str) -> Batch:
    """A batch order by number, with how many tickets it holds; ``not_found`` if there is no
    such order or it is not a batch (channel ``distributor``)."""
    with sessions() as db:
        order = db.scalar(select(Order).where(Order.order_no == order_no))
        if order is None or order.channel != "distributor":
            raise not_found(Thing.BATCH_ORDER)
        issued = db.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.order_id == order.id)
        )
        ordered = db.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.order_id == order.id)
        )
        return Batch(order_no, issued or 0, ordered or 0)


def batch_tickets(sessions: sessionmaker[Session], order_no: str) -> Iterator[tuple[str, str]]:
    """(ticket number, QR text) of a batch, for the distributor's CSV, in issue order."""
    with sessions() as db:
        order_id = db.scalar(select(Order.id).where(Order.order_no == order_no))
        for ticket_id, text in db.execute(
            select(Ticket.ticket_id, Ticket.text)
            .where(Ticket.order_id == order_id)
            .order_by(Ticket.id)
        ).yield_per(5000):
            yield ticket_id.hex().upper(), text


def _chunks(remaining: int) -> Iterator[int]:
    while remaining > 0:
        size = min(CHUNK, remaining)
        yield size
        remaining -= size
