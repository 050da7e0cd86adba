"""Who may do what: staff accounts and their sessions, cashier shifts, partner API keys, the
audit log of every finance and personal-data access, and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models.base import Base

# manager: everything; finance: settlement, reports, reconciliation; cashier: sell, refund,
# change, own shift; gate: gate staff (look a ticket up at the lane); installer: devices and
# enrolment tokens; auditor: read-only (reports, audit, search). Who may call which endpoint is
# each route's ``role(...)``; tests/cloud/test_permissions.py holds the whole matrix.
ROLES = ("manager", "finance", "cashier", "gate", "installer", "auditor")
# Roles that may (and should) protect their sign-in with a TOTP second factor.
SECOND_FACTOR_ROLES = ("manager", "finance")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # TOTP second factor (services/second_factor.py): the secret sealed with the data key;
    # ``totp_pending`` while enrolment awaits its first code; the last time step accepted (a
    # code is good once); recovery codes as SHA-256 hex, each struck out when used.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_pending: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    totp_recovery: Mapped[list[str] | None] = mapped_column(JSON)


class AuthSession(Base):
    """A bearer token's SHA-256 (never the token) with its expiry and when it was last used
    (the idle timeout): revoked by deleting the row (logout, an admin, a password change)."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Recent failed sign-ins of one username (kept as its SHA-256) or one source address,
    and until when further attempts are refused (services/login_throttle.py)."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # "user" or "address"
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CashierShift(Base):
    """A cashier's till from opening float to counted close (现金班次, 点钞)."""

    __tablename__ = "cashier_shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opening_float_fen: Mapped[int] = mapped_column(default=0)
    cash_in_fen: Mapped[int] = mapped_column(default=0)
    cash_out_fen: Mapped[int] = mapped_column(default=0)
    counted_fen: Mapped[int | None] = mapped_column()

    @property
    def expected_fen(self) -> int:
        return self.opening_float_fen + self.cash_in_fen - self.cash_out_fen


class ApiKey(Base):
    """A partner system (parking, POS, hotel PMS, OTA): the key's SHA-256 and what it may do."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)


class AuditEntry(Base):
    """Every access to finance or personal data, and every change of money: who, from where.
    Append-only: a database trigger refuses UPDATE and DELETE (migration 0010)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))  # client address
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IdempotencyRecord(Base):
    """The answer given to a mutating request, replayed when the same key comes again."""

    __tablename__ = "idempotency"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    route: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status_code: Mapped[int] = mapped_column()
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
