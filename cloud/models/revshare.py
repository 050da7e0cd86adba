"""Revenue shares with partner attractions in package tickets (套票分账): the partners, the
components of a package (each naming a partner and its share), the share of each ticket
fixed when it was sold (and netted back when it is refunded), and each partner's daily
settlement statement. Written only by services/revenue_shares.py and
services/partner_settlement.py."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class PartnerAttraction(Base):
    """A partner attraction (合作景点) paid a share of the package tickets naming it:
    ``settlement_account`` is finance's reference of where its money goes (a bank account
    or merchant number as finance writes it, not used to move money here)."""

    __tablename__ = "partner_attractions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    settlement_account: Mapped[str] = mapped_column(String(64))


class PackageComponent(Base):
    """One partner's part of a package product: a fixed ``share_fen`` per person, or
    ``share_bp`` basis points (1/10000) of what the ticket was sold for (its net price)."""

    __tablename__ = "package_components"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_attractions.id"), primary_key=True)
    share_fen: Mapped[int | None] = mapped_column()
    share_bp: Mapped[int | None] = mapped_column()


class ShareLine(Base):
    """A partner's share of one ticket: ``sale`` when it was sold (fixed then: later edits of
    the components do not change it), ``refund`` (the same amount, negative) when it was
    refunded. Unique per ticket, partner and kind, so each happens once. Statements are sums
    of these."""

    __tablename__ = "share_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_attractions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    people: Mapped[int] = mapped_column()
    net_fen: Mapped[int] = mapped_column()  # what the ticket was sold for (signed like amount)
    amount_fen: Mapped[int] = mapped_column()  # the partner's share (negative: refund)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (
        UniqueConstraint("ticket_id", "partner_id", "kind", name="uq_share_lines_once"),
    )


class PartnerStatement(Base):
    """A partner attraction's daily settlement statement (合作景点日结单): the day's shares of
    sales, of refunds (netted), and what we owe; confirmed (and locked) by finance."""

    __tablename__ = "partner_statements"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_attractions.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sales_fen: Mapped[int] = mapped_column()
    refunds_fen: Mapped[int] = mapped_column()
    owed_fen: Mapped[int] = mapped_column()
    tickets: Mapped[int] = mapped_column()  # sold that day
    refunded: Mapped[int] = mapped_column()  # refunded that day
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
