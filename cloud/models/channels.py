"""Distributors and OTAs (分销 / OTA): their accounts, prices, balance movements, the orders
they made, the codes of their own they registered, and their daily settlement statements.

Written only by services/channels.py, services/ota_codes.py and services/channel_settlement.py.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

ACCOUNT_KINDS = ("ota", "distributor")


class ChannelAccount(Base):
    """An OTA or a distributor: its API key, commission, and money held with us. ``balance_fen``
    is prepaid money left (negative: credit used); it never goes below ``-credit_limit_fen``."""

    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # ota | distributor
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    commission_percent: Mapped[int] = mapped_column(default=0)
    credit_limit_fen: Mapped[int] = mapped_column(default=0)
    balance_fen: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ChannelPrice(Base):
    """The channel's own terms for one product: a net price per person it pays us, or a
    commission rate; either overrides the account's commission."""

    __tablename__ = "channel_prices"

    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    net_fen: Mapped[int | None] = mapped_column()
    commission_percent: Mapped[int | None] = mapped_column()


class ChannelMovement(Base):
    """One change of a channel's balance: a top-up, a sale (debit of the net), a refund
    (credit of the net back). Settlement statements are sums of these."""

    __tablename__ = "channel_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # topup | sale | refund
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    gross_fen: Mapped[int] = mapped_column()  # what the visitor's tickets cost (list price)
    commission_fen: Mapped[int] = mapped_column()
    net_fen: Mapped[int] = mapped_column()  # the balance change (signed)
    balance_after_fen: Mapped[int] = mapped_column()
    actor: Mapped[str] = mapped_column(String(64))


class ChannelCode(Base):
    """An OTA's own code, registered: the keyed hash of its text (keys/holder.py, kind
    ``ota``) and the ticket of ours issued bound to it (services/ota_codes.py)."""

    __tablename__ = "channel_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), index=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    code_ref: Mapped[bytes] = mapped_column(LargeBinary(8))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("site", "code_ref", name="uq_channel_codes_ref"),)


class ChannelStatement(Base):
    """A channel's daily settlement statement (日结单), as computed, then confirmed by finance."""

    __tablename__ = "channel_statements"

    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sales_fen: Mapped[int] = mapped_column()
    refunds_fen: Mapped[int] = mapped_column()
    commission_fen: Mapped[int] = mapped_column()
    net_fen: Mapped[int] = mapped_column()
    topups_fen: Mapped[int] = mapped_column()
    balance_fen: Mapped[int] = mapped_column()  # after the day's last movement
    orders: Mapped[int] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
