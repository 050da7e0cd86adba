"""Holds: an unpaid order keeps its places and ID claims until ``expires_at``, then gives them
back exactly once; and how much one anonymous client may hold. Never takes money.

Expiry is a conditional update per order, its row count checked::

    UPDATE orders SET status = 'expired'
     WHERE id = :id AND status = 'pending' AND expires_at < :now

Only the transaction whose update changed the row releases the order's places and claims, so
two expirers (``serve``'s thread and the ``scenic-cloud holds expire`` timer on another
worker) and a payment settling the same order agree through the order's status: whichever
changes it first wins, the others change nothing. A payment that arrives after the expiry goes
through ``retake`` (services/payments/settle.py): places and claims again, all or none.

Anonymous holds are capped per client address (the address the API records in the audit
log): a script holding every place for 15 minutes at a time would otherwise sell a day out
(issue 12: five requests held 5,000 of 5,000). The count and the new order are serialised per
client, by ``BEGIN IMMEDIATE`` on SQLite and a transaction-scoped advisory lock on PostgreSQL,
so ten concurrent requests from one address cannot all pass the same count.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem
from cloud.models import Inventory, Order, OrderItem
from cloud.services import holder_claims, inventory

log = logging.getLogger(__name__)

EXPIRE_BATCH = 500  # orders per transaction: SQLite's write lock is held this long at most


@dataclass(frozen=True)
class HoldLimits:
    """What one order and one anonymous client may hold (settings: SCENIC_ORDER_MAX_LINES,
    SCENIC_CLIENT_HOLD_PLACES). A product's ``max_per_order`` counts all lines of an order."""

    max_lines: int = 10
    client_places: int = 40  # places in unpaid, unexpired orders from one client address


def expire_orders(session: Session, now: datetime, limit: int = EXPIRE_BATCH) -> int:
    """Expire up to ``limit`` unpaid orders past their hold; returns how many this call
    expired (an order another expirer or a payment got to first is not counted)."""
    due = session.scalars(
        select(Order.id)
        .where(Order.status == "pending", Order.expires_at < now)
        .order_by(Order.expires_at)
        .limit(limit)
    ).all()
    return sum(expire_order(session, order_id, now) for order_id in due)


def sweep(sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> int:
    """Expire every due order, in transactions of ``EXPIRE_BATCH`` (one pass of the expirer,
    or ``scenic-cloud holds expire``); returns how many."""
    total = 0
    while True:
        with sessions.begin() as session:
            expired = expire_orders(session, clock())
        total += expired
        if expired < EXPIRE_BATCH:
            return total


def expire_order(session: Session, order_id: int, now: datetime) -> bool:
    """Expire one order if it is still pending and past its hold; give its places and claims
    back. False (nothing changed) if it was paid, expired or is still within its hold."""
    result = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == "pending", Order.expires_at < now)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for item in session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)):
        if item.holds_place:  # a pass renewal took none (services/annual_passes.py)
            inventory.release(session, item.inventory_id, item.quantity)
    holder_claims.release_order(session, order_id)
    return True


def retake(session: Session, order: Order) -> bool:
    """A payment arrived for an expired hold: take its places and ID claims again, all or
    none. False (nothing held) if a place or an ID has gone to someone else meanwhile."""
    items = session.scalars(
        select(OrderItem).where(OrderItem.order_id == order.id, OrderItem.holds_place)
    ).all()
    taken: list[OrderItem] = []
    try:
        for item in items:
            inventory.reserve(session, item.inventory_id, item.quantity)
            taken.append(item)
            stock = session.get(Inventory, item.inventory_id)
            assert stock is not None
            holder_claims.claim_holders(
                session,
                order.id,
                item.product_id,
                stock.day,
                [bytes.fromhex(h["ref"]) for h in item.holders or []],
            )
    except Problem:
        for item in taken:
            inventory.release(session, item.inventory_id, item.quantity)
        holder_claims.release_order(session, order.id)
        return False
    return True


def check_client(
    session: Session, client: str | None, places: int, limit: int, now: datetime
) -> None:
    """Refuse (429 ``client_hold_limit``) an anonymous order that would take the places held
    unpaid from ``client`` past ``limit``. Staff orders (``client`` None) are not counted."""
    if client is None:
        return
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"hold:" + client.encode()).digest()[:8], signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    held = session.scalar(
        select(func.coalesce(func.sum(OrderItem.quantity), 0))
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.client == client, Order.status == "pending", Order.expires_at >= now)
    )
    if int(held or 0) + places > limit:
        raise Problem(Code.CLIENT_HOLD_LIMIT, held=int(held or 0), limit=limit)


class Expirer:
    """Expires unpaid holds inside ``scenic-cloud serve``: ``start()`` sweeps once at once
    (holds that ended while nothing ran are given back before the first order is taken), then
    a daemon thread sweeps every ``every_s`` seconds until ``stop()``. ``clock`` gives the
    instant each pass expires as of (the context's injectable clock); ``when_swept(expired)``
    is called after each pass. A pass that fails (database away) is logged and retried at the
    next interval."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        every_s: float = 30.0,
        when_swept: Callable[[int], None] | None = None,
    ) -> None:
        self.sessions, self.clock, self.every_s = sessions, clock, every_s
        self.when_swept = when_swept
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hold-expiry", daemon=True)

    def start(self) -> None:
        self._pass()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _pass(self) -> None:
        try:
            expired = sweep(self.sessions, self.clock)
        except SQLAlchemyError:
            log.exception("hold expiry pass failed; retrying in %s s", self.every_s)
            return
        if expired:
            log.info("expired %d unpaid orders", expired)
        if self.when_swept is not None:
            self.when_swept(expired)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._pass()
