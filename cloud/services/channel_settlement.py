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
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Thing, not_found
from cloud.models import ChannelMovement, ChannelStatement, Order
from cloud.services.audit import audit
from cloud.services.channels import by_code
from cloud.services.statements import confirm_held, keep, site_day, yuan


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
            ChannelMovement.at < site_day(session, account.site, day)[0],
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
    held = keep(
        session,
        held,
        lambda: ChannelStatement(account_id=account.id, day=day, **figures),
        **figures,
    )
    audit(session, actor, source, "channel_statement", f"{account_code}:{day}", figures, at=now)
    return held


def confirm(
    session: Session, account_code: str, day: date, *, actor: str, source: str, now: datetime
) -> ChannelStatement:
    """Finance confirms a made statement, once."""
    account = by_code(session, account_code)
    held = confirm_held(
        session, session.get(ChannelStatement, (account.id, day)), actor=actor, now=now
    )
    audit(session, actor, source, "channel_confirm", f"{account_code}:{day}", None, at=now)
    return held


def movements(session: Session, account_code: str, day: date) -> list[ChannelMovement]:
    account = by_code(session, account_code)
    start, end = site_day(session, account.site, day)
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


def export_csv(
    session: Session, account_code: str, day: date, *, actor: str, source: str, now: datetime
) -> str:
    """The statement as CSV (audited: finance data): one line per movement (order number,
    gross, commission, net, balance after), then the totals line. Money in yuan with two
    decimals."""
    account = by_code(session, account_code)
    held = session.get(ChannelStatement, (account.id, day))
    if held is None:
        raise not_found(Thing.SETTLEMENT)
    audit(session, actor, source, "channel_statement_csv", f"{account_code}:{day}", None, at=now)
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
                yuan(move.gross_fen),
                yuan(move.commission_fen),
                yuan(move.net_fen),
                yuan(move.balance_after_fen),
            ]
        )
    writer.writerow(
        [
            day.isoformat(),
            "total" if held.confirmed_at is None else f"total confirmed by {held.confirmed_by}",
            f"{held.orders} orders",
            yuan(held.sales_fen - held.refunds_fen),
            yuan(held.commission_fen),
            yuan(-held.net_fen + held.topups_fen),
            yuan(held.balance_fen),
        ]
    )
    return out.getvalue()
