"""The catalogue: sites and zones, products with their rules and prices, and inventory.

A product's rules become ticket claims (keys/claims.py): validity, entries, zones, time slot,
real-name. Inventory is one row per product and day (and time slot for timed entry, 分时票):
``capacity`` places, ``taken`` reserved or sold. Reservations change ``taken`` only with one
conditional UPDATE (services/inventory.py), never check-then-write, so nothing oversells.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

PRODUCT_KINDS = ("day", "multi_day", "month", "season", "annual", "package", "timed")
PRICE_TYPES = ("adult", "child", "concession", "senior", "group", "member")


class Site(Base):
    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class Zone(Base):
    __tablename__ = "zones"

    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), primary_key=True)
    zone: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    validity_days: Mapped[int] = mapped_column(default=1)  # from the visit day, inclusive
    entries: Mapped[int] = mapped_column(default=1)  # 0: unlimited within validity
    entries_per_day: Mapped[int | None] = mapped_column()
    zones: Mapped[list[int] | None] = mapped_column(JSON)  # None: every zone of the site
    real_name: Mapped[bool] = mapped_column(default=False)  # 实名制: one ID per ticket
    # Refunds and changes close this many hours before the visit day starts; negative: that
    # many hours into the day (-24: "unused tickets refundable until the day ends").
    refund_until_hours: Mapped[int] = mapped_column(default=24)
    refund_fee_percent: Mapped[int] = mapped_column(default=0)
    changeable: Mapped[bool] = mapped_column(default=True)
    max_per_order: Mapped[int] = mapped_column(default=20)
    active: Mapped[bool] = mapped_column(default=True)


class Price(Base):
    __tablename__ = "prices"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    price_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount_fen: Mapped[int] = mapped_column()
    peak_amount_fen: Mapped[int | None] = mapped_column()  # on peak calendar days


class CalendarDay(Base):
    """Blackout (closed) and peak days per site."""

    __tablename__ = "calendar_days"

    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed: Mapped[bool] = mapped_column(default=False)
    peak: Mapped[bool] = mapped_column(default=False)


class Inventory(Base):
    """Places of a product on a day, in a time slot for timed entry (minutes of the day)."""

    __tablename__ = "inventory"
    __table_args__ = (
        UniqueConstraint("product_id", "day", "slot_start", name="uq_inventory_product_day_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[int] = mapped_column(default=-1)  # -1: a whole-day product
    slot_end: Mapped[int] = mapped_column(default=-1)
    capacity: Mapped[int] = mapped_column()
    taken: Mapped[int] = mapped_column(default=0)
    warn_percent: Mapped[int] = mapped_column(default=80)  # 预警: dashboard warns from here
    stop_percent: Mapped[int] = mapped_column(default=100)  # 限流: sales stop here

    @property
    def has_slot(self) -> bool:
        return self.slot_start >= 0

    def describe(self) -> dict[str, Any]:
        return {
            "inventory_id": self.id,
            "day": self.day.isoformat(),
            "slot_start": self.slot_start if self.has_slot else None,
            "slot_end": self.slot_end if self.has_slot else None,
            "capacity": self.capacity,
            "taken": self.taken,
            "available": max(0, self.capacity * self.stop_percent // 100 - self.taken),
            "warning": self.taken * 100 >= self.capacity * self.warn_percent,  # 预警
            "stopped": self.taken * 100 >= self.capacity * self.stop_percent,  # 限流
        }
