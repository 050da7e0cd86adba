"""Staff accounts (员工账号): creating, listing, changing role, disabling; the rules a role and a
password obey.

Never: store a password (only its hash, ``core/security.hash_password``). Sign-in, sessions and
password changes are ``services/staff_sessions.py``.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import MIN_PASSWORD, hash_password
from cloud.models import AuthSession, User
from cloud.models.accounts import ROLES
from keys.keystore import KeyStoreError, check_new_passphrase

_USERNAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")  # 1-64 visible characters, no spaces


def check_role(role: str) -> None:
    """Refuse a role outside ``ROLES`` (422 ``bad_role``)."""
    if role not in ROLES:
        raise Problem(Code.BAD_ROLE, roles=", ".join(ROLES))


def check_new_password(password: str) -> None:
    """Refuse a password shorter than ``MIN_PASSWORD`` characters (422 ``weak_password``), or
    one that is a placeholder, a repeat or a keyboard run (the key passphrases' rule,
    keys/keystore.check_new_passphrase: ``password12`` and ``aaaaaaaaaaaa`` open no till)."""
    if len(password) < MIN_PASSWORD:
        raise Problem(Code.WEAK_PASSWORD, least=MIN_PASSWORD)
    try:
        check_new_passphrase(password, MIN_PASSWORD)
    except KeyStoreError:
        raise Problem(Code.GUESSABLE_PASSWORD) from None


def check_username(username: str) -> None:
    """Refuse an empty name, or one with spaces or control characters (422 ``bad_username``):
    a name is typed at a till and shown in the audit log, and "   " is nobody."""
    if not _USERNAME.fullmatch(username):
        raise Problem(Code.BAD_USERNAME)


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """A new active account; 409 ``duplicate_user`` if the username is taken."""
    check_username(username)
    check_role(role)
    check_new_password(password)
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Problem(Code.DUPLICATE_USER, username=username) from None
    return user


def user_named(session: Session, username: str) -> User:
    """The account, or 404 naming a user."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise not_found(Thing.USER)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def change_user(
    session: Session, username: str, *, role: str | None = None, active: bool | None = None
) -> tuple[User, int]:
    """A new role and/or enabled state for an account; disabling or demoting ends every
    session of the user at once (how many is returned). The last active manager can be
    neither disabled nor demoted (409 ``last_manager``): nobody could manage staff after."""
    if role is not None:
        check_role(role)
    user = user_named(session, username)
    new_role = user.role if role is None else role
    new_active = user.active if active is None else active
    losing_manager = (
        user.role == "manager" and user.active and (new_role != "manager" or not new_active)
    )
    if losing_manager:
        managers = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "manager", User.active.is_(True), User.id != user.id)
        )
        if not managers:
            raise Problem(Code.LAST_MANAGER)
    result = session.execute(
        update(User)
        .where(User.id == user.id, User.role == user.role, User.active == user.active)
        .values(role=new_role, active=new_active)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.USER_CHANGED)
    ended = 0
    if new_role != user.role or not new_active:
        ended = int(
            session.execute(delete(AuthSession).where(AuthSession.user_id == user.id)).rowcount  # type: ignore[attr-defined]
        )
    session.refresh(user)
    return user, ended
