"""What the cloud has told the gates: revoked tickets, the latest signed document of each kind
per site, and each node's link state as its birth and will messages report it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base


class Revocation(Base):
    """A refunded or changed ticket the gates must refuse until its last valid day."""

    __tablename__ = "revocations"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    last_day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(index=True)  # the delta that first carried it


class SiteDocument(Base):
    """The newest signed document of a type for a site; ``seq`` is allocated here, under a row
    lock, so two processes never sign the same sequence number."""

    __tablename__ = "site_documents"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NodeLink(Base):
    """A node's link as the broker reports it: online after a birth, offline after its will.
    ``session`` tells a live node from a stale will (a will of an older session is ignored)."""

    __tablename__ = "node_links"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    node: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    session: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
