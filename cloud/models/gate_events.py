"""What gates reported: each event once (unique on site, node, seq), its effects, refusals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class GateEventRecord(Base):
    """One signed event from a gate. The signed bytes are kept: they prove which gate
    recorded it (its key signed them), for disputes and audits. An event signed alone keeps
    them in ``raw``; one that came in a signed batch (keys/gate_event_batch.py) names the
    batch in ``batch`` (its SHA-256), kept once in ``gate_event_batches``, and ``raw`` is
    NULL (cloud/services/ingest.py ``proof``)."""

    __tablename__ = "gate_events"
    __table_args__ = (
        UniqueConstraint("site", "node", "seq", name="uq_gate_events_node_seq"),
        # a site's uses or passages in a range: the reports, the dashboard's curves (0017)
        Index("ix_gate_events_site_kind_at", "site", "kind", "at"),
    )

    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that is an auto-increasing rowid.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    site: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    batch: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GateEventBatch(Base):
    """The signed bytes of a batch of events (keys/gate_event_batch.py), kept once for all the
    events stored from it: with the node's key they prove each of them. Keyed by the SHA-256
    of those bytes, so a batch delivered twice is kept once. Written only in the transaction
    that stores at least one of its events, so none is kept for nothing."""

    __tablename__ = "gate_event_batches"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    site: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(32))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ParkCount(Base):
    """Passages per site and site-local day: entries, exits, and so who is in the park."""

    __tablename__ = "park_counts"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    entries: Mapped[int] = mapped_column(default=0)
    exits: Mapped[int] = mapped_column(default=0)

    @property
    def in_park(self) -> int:
        return max(0, self.entries - self.exits)


class RefusedEvent(Base):
    """An event the cloud would not store (unknown or revoked node, bad signature), kept for
    the security log with what was claimed."""

    __tablename__ = "refused_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    claimed_node: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
