"""What the manager's dashboard keeps: gate alarms and their acknowledgement, staff preferences.

An alarm row is written by the ingest (services/ingest.py) in the transaction that stores its
gate event, so an alarm is never shown that was not stored, nor stored without showing. Staff
acknowledge it with a note (services/alarms.py): one conditional UPDATE from ``open``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

ALARM_STATES = ("open", "acknowledged")


class Alarm(Base):
    """A gate's alarm (double entry, fire, tailgating, forced entry, held open, ...)."""

    __tablename__ = "alarms"
    __table_args__ = (UniqueConstraint("site", "node", "seq", name="uq_alarms_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)  # the gate event's (site, node, seq)
    alarm: Mapped[str] = mapped_column(String(32))  # keys: see cloud/services/alarms.KINDS
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(500))


class StaffPreference(Base):
    """A member of staff's dashboard language (zh-CN or en), remembered across sign-ins."""

    __tablename__ = "staff_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), default="zh-CN")
