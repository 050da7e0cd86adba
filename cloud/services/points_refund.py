"""Points on a refund (退款扣回积分): a member's points earned on the refunded part of an
order are taken back, and points redeemed on it given back, once per refund, in the refund's
transaction (called by services/refunds.py).

- Earned points are taken back in proportion to the refunded tickets' paid value (what the
  codes cost, ``Ticket.unit_fen``), counted cumulatively over the order's refunds: after this
  refund the order has given back ``earned * refunded value // paid`` in all, so partial
  refunds never round away a point and a full refund takes back exactly what was earned.
- Redeemed points are given back by people: checkout spread them evenly over the order's
  people (services/members.checkout), so each refunded person returns an exact share.
- The member's lifetime spend (for the level) loses what the refund pays back; the level is
  recomputed in the same UPDATE.
- If the member has already spent the points to take back, the shortfall is deducted from
  the refund at the points' value (``FEN_PER_POINT``), as Chinese member programmes word it
  ("积分不足扣减的，按抵扣标准从退款金额中扣除"): the balance never goes negative and nothing
  is owed afterwards. Only when the refund itself is smaller than that value (a 100% fee) does
  the rest stay on the balance as a negative number, recovered from the next points earned.

Every change of the balance is a compare-and-set UPDATE (``points == seen``) whose row count
is checked, retried on a fresh read when a concurrent checkout spent points in between; the
ledger rows' unique ``once_key`` (``taken_back:<refund>``, ``given_back:<refund>``) makes the
whole thing happen once per refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import Member, Order, OrderItem, PointsMovement, Refund, Ticket
from cloud.services.members import FEN_PER_POINT, LEVELS

TRIES = 20  # compare-and-set rounds against concurrent checkouts before giving up (409)


@dataclass(frozen=True)
class Clawback:
    taken_back: int  # points off the balance (earned on the refunded part)
    given_back: int  # points back on the balance (redeemed on the refunded part)
    deducted_fen: int  # taken from the refund for points already spent


NONE = Clawback(0, 0, 0)


def on_refund(
    session: Session, order: Order, refund: Refund, refunded: list[Ticket], now: datetime
) -> Clawback:
    """Take back and give back the points of ``refunded`` (just retired by ``refund``); lowers
    ``refund.amount_fen`` by ``deducted_fen``. No member, no earning, no redemption: nothing."""
    if order.buyer_ref is None:
        return NONE
    member = session.scalar(select(Member).where(Member.contact_ref == order.buyer_ref))
    if member is None:
        return NONE
    ledger = _ledger(session, member.id, order.order_no)
    earned, redeemed = ledger.get("earned", 0), -ledger.get("redeemed", 0)
    if "earned" not in ledger and not redeemed:
        return NONE
    take = give = 0
    if earned and order.paid_fen:
        value = session.scalar(
            select(func.coalesce(func.sum(Ticket.unit_fen), 0)).where(
                Ticket.order_id == order.id, Ticket.status == "refunded"
            )
        )
        owed = earned * min(int(value or 0), order.paid_fen) // order.paid_fen
        take = max(0, owed + ledger.get("taken_back", 0) - ledger.get("taken_back_fen", 0))
    if redeemed:
        people = session.scalar(
            select(func.sum(OrderItem.quantity)).where(OrderItem.order_id == order.id)
        )
        gone = sum(t.people for t in refunded)
        give = redeemed * gone // max(int(people or 1), 1)
    key = refund.refund_no or f"RF{refund.id}"

    def movement(reason: str, change: int, fen: int = 0) -> PointsMovement:
        row = PointsMovement(
            member_id=member.id,
            at=now,
            change=change,
            reason=reason,
            order_no=order.order_no,
            once_key=f"{reason}:{key}",
            fen=fen,
        )
        session.add(row)
        return row

    # The ledger rows first: a second claim of the same refund fails here, on the unique
    # once_key, before the balance moves (the taken_back row is written even when it takes 0:
    # it is also what the lifetime spend is lowered once by).
    taken_row = movement("taken_back", 0) if "earned" in ledger else None
    if give:
        movement("given_back", give)
    session.flush()
    spend_back = refund.amount_fen if taken_row is not None else 0
    taken, deducted_fen = _apply(session, member.id, take, give, spend_back, refund.amount_fen)
    if taken_row is not None:
        taken_row.change = -taken
    if deducted_fen:  # the points already spent, paid for out of the refund (not the balance)
        movement("taken_back_fen", 0, deducted_fen)
    session.flush()
    refund.amount_fen -= deducted_fen
    session.refresh(member)
    return Clawback(taken, give, deducted_fen)


def _ledger(session: Session, member_id: int, order_no: str) -> dict[str, int]:
    """The order's points changes summed by reason (``taken_back_fen``: the points its fen
    stood for, positive)."""
    rows = session.execute(
        select(
            PointsMovement.reason,
            func.sum(PointsMovement.change),
            func.sum(PointsMovement.fen),
        )
        .where(PointsMovement.member_id == member_id, PointsMovement.order_no == order_no)
        .group_by(PointsMovement.reason)
    ).all()
    return {
        reason: int(fen or 0) // FEN_PER_POINT if reason == "taken_back_fen" else int(change or 0)
        for reason, change, fen in rows
    }


def _apply(
    session: Session, member_id: int, take: int, give: int, spend_back: int, refund_fen: int
) -> tuple[int, int]:
    """Move the balance by ``give - take`` and the lifetime spend by ``-spend_back``, in one
    compare-and-set UPDATE; (points taken off the balance, fen deducted from the refund)."""
    for _ in range(TRIES):
        seen = session.scalar(
            select(Member.points)
            .where(Member.id == member_id)
            .execution_options(populate_existing=True)
        )
        seen = int(seen or 0)
        room = max(0, seen + give)  # what the balance can give up without going negative
        taken = min(take, room)
        short = take - taken
        deducted_fen = min(short * FEN_PER_POINT, refund_fen) // FEN_PER_POINT * FEN_PER_POINT
        taken += short - deducted_fen // FEN_PER_POINT  # what the refund cannot cover
        new_spend = Member.spent_fen - spend_back
        level = case(
            *((new_spend >= least, name) for name, least in LEVELS[:-1]), else_=LEVELS[-1][0]
        )
        moved = session.execute(
            update(Member)
            .where(Member.id == member_id, Member.points == seen)
            .values(points=seen + give - taken, spent_fen=new_spend, level=level)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            return taken, deducted_fen
    raise Problem(Code.POINTS_BUSY)
