"""A member of staff signs in, from the API (``POST /api/v1/auth/token``) or the dashboard's
form: one sequence of steps for both, ending in a session (services/staff_sessions.py) whose
token the API hands back and the dashboard keeps in a cookie.

Three steps, so that no database connection waits on the password hash (about 40 ms of CPU):
count the attempt (services/login_throttle.py; a locked username or address is refused here
with 429 and Retry-After, before any hash), check the password outside any transaction
(against a dummy for unknown users, so they take as long), record the outcome. An account with
a TOTP second factor (services/second_factor.py) needs its one-time code as well: a browser is
no way around it.

The audit log names the account only when it exists: an unknown "username" is often a password
typed into the wrong field, so it is logged as ``UNKNOWN_USER`` with the address.

Never: check a password inside a transaction, or tell an unknown username from a wrong
password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.config import ApiSettings
from cloud.core.errors import Code, Problem
from cloud.core.security import check_password
from cloud.models import User
from cloud.services import login_throttle, second_factor, staff_sessions
from cloud.services.audit import audit
from cloud.services.personal_data import PersonalData

UNKNOWN_USER = "(unknown user)"


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    password_hash: str
    active: bool


@dataclass(frozen=True)
class SignedIn:
    token: str
    user_id: int
    username: str
    role: str
    expires_at: datetime


def subjects(pd: PersonalData, username: str, where: str) -> dict[str, str]:
    """What the throttle counts: the username as a keyed hash (never in clear), the address."""
    return {"user": pd.blind_ref(f"login:{username}"), "address": where}


def admitted(
    db: Session,
    seen: login_throttle.SeenLocks,
    counted: dict[str, str],
    username: str,
    now: datetime,
) -> Account | None:
    """Count the attempt, or refuse it with 429: from memory if this worker has seen the lock,
    else from the database (the transaction then rolls back, so a refused attempt counts
    nothing); the account to check the password against, if there is one."""
    locked = seen.refused(counted, now) or login_throttle.admit(db, counted, now)
    if locked:
        seen.learn(locked, now)
        wait = login_throttle.wait_seconds(locked, now)
        raise Problem(Code.TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)}, retry_after=wait)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        return None
    return Account(user.id, user.username, user.role, user.password_hash, user.active)


def sign_in(
    sessions: sessionmaker[Session],
    pd: PersonalData,
    settings: ApiSettings,
    seen: login_throttle.SeenLocks,
    username: str,
    password: str,
    totp: str | None,
    where: str,
    now: datetime,
    through: str = "auth",
) -> SignedIn:
    """A session for ``username``; ``bad_credentials`` (401), ``too_many_attempts`` (429), or
    ``second_factor_required`` / ``bad_second_factor`` (401) for an account with a second
    factor whose one-time code ``totp`` is missing or wrong (the attempt stays counted).
    ``through`` names the door in the audit log: "auth" (the API) or "dashboard"."""
    counted = subjects(pd, username, where)
    with sessions.begin() as db:
        account = admitted(db, seen, counted, username, now)
    ok = check_password(password, account.password_hash if account else None)
    ok = ok and account is not None and account.active
    if not ok or account is None:
        with sessions.begin() as db:
            actor = account.username if account else UNKNOWN_USER
            audit(db, actor, where, "login_failed", "auth", at=now)
        raise Problem(Code.BAD_CREDENTIALS)
    try:
        with sessions.begin() as db:
            factor = second_factor.check(db, account.id, pd, totp, now)
            login_throttle.succeeded(db, counted, now)
            started = staff_sessions.start(db, account.id, settings, now)
            detail = {"second_factor": factor} if factor else None
            audit(db, account.username, where, "login", through, detail, at=now)
    except Problem:
        with sessions.begin() as db:
            audit(db, account.username, where, "login_second_factor_failed", through, at=now)
        raise
    return SignedIn(started.token, account.id, account.username, account.role, started.expires_at)
