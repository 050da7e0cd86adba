"""Daily settlement statements per partner attraction (合作景点日结单): the shares of the
package tickets sold that day, the shares of those refunded that day netted off, and what the
site owes the partner; exported as CSV and confirmed by finance, like the channels'
statements (services/channel_settlement.py).

The figures are sums of the day's ``ShareLine`` rows (services/revenue_shares.py writes them
in the payment's and the refund's transactions), in the site's time zone. A statement can be
made again (figures recomputed) until finance confirms it; the confirmation is a conditional
UPDATE (``confirmed_at IS NULL``), its row count checked, so a confirmed statement changes no
more (409 ``statement_confirmed``); making, confirming and exporting are audited.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Thing, not_found
from cloud.models import Order, PartnerStatement, ShareLine, Ticket
from cloud.services.audit import audit
from cloud.services.revenue_shares import attraction
from cloud.services.statements import confirm_held, keep, site_day, yuan


def lines(session: Session, code: str, day: date) -> list[ShareLine]:
    partner = attraction(session, code)
    start, end = site_day(session, partner.site, day)
    return list(
        session.scalars(
            select(ShareLine)
            .where(ShareLine.partner_id == partner.id, ShareLine.at >= start, ShareLine.at < end)
            .order_by(ShareLine.id)
        )
    )


def figures(rows: list[ShareLine]) -> dict[str, int]:
    """A statement's figures: each the sum (or count) of its rows."""
    sales = [r for r in rows if r.kind == "sale"]
    refunds = [r for r in rows if r.kind == "refund"]
    sales_fen = sum(r.amount_fen for r in sales)
    refunds_fen = -sum(r.amount_fen for r in refunds)
    return {
        "sales_fen": sales_fen,
        "refunds_fen": refunds_fen,
        "owed_fen": sales_fen - refunds_fen,
        "tickets": len(sales),
        "refunded": len(refunds),
    }


def make_statement(
    session: Session, code: str, day: date, *, actor: str, source: str, now: datetime
) -> PartnerStatement:
    """The statement of ``day`` (site time), computed now; a confirmed one is returned as is."""
    partner = attraction(session, code)
    held = session.get(PartnerStatement, (partner.id, day))
    if held is not None and held.confirmed_at is not None:
        return held
    made = figures(lines(session, code, day))
    held = keep(
        session, held, lambda: PartnerStatement(partner_id=partner.id, day=day, **made), **made
    )
    audit(session, actor, source, "partner_statement", f"{code}:{day}", made, at=now)
    return held


def confirm(
    session: Session, code: str, day: date, *, actor: str, source: str, now: datetime
) -> PartnerStatement:
    """Finance confirms a made statement, once; it is locked from then on."""
    partner = attraction(session, code)
    held = confirm_held(
        session, session.get(PartnerStatement, (partner.id, day)), actor=actor, now=now
    )
    audit(session, actor, source, "partner_confirm", f"{code}:{day}", None, at=now)
    return held


def export_csv(
    session: Session, code: str, day: date, *, actor: str, source: str, now: datetime
) -> str:
    """The statement as CSV (audited: finance data): one line per share (time, kind, order,
    ticket, people, net price, share), then the totals line. Money in yuan, two decimals."""
    partner = attraction(session, code)
    held = session.get(PartnerStatement, (partner.id, day))
    if held is None:
        raise not_found(Thing.SETTLEMENT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "kind", "order_no", "ticket", "people", "net_price", "share"])
    for row in lines(session, code, day):
        order_no = session.scalar(select(Order.order_no).where(Order.id == row.order_id))
        ticket = session.get(Ticket, row.ticket_id)
        writer.writerow(
            [
                row.at.isoformat(),
                row.kind,
                order_no or "",
                ticket.ticket_id.hex().upper() if ticket else "",
                row.people,
                yuan(row.net_fen),
                yuan(row.amount_fen),
            ]
        )
    writer.writerow(
        [
            day.isoformat(),
            "total" if held.confirmed_at is None else f"total confirmed by {held.confirmed_by}",
            f"{held.tickets} sold, {held.refunded} refunded",
            partner.settlement_account,
            "",
            "",
            yuan(held.owed_fen),
        ]
    )
    audit(session, actor, source, "partner_statement_csv", f"{code}:{day}", None, at=now)
    return out.getvalue()
