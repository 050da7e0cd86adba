"""Annual passes (年卡): one row per annual ticket sold, its renewals, and each product's rules.

A pass is the holder's lasting record across years: the member it belongs to, the holder's
reference (the real-name ID's HMAC, keys/holder.py) and the ticket that admits them now. A
renewal issues a *new* signed ticket (gates trust only signed texts, so the old one is never
extended in place) and moves the pass to it; ``version`` grows with every change of the pass,
and a renewal is claimed by one conditional UPDATE on the pass's current ticket, so of two
renewals racing for one pass exactly one wins. Written only by
services/annual_passes.py. The holder's name and contact (a phone, or the member's email) are
sealed (services/personal_data.py); ``contact_ref`` is its blind reference, for the window's
look-up by phone.

``status`` is ``active`` or ``refunded``; a pass whose ``valid_until`` is past reads as
``expired`` (computed against the site's today, so no job has to sweep it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

RENEWAL_STATES = ("pending", "paid", "refunded", "lost")  # lost: another renewal won the pass


class PassRule(Base):
    """How a product's passes renew. Without a row: ``DEFAULT`` in services/annual_passes.py."""

    __tablename__ = "pass_rules"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    renew_before_days: Mapped[int] = mapped_column(default=30)  # the window opens before expiry
    grace_days: Mapped[int] = mapped_column(default=30)  # until then: from the old expiry
    lapse_limit_days: Mapped[int] = mapped_column(default=365)  # beyond: buy a new pass
    price_fen: Mapped[int | None] = mapped_column()  # None: the product's adult price
    level_discounts: Mapped[dict[str, int] | None] = mapped_column(JSON)  # {"gold": 10} percent


class AnnualPass(Base):
    __tablename__ = "annual_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    holder_ref: Mapped[bytes | None] = mapped_column(LargeBinary(8), index=True)
    holder_name: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    holder_contact: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed phone or email
    contact_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    first_ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))  # the current ticket
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | refunded
    version: Mapped[int] = mapped_column(default=1)
    # The gates' faces document does not carry this pass's current ticket texts yet: the
    # downlink service signs and publishes a delta, then clears it (services/pass_faces.py).
    face_pending: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PassRenewal(Base):
    """One renewal asked for: its order, the dates it gives, the ticket it produced."""

    __tablename__ = "pass_renewals"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("annual_passes.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    # The pass's version when it was asked, for the record: paying claims the pass on
    # ``from_ticket_id`` (its ticket then), so housekeeping that bumps the version (a member
    # linked, a face re-signed) does not void the renewal.
    seen_version: Mapped[int] = mapped_column()
    # The member the pass belonged to when it was asked (None: nobody's). Paying claims the
    # pass only while it still is theirs: a former owner's pending order never gets the new
    # ticket after the window moved the pass to someone else.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    from_ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    to_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    prev_valid_from: Mapped[date] = mapped_column(Date)
    prev_valid_until: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
