"""The optional TOTP second factor (RFC 6238, pyotp) for manager and finance accounts: enrol,
confirm with a first code, check at sign-in, recovery codes, and a manager's reset.

Never: store the secret in clear (it is sealed with the data key, services/personal_data.py),
accept one code twice (the last accepted 30-second step is kept), or keep a recovery code in
clear (SHA-256 only; each works once).

Enrolment is two steps so a mistyped secret cannot lock an account: ``enrol`` gives a secret
(and an ``otpauth://`` URI for the phone's authenticator) kept as *pending*; ``confirm`` with a
correct code makes it active and answers ten recovery codes, shown once. A lost phone: sign in
with a recovery code, or a manager resets the factor (``reset``) and the user enrols again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import User
from cloud.models.accounts import SECOND_FACTOR_ROLES
from cloud.services.personal_data import PersonalData

STEP_S = 30  # RFC 6238's default time step; authenticator apps assume it
DRIFT_STEPS = 1  # a phone's clock a step (30 s) either way still signs in
RECOVERY_CODES = 10
ISSUER = "Scenic ticket office"


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an authenticator by hand
    uri: str  # otpauth:// for a QR code


def enrol(session: Session, user: User, pd: PersonalData) -> Enrolment:
    """A new pending secret for ``user`` (422 ``second_factor_not_allowed`` for other roles
    than manager and finance); the active one, if any, stays until ``confirm``."""
    if user.role not in SECOND_FACTOR_ROLES:
        raise Problem(Code.SECOND_FACTOR_NOT_ALLOWED)
    secret = pyotp.random_base32()
    user.totp_pending = pd.seal(secret)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm(session: Session, user: User, pd: PersonalData, code: str, now: datetime) -> list[str]:
    """Activate the pending secret if ``code`` is right for it (else 401
    ``bad_second_factor``); the new recovery codes, to show once."""
    if user.totp_pending is None:
        raise Problem(Code.BAD_SECOND_FACTOR)
    step = _matching_step(pd.open(user.totp_pending), code, now, after=None)
    if step is None:
        raise Problem(Code.BAD_SECOND_FACTOR)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    user.totp_secret, user.totp_pending = user.totp_pending, None
    user.totp_last_step = step
    user.totp_recovery = [_digest(c) for c in codes]
    session.flush()
    return codes


def required(user: User) -> bool:
    return user.totp_secret is not None


def check(
    session: Session, user_id: int, pd: PersonalData, code: str | None, now: datetime
) -> str | None:
    """At sign-in, after the password: nothing to do for an account without a factor;
    else ``code`` must be a fresh one-time code or an unused recovery code (401
    ``second_factor_required`` / ``bad_second_factor``). Reads the account under a row lock
    (on SQLite the transaction holds the write lock already), so two sign-ins cannot both
    spend the same code. Returns "totp" or "recovery" (for the audit log), None if no factor."""
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None or user.totp_secret is None:
        return None
    if not code:
        raise Problem(Code.SECOND_FACTOR_REQUIRED)
    code = code.strip().replace(" ", "")
    step = _matching_step(pd.open(user.totp_secret), code, now, after=user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return "totp"
    remaining = list(user.totp_recovery or [])
    if _digest(code.lower()) in remaining:
        remaining.remove(_digest(code.lower()))
        user.totp_recovery = remaining
        return "recovery"
    raise Problem(Code.BAD_SECOND_FACTOR)


def reset(session: Session, user: User) -> None:
    """A manager clears a user's factor (a lost phone, no recovery code left)."""
    user.totp_secret = user.totp_pending = None
    user.totp_last_step = None
    user.totp_recovery = None
    session.flush()


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step within the drift that ``code`` is for, if it is later than ``after``."""
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_S
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (after is None or step > after) and secrets.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
