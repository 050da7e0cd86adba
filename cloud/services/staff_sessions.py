"""Staff sessions: a bearer token per sign-in, with a lifetime and an idle timeout, revocable.

Never: store a token (only its SHA-256), or let a session outlive its user's password.

A session ends when ``expires_at`` passes (``ApiSettings.session_hours``, default 8: one shift
at the window), when it has not been used for ``session_idle_minutes`` (default 30: a till left
signed in stops working), on logout, when a manager revokes the user's sessions, and when the
user's password changes. Use is recorded at most once a minute (``TOUCH_EVERY``), so a busy till
does not turn every read into a database write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from cloud.core.config import ApiSettings
from cloud.core.errors import Code, Problem
from cloud.core.security import hash_password, new_token, token_hash
from cloud.models import AuthSession, User
from cloud.models.base import as_utc
from cloud.services.staff import check_new_password

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Started:
    token: str
    expires_at: datetime


def start(session: Session, user_id: int, settings: ApiSettings, now: datetime) -> Started:
    token = new_token()
    expires = now + timedelta(hours=settings.session_hours)
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=expires,
            last_seen_at=now,
        )
    )
    return Started(token, expires)


def user_of(session: Session, token: str, settings: ApiSettings, now: datetime) -> User:
    """The active user a token signs in, recording its use; 401 if it is unknown, expired,
    idle too long or its user is disabled."""
    digest = token_hash(token)
    row, user = _active(session, digest, settings, now)
    if as_utc(row.last_seen_at) + TOUCH_EVERY <= now:
        session.execute(
            update(AuthSession)
            .where(AuthSession.token_hash == digest, AuthSession.last_seen_at == row.last_seen_at)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )  # no row count check: a concurrent request recorded the same use
    return user


def still_active(session: Session, token: str, settings: ApiSettings, now: datetime) -> bool:
    """Whether the token still signs its user in, without recording a use: the dashboard's live
    stream asks on every tick (so a signed-out or revoked browser stops receiving), and a
    stream is not the user doing something, so it writes nothing."""
    try:
        _active(session, token_hash(token), settings, now)
    except Problem:
        return False
    return True


def _active(
    session: Session, digest: bytes, settings: ApiSettings, now: datetime
) -> tuple[AuthSession, User]:
    row = session.get(AuthSession, digest)
    if row is None:
        raise _expired()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if as_utc(row.expires_at) <= now or (
        settings.session_idle_minutes and as_utc(row.last_seen_at) + idle <= now
    ):
        raise _expired()
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Problem(Code.UNAUTHENTICATED)
    return row, user


def end(session: Session, token: str) -> None:
    """Logout: this token stops working."""
    session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))


def revoke_all(session: Session, user_id: int) -> int:
    """Every session of the user ends (a manager's action, or a password change); how many."""
    result = session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_password(session: Session, user: User, password: str) -> int:
    """A new password for ``user``; every session signed in with the old one ends."""
    check_new_password(password)
    result = session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(password))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.PASSWORD_CHANGED)
    return revoke_all(session, user.id)


def _expired() -> Problem:
    return Problem(Code.UNAUTHENTICATED)
