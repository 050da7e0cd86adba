"""Paying a claimed refund back through its channel: at most one call per attempt, never two
refunds for one claim, and never a claim lost when the channel fails.

A refund is claimed first (services/refunds.py, services/payments/settle.py): in one
transaction the tickets are refunded, the places released, and a ``refunds`` row is written as
``pending`` with the refund number the channel deduplicates on (WeChat's ``out_refund_no``,
Alipay's ``out_request_no``). Only after that commit is the channel called, outside any
transaction (no lock is held across the network):

    pending --claim (conditional UPDATE)--> sending --channel ok--> succeeded
                                               \\--channel failed--> pending (retry later)

The claim lets one caller at a time talk to the channel for a refund; a retry (the same request
with its Idempotency-Key, or ``retry_pending``) sends the same refund number again, which the
channel treats as the same refund. A process killed while ``sending`` leaves the row there for
staff to see (the channel knows whether it paid; sending the same number again is safe).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import Order, Payment, Refund
from cloud.services.payments.provider import Provider

log = logging.getLogger("cloud.payments")


def pay_out(sessions: sessionmaker[Session], providers: dict[str, Provider], refund_id: int) -> str:
    """Have the channel pay refund ``refund_id`` if it is pending; its state afterwards
    (``succeeded``, ``pending`` after a failed call, ``sending`` if another caller has it)."""
    with sessions.begin() as db:
        if not _move(db, refund_id, "pending", "sending"):
            return str(db.scalar(select(Refund.status).where(Refund.id == refund_id)))
        refund = db.get(Refund, refund_id)
        assert refund is not None
        payment = db.get(Payment, refund.payment_id)
        order = db.get(Order, refund.order_id)
        assert payment is not None and order is not None
        call = (order.order_no, payment.provider_txn, refund.refund_no or f"RF{refund.id}")
        amount, total, channel = refund.amount_fen, payment.amount_fen, payment.provider
    try:
        receipt = providers[channel].refund(*call, amount, total)
    except Exception:  # one call to a channel: a failure leaves the claim to retry, not lost
        log.exception("refund %s through %s failed; left pending", call[2], channel)
        with sessions.begin() as db:
            _move(db, refund_id, "sending", "pending")
        return "pending"
    with sessions.begin() as db:
        _move(db, refund_id, "sending", "succeeded", provider_refund=receipt[:64])
    return "succeeded"


def retry_pending(
    sessions: sessionmaker[Session], providers: dict[str, Provider]
) -> dict[str, int]:
    """Pay out every pending refund (after a channel outage); how many ended in each state."""
    with sessions() as db:
        waiting = db.scalars(select(Refund.id).where(Refund.status == "pending")).all()
    counts: dict[str, int] = {}
    for refund_id in waiting:
        state = pay_out(sessions, providers, refund_id)
        counts[state] = counts.get(state, 0) + 1
    return counts


def _move(db: Session, refund_id: int, before: str, after: str, **values: str) -> bool:
    moved = db.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == before)
        .values(status=after, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
