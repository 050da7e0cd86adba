"""Orders, their items and holders, the tickets issued for them, payments and refunds.

Money is integer fen everywhere. Personal data (ID numbers, phone numbers) is stored encrypted
(services/personal_data.py); a ticket carries only the holder reference (keys/holder.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

ORDER_STATES = ("pending", "paid", "expired", "cancelled", "refunded", "partially_refunded")


class Order(Base):
    __tablename__ = "orders"
    # the sales report and the dashboard read a site's orders paid in a range (0017)
    __table_args__ = (Index("ix_orders_site_paid_at", "site", "paid_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="pending", index=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")  # web|window|ota|distributor
    total_fen: Mapped[int] = mapped_column()
    paid_fen: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[int] = mapped_column(default=0)
    buyer_ref: Mapped[str | None] = mapped_column(String(64), index=True)  # hashed phone/email
    buyer_contact: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The buyer's key to this order (tickets, refund requests): shown once, stored hashed.
    access_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of: Mapped[str | None] = mapped_column(String(32))  # a similar recent order
    # The address an anonymous buyer ordered from (what one client may hold: services/holds.py);
    # None for orders made by signed-in staff.
    client: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set when captured money could not be settled (services/payments/settle.py): staff look.
    flag_reason: Mapped[str | None] = mapped_column(String(120))


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventory.id"))
    price_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column()
    unit_fen: Mapped[int] = mapped_column()
    group_ticket: Mapped[bool] = mapped_column(default=False)  # one code for N people
    holders: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{ref, id_enc}]
    # False for an item that took no place of its inventory (an annual pass's renewal,
    # services/annual_passes.py): expiring, retaking or refunding it gives no place back.
    holds_place: Mapped[bool] = mapped_column(default=True, server_default=true())


class HolderClaim(Base):
    """One ID, one ticket (防黄牛): a real-name ID holds at most one place of a product on a
    day, by primary key. Taken when an order is created (services/holder_claims.py), kept while
    its order is pending or its ticket valid, given back when the hold expires or the ticket is
    refunded. ``holder_ref`` is the keyed hash of the ID (keys/holder.py): the ID itself is
    only stored encrypted, so only its hash can be unique."""

    __tablename__ = "holder_claims"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the visit day (valid_from)
    holder_ref: Mapped[bytes] = mapped_column(LargeBinary(8), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)


class Ticket(Base):
    """One signed code (一票一码)."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[bytes] = mapped_column(LargeBinary(8), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    # the dashboard's booked and arrived per slot (0017)
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventory.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid|refunded|changed
    people: Mapped[int] = mapped_column(default=1)
    unit_fen: Mapped[int] = mapped_column()  # what this code cost (all its people)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date, index=True)  # reports' tickets (0017)
    holder_ref: Mapped[bytes | None] = mapped_column(LargeBinary(8), index=True)
    kid: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)  # the QR code's text
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))  # sandbox|wechat|alipay|unionpay|cash
    provider_txn: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column()
    # succeeded | refunded | partially_refunded | held (captured, not settled: order flagged)
    status: Mapped[str] = mapped_column(String(24))
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("cashier_shifts.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notification: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # A provider's transaction is paid once, however often its notification arrives.
    __table_args__ = (UniqueConstraint("provider", "provider_txn", name="uq_payments_txn"),)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    tickets: Mapped[list[str]] = mapped_column(JSON)  # ticket numbers
    amount_fen: Mapped[int] = mapped_column()
    fee_fen: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(32))  # refund | change
    provider_refund: Mapped[str | None] = mapped_column(String(64))
    # pending (claimed, the channel not yet told) -> sending (one caller is telling it) ->
    # succeeded; a failed call goes back to pending for a retry (services/refunds.pay_out).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    refund_no: Mapped[str | None] = mapped_column(String(32))  # what the channel dedupes on
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
