"""Members (会员): accounts by phone or email, verification codes, member sessions, points,
coupons and flash sales (限时抢购). Written only by services/members.py and
services/promotions.py. Contacts and names are stored sealed (services/personal_data.py); a
member is found by the blind reference of their contact, never by the contact itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_ref: Mapped[str | None] = mapped_column(String(32), unique=True)  # None once deleted
    contact: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed phone or email
    name: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    level: Mapped[str] = mapped_column(String(16), default="regular")
    points: Mapped[int] = mapped_column(default=0)
    spent_fen: Mapped[int] = mapped_column(default=0)  # lifetime, for the level rules
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MemberCode(Base):
    """A verification code sent to a contact: only its hash, its expiry and the attempts."""

    __tablename__ = "member_codes"

    contact_ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)


class MemberSession(Base):
    __tablename__ = "member_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PointsMovement(Base):
    """Points earned on a paid order or spent at checkout; one earning per order. A refund
    adds ``taken_back`` / ``given_back`` rows, and ``taken_back_fen`` (change 0) when points
    already spent were paid for out of the refund: ``fen`` is that money
    (services/points_refund.py)."""

    __tablename__ = "points_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    change: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(16))  # earned|redeemed|taken_back[_fen]|given_back
    order_no: Mapped[str] = mapped_column(String(32))
    once_key: Mapped[str] = mapped_column(String(48), unique=True)  # earned:<order> etc.
    fen: Mapped[int] = mapped_column(default=0, server_default="0")


class Coupon(Base):
    """A coupon or promo code: a fixed amount or a percentage off, with limits."""

    __tablename__ = "coupons"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount_fen: Mapped[int | None] = mapped_column()
    percent: Mapped[int | None] = mapped_column()
    min_total_fen: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_limit: Mapped[int] = mapped_column()
    per_member_limit: Mapped[int] = mapped_column(default=1)
    used: Mapped[int] = mapped_column(default=0)


class FlashSale(Base):
    """限时抢购: ``places`` of one inventory at ``price_fen`` between two instants, at most
    ``per_member_limit`` per member; ``taken`` only grows by conditional UPDATE."""

    __tablename__ = "flash_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventory.id"))
    price_type: Mapped[str] = mapped_column(String(16))
    price_fen: Mapped[int] = mapped_column()
    places: Mapped[int] = mapped_column()
    taken: Mapped[int] = mapped_column(default=0)
    per_member_limit: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MemberTake(Base):
    """How much of a limited offer (a flash sale ``flash:<id>``, a coupon ``coupon:<code>``)
    a member has taken: the primary key is what makes the per-member limit hold under
    concurrency (services/promotions.py)."""

    __tablename__ = "member_takes"

    offer: Mapped[str] = mapped_column(String(48), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    taken: Mapped[int] = mapped_column()
