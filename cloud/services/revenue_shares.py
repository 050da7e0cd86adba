"""Revenue shares with partner attractions in package tickets (套票分账).

A package product (kind ``package``) has components, each naming a partner attraction and its
share of every ticket: a fixed amount per person (``share_fen``) or basis points of what the
ticket was sold for (``share_bp``, of its net price ``Ticket.unit_fen``: after member prices,
coupons and points). Finance sets the whole list at once; it is refused (422 ``bad_shares``)
when, at any of the product's prices (peak included), the shares of one person would exceed
the price.

The split is fixed per ticket when the order is paid (``on_sale``, called by
services/payments/settle.py in the payment's transaction): one ``ShareLine`` per ticket and
partner, so later edits of the components leave past sales as they were. If a ticket was
sold for less than its shares (a coupon, a channel's net price), the components are paid in
order of the partner's id until the ticket's money is used up: a share never exceeds what
was received. A refund (``on_refund``, called by services/refunds.py) adds the same amounts
back as negative ``refund`` lines, once per ticket and partner (unique key): the refund fee
stays with the site, whose rules it is. A changed ticket keeps the shares of the ticket it
replaced.

A partner attraction whose own gate redeems the component would need that gate to take our
codes (a node of ours at its gate); that is not built: the partner is paid by the sale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.models import (
    ChannelMovement,
    Order,
    PackageComponent,
    PartnerAttraction,
    Price,
    Product,
    Refund,
    ShareLine,
    Site,
    Ticket,
)
from cloud.services.audit import audit

BP = 10_000  # basis points in a whole


@dataclass(frozen=True)
class Share:
    """One component as finance sets it: exactly one of ``share_fen`` (per person) and
    ``share_bp`` (of the net price)."""

    partner: str  # the attraction's code
    share_fen: int | None = None
    share_bp: int | None = None


def create_attraction(
    session: Session,
    *,
    code: str,
    name: str,
    site: str,
    settlement_account: str,
    actor: str,
    source: str,
    now: datetime,
) -> PartnerAttraction:
    if session.get(Site, site) is None:
        raise not_found(Thing.SITE)
    partner = PartnerAttraction(
        code=code, name=name, site=site, settlement_account=settlement_account
    )
    try:
        with session.begin_nested():
            session.add(partner)
    except IntegrityError:
        raise Problem(Code.DUPLICATE_ATTRACTION, attraction=code) from None
    audit(session, actor, source, "attraction_create", f"attraction:{code}", None, at=now)
    return partner


def attraction(session: Session, code: str) -> PartnerAttraction:
    found = session.scalar(select(PartnerAttraction).where(PartnerAttraction.code == code))
    if found is None:
        raise not_found(Thing.ATTRACTION)
    return found


def set_components(
    session: Session,
    product_id: int,
    shares: Sequence[Share],
    *,
    actor: str,
    source: str,
    now: datetime,
) -> list[Share]:
    """Replace the package's components by ``shares`` (past sales keep theirs); audited."""
    product = session.get(Product, product_id)
    if product is None:
        raise not_found(Thing.PRODUCT)
    if product.kind != "package":
        raise Problem(Code.NOT_A_PACKAGE, product=product.code)
    rows = []
    for share in shares:
        if (share.share_fen is None) == (share.share_bp is None):
            raise Problem(Code.INVALID_REQUEST, where=share.partner, problem="share_fen_or_bp")
        partner = attraction(session, share.partner)
        if partner.site != product.site:
            raise Problem(Code.INVALID_REQUEST, where=share.partner, problem="other_site")
        rows.append(
            PackageComponent(
                product_id=product.id,
                partner_id=partner.id,
                share_fen=share.share_fen,
                share_bp=share.share_bp,
            )
        )
    if len({row.partner_id for row in rows}) != len(rows):
        raise Problem(Code.INVALID_REQUEST, where="components", problem="partner_twice")
    _check_prices(session, product, rows)
    session.execute(delete(PackageComponent).where(PackageComponent.product_id == product.id))
    session.add_all(rows)
    session.flush()
    audit(
        session,
        actor,
        source,
        "package_shares",
        f"product:{product.code}",
        {"components": [_describe(session, row) for row in rows]},
        at=now,
    )
    return components(session, product_id)


def components(session: Session, product_id: int) -> list[Share]:
    if session.get(Product, product_id) is None:
        raise not_found(Thing.PRODUCT)
    return [
        Share(code, share_fen, share_bp)
        for code, share_fen, share_bp in session.execute(
            select(PartnerAttraction.code, PackageComponent.share_fen, PackageComponent.share_bp)
            .join(PartnerAttraction, PartnerAttraction.id == PackageComponent.partner_id)
            .where(PackageComponent.product_id == product_id)
            .order_by(PackageComponent.partner_id)
        )
    ]


def split(rows: Sequence[PackageComponent], net_fen: int, people: int) -> list[int]:
    """Each component's share of a ticket sold for ``net_fen`` for ``people``, in the order
    of ``rows``, never more in all than ``net_fen``."""
    left, amounts = net_fen, []
    for row in rows:
        want = row.share_fen * people if row.share_fen is not None else 0
        if row.share_bp is not None:
            want = net_fen * row.share_bp // BP
        amounts.append(min(want, left))
        left -= amounts[-1]
    return amounts


def on_sale(session: Session, order: Order, tickets: Sequence[Ticket], now: datetime) -> int:
    """Fix the partners' shares of a just-paid order's package tickets; the lines written."""
    written = 0
    sold = session.execute(  # a distributor's or OTA's sale: we receive its net, not the list
        select(ChannelMovement.gross_fen, ChannelMovement.net_fen).where(
            ChannelMovement.order_id == order.id, ChannelMovement.kind == "sale"
        )
    ).first()
    for ticket in tickets:
        rows = _rows(session, ticket.product_id)
        net = ticket.unit_fen
        if sold is not None and sold.gross_fen:
            net = ticket.unit_fen * -sold.net_fen // sold.gross_fen
        for row, amount in zip(rows, split(rows, net, ticket.people), strict=True):
            session.add(
                ShareLine(
                    partner_id=row.partner_id,
                    kind="sale",
                    ticket_id=ticket.id,
                    order_id=order.id,
                    people=ticket.people,
                    net_fen=net,
                    amount_fen=amount,
                    at=now,
                )
            )
            written += 1
    if written:
        session.flush()
    return written


def on_refund(session: Session, tickets: Sequence[Ticket], refund: Refund, now: datetime) -> int:
    """Net back the shares of ``tickets`` (just refunded by ``refund``); the lines written. A
    second netting of a ticket fails on the unique key (the ticket was refunded once)."""
    written = 0
    for ticket in tickets:
        sold = session.scalars(
            select(ShareLine)
            .where(ShareLine.ticket_id == _first_of(session, ticket), ShareLine.kind == "sale")
            .order_by(ShareLine.partner_id)
        ).all()
        for line in sold:
            session.add(
                ShareLine(
                    partner_id=line.partner_id,
                    kind="refund",
                    ticket_id=line.ticket_id,
                    order_id=line.order_id,
                    refund_id=refund.id,
                    people=line.people,
                    net_fen=-line.net_fen,
                    amount_fen=-line.amount_fen,
                    at=now,
                )
            )
            written += 1
    if written:
        session.flush()
    return written


def _first_of(session: Session, ticket: Ticket) -> int:
    """The id of the ticket first sold, before any change replaced it (退改签)."""
    current = ticket.id
    while True:
        before = session.scalar(select(Ticket.id).where(Ticket.replaced_by == current))
        if before is None:
            return current
        current = before


def _rows(session: Session, product_id: int) -> list[PackageComponent]:
    return list(
        session.scalars(
            select(PackageComponent)
            .where(PackageComponent.product_id == product_id)
            .order_by(PackageComponent.partner_id)
        )
    )


def _check_prices(session: Session, product: Product, rows: Sequence[PackageComponent]) -> None:
    """422 ``bad_shares`` unless one person's shares fit in every price of the product."""
    for price in session.scalars(select(Price).where(Price.product_id == product.id)):
        for amount in (price.amount_fen, price.peak_amount_fen):
            if amount is None:
                continue
            shares = sum(
                row.share_fen if row.share_fen is not None else amount * (row.share_bp or 0) // BP
                for row in rows
            )
            if shares > amount:
                raise Problem(
                    Code.BAD_SHARES,
                    shares_fen=shares,
                    price_type=price.price_type,
                    price_fen=amount,
                )


def _describe(session: Session, row: PackageComponent) -> dict[str, object]:
    partner = session.get(PartnerAttraction, row.partner_id)
    assert partner is not None
    return {"partner": partner.code, "share_fen": row.share_fen, "share_bp": row.share_bp}
