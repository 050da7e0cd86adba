"""Daily settlement statements per channel (渠道日结单): sales, refunds netted, commission,
top-ups and the balance, made from the channel's balance movements of one day in the site's
time zone, exported as CSV and confirmed by finance.

The figures are sums of ``ChannelMovement`` rows (services/channels.py writes one per sale,
refund and top-up in the same transaction as the order or refund), so they equal the sums of
the channel's orders and refunds by construction; tests/cloud/test_channels.py checks them
against the orders and refunds tables themselves. A statement can be made again (figures
recomputed) until finance confirms it; a confirmed one changes no more (409
``statement_confirmed``).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import ChannelMovement, ChannelStatement, Order, Site
from cloud.services.audit import audit
from cloud.services.channels import by_code


def make_statement(
    session: Session, account_code: str, day: date, *, actor: str, source: str, now: datetime
) -> ChannelStatement:
    """The statement of ``day`` (site time), computed now; a confirmed one is returned as is."""
    account = by_code(session, account_code)
    held = session.get(ChannelStatement, (account.id, day))
    if held is not None and held.confirmed_at is not None:
        return held
    moves = movements(session, account_code, day)
    sales = [m for m in moves if m.kind == "sale"]
    money = [m for m in moves if m.kind in ("sale", "refund")]
    before = session.scalar(
        select(ChannelMovement.balance_after_fen)
        .where(
            ChannelMovement.account_id == account.id,
            ChannelMovement.at < _bounds(session, account.site, day)[0],
        )
        .order_by(ChannelMovement.id.desc())
        .limit(1)
    )
    figures = {
        "sales_fen": sum(m.gross_fen for m in sales),
        "refunds_fen": -sum(m.gross_fen for m in moves if m.kind == "refund"),
        "commission_fen": sum(m.commission_fen for m in money),
        "net_fen": -sum(m.net_fen for m in money),  # what the channel owes us for the day
        "topups_fen": sum(m.net_fen for m in moves if m.kind == "topup"),
        "balance_fen": moves[-1].balance_after_fen if moves else before or 0,
        "orders": len(sales),
    }
    if held is None:
        held = ChannelStatement(account_id=account.id, day=day, **figures)
        session.add(held)
        session.flush()
    else:
        _while_unconfirmed(session, held, **figures)
    audit(session, actor, source, "channel_statement", f"{account_code}:{day}", figures, at=now)
    return held


def confirm(
    session: Session, account_code: str, day: date, *, actor: str, source: str, now: datetime
) -> ChannelStatement:
    """Finance confirms a made statement, once."""
    account = by_code(session, account_code)
    held = session.get(ChannelStatement, (account.id, day))
    if held is None:
        raise not_found(Thing.SETTLEMENT)
    _while_unconfirmed(session, held, confirmed_at=now, confirmed_by=actor[:64])
    audit(session, actor, source, "channel_confirm", f"{account_code}:{day}", None, at=now)
    return held


def _while_unconfirmed(session: Session, held: ChannelStatement, **values: object) -> None:
    """Set ``values`` on the statement ``held`` only while finance has not confirmed it (a
    conditional UPDATE, its row count checked: 409 ``statement_confirmed`` if it was), then
    reload it."""
    changed = session.execute(
        update(ChannelStatement)
        .where(
            ChannelStatement.account_id == held.account_id,
            ChannelStatement.day == held.day,
            ChannelStatement.confirmed_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.STATEMENT_CONFIRMED)
    session.refresh(held)


def movements(session: Session, account_code: str, day: date) -> list[ChannelMovement]:
    account = by_code(session, account_code)
    start, end = _bounds(session, account.site, day)
    return list(
        session.scalars(
            select(ChannelMovement)
            .where(
                ChannelMovement.account_id == account.id,
                ChannelMovement.at >= start,
                ChannelMovement.at < end,
            )
            .order_by(ChannelMovement.id)
        )
    )


def export_csv(session: Session, account_code: str, day: date) -> str:
    """The statement as CSV: one line per movement (order number, gross, commission, net,
    balance after), then the totals line. Money in yuan with two decimals."""
    account = by_code(session, account_code)
    held = session.get(ChannelStatement, (account.id, day))
    if held is None:
        raise not_found(Thing.SETTLEMENT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "kind", "order_no", "gross", "commission", "net", "balance_after"])
    for move in movements(session, account_code, day):
        order_no = session.scalar(select(Order.order_no).where(Order.id == move.order_id))
        writer.writerow(
            [
                move.at.isoformat(),
                move.kind,
                order_no or "",
                _yuan(move.gross_fen),
                _yuan(move.commission_fen),
                _yuan(move.net_fen),
                _yuan(move.balance_after_fen),
            ]
        )
    writer.writerow(
        [
            day.isoformat(),
            "total" if held.confirmed_at is None else f"total confirmed by {held.confirmed_by}",
            f"{held.orders} orders",
            _yuan(held.sales_fen - held.refunds_fen),
            _yuan(held.commission_fen),
            _yuan(-held.net_fen + held.topups_fen),
            _yuan(held.balance_fen),
        ]
    )
    return out.getvalue()


def _bounds(session: Session, site: str, day: date) -> tuple[datetime, datetime]:
    place = session.get(Site, site)
    assert place is not None
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(place.timezone))
    return start, start + timedelta(days=1)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
