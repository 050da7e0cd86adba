"""A member of staff signs in from a browser (the dashboard's form): the same steps, throttle
and audit entries as ``POST /api/v1/auth/token`` (cloud/api/routes/auth.py), ending in the same
kind of session (services/staff_sessions.py), whose token the dashboard keeps in a cookie.

Never: check a password inside a transaction (a connection would wait on ~40 ms of hashing),
or tell an unknown username from a wrong password (a dummy hash runs for unknown users).
A manager's or finance account with a TOTP second factor (services/second_factor.py) needs its
one-time code here as at the API: a browser is no way around it.
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
class SignedIn:
    token: str
    user_id: int
    username: str
    role: str


def sign_in(
    sessions: sessionmaker[Session],
    pd: PersonalData,
    settings: ApiSettings,
    username: str,
    password: str,
    where: str,
    now: datetime,
    totp: str | None = None,
) -> SignedIn:
    """A session for ``username``; ``bad_credentials`` (401), ``too_many_attempts`` (429), or
    ``second_factor_required`` / ``bad_second_factor`` (401) for an account with a second
    factor whose one-time code ``totp`` is missing or wrong (the attempt stays counted)."""
    subjects = {"user": pd.blind_ref(f"login:{username}"), "address": where}
    with sessions.begin() as db:
        locked = login_throttle.admit(db, subjects, now)
        if locked:
            wait = login_throttle.wait_seconds(locked, now)
            raise Problem(
                Code.TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)}, retry_after=wait
            )
        user = db.scalar(select(User).where(User.username == username))
        account = (
            (user.id, user.username, user.role, user.password_hash, user.active) if user else None
        )
    ok = check_password(password, account[3] if account else None)
    ok = ok and account is not None and account[4]
    if not ok or account is None:
        with sessions.begin() as db:
            actor = account[1] if account else UNKNOWN_USER
            audit(db, actor, where, "login_failed", "auth", at=now)
        raise Problem(Code.BAD_CREDENTIALS)
    try:
        with sessions.begin() as db:
            factor = second_factor.check(db, account[0], pd, totp, now)
            login_throttle.succeeded(db, subjects, now)
            started = staff_sessions.start(db, account[0], settings, now)
            detail = {"second_factor": factor} if factor else None
            audit(db, account[1], where, "login", "dashboard", detail, at=now)
    except Problem:
        with sessions.begin() as db:
            audit(db, account[1], where, "login_second_factor_failed", "dashboard", at=now)
        raise
    return SignedIn(started.token, account[0], account[1], account[2])
