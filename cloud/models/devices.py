"""The device registry: each gate node, its site and the public half of its identity key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site", "node", name="uq_devices_site_node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="tripod")
    zone: Mapped[int] = mapped_column(default=0)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | revoked
    software_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeviceKey(Base):
    """Every identity key a gate position has held: a replaced Pi's key stays here as
    ``replaced``, a retired one as ``decommissioned``; the gate's events keep their node id."""

    __tablename__ = "device_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    node: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(16))  # enrolled | replaced | decommissioned
    software_version: Mapped[str | None] = mapped_column(String(32))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrolmentToken(Base):
    """A one-time token that lets one Pi become one gate position; only its hash is kept."""

    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    node: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    zone: Mapped[int] = mapped_column()
    direction: Mapped[str] = mapped_column(String(3), default="in")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
