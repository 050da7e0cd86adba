"""A member of staff signs in from a browser (the dashboard's form): the same steps, throttle
and audit entries as ``POST /api/v1/auth/token`` (cloud/api/routes/auth.py), ending in the same
kind of session (services/staff_sessions.py), whose token the dashboard keeps in a cookie.

Never: check a password inside a transaction (a connection would wait on ~40 ms of hashing),
or tell an unknown username from a wrong password (a dummy hash runs for unknown users).
Merge note: when the API's sign-in gains a second factor, this is the other caller to give it.
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
from cloud.services import login_throttle, staff_sessions
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
) -> SignedIn:
    """A session for ``username``; ``bad_credentials`` (401) or ``too_many_attempts`` (429)."""
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
    with sessions.begin() as db:
        if not ok or account is None:
            actor = account[1] if account else UNKNOWN_USER
            audit(db, actor, where, "login_failed", "auth", at=now)
        else:
            login_throttle.succeeded(db, subjects, now)
            started = staff_sessions.start(db, account[0], settings, now)
            audit(db, account[1], where, "login", "dashboard", at=now)
    if not ok or account is None:
        raise Problem(Code.BAD_CREDENTIALS)
    return SignedIn(started.token, account[0], account[1], account[2])
