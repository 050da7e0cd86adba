"""Staff accounts (员工账号): creating one, and the rules a role and a password obey.

Never: store a password (only its hash, ``core/security.hash_password``). Sign-in, sessions and
password changes are ``services/staff_sessions.py``.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.core.security import MIN_PASSWORD, hash_password
from cloud.models import User
from cloud.models.accounts import ROLES


def check_role(role: str) -> None:
    """Refuse a role outside ``ROLES`` (422 ``bad_role``)."""
    if role not in ROLES:
        raise Problem(Code.BAD_ROLE, roles=", ".join(ROLES))


def check_new_password(password: str) -> None:
    """Refuse a password shorter than ``MIN_PASSWORD`` characters (422 ``weak_password``)."""
    if len(password) < MIN_PASSWORD:
        raise Problem(Code.WEAK_PASSWORD, least=MIN_PASSWORD)


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """A new active account; 409 ``duplicate_user`` if the username is taken."""
    check_role(role)
    check_new_password(password)
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Problem(Code.DUPLICATE_USER, username=username) from None
    return user
