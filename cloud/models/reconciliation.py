"""Reconciliation with the payment channels (自动对账): imported statements and their lines,
the mismatches found against our payments and refunds, and each channel-day's close.

Written only by services/reconciliation/; one statement per channel and day; a closed day
changes no more (services/reconciliation/matching.py says how).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

MISMATCH_KINDS = ("missing_ours", "missing_theirs", "amount_differs", "status_differs", "duplicate")


class ReconDay(Base):
    """One channel's day: open until finance closes it; the row every resolution locks."""

    __tablename__ = "recon_days"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(64))
    resolutions: Mapped[int] = mapped_column(default=0)  # bumped by each resolution (its lock)


class Statement(Base):
    """An imported statement file: which channel and day, its SHA-256, who imported it."""

    __tablename__ = "recon_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(16))  # wechat | alipay | generic
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    filename: Mapped[str] = mapped_column(String(200))
    lines: Mapped[int] = mapped_column()
    total_fen: Mapped[int] = mapped_column()  # payments less refunds, as the channel lists them
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("channel", "day", name="uq_recon_statements_day"),)


class StatementLine(Base):
    """One payment or refund as the channel lists it."""

    __tablename__ = "recon_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("recon_statements.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # payment | refund
    key: Mapped[str] = mapped_column(String(64))  # channel txn (payment) or refund number
    order_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(24))  # normalised: paid|refunded|<channel's>
    at: Mapped[str] = mapped_column(String(32))  # the channel's own time text


class Mismatch(Base):
    """A difference between a statement and our books, open until finance resolves it."""

    __tablename__ = "recon_mismatches"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # MISMATCH_KINDS
    subject: Mapped[str] = mapped_column(String(8))  # payment | refund
    key: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64))
    ours_fen: Mapped[int | None] = mapped_column()
    theirs_fen: Mapped[int | None] = mapped_column()
    ours_status: Mapped[str | None] = mapped_column(String(24))
    theirs_status: Mapped[str | None] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | resolved
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("channel", "day", "kind", "subject", "key", name="uq_recon_mismatch"),
    )
