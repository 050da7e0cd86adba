"""Staff sign-in and sign-out: a bearer token for a username and password, throttled per
username and per address; logout, a manager revoking a user's sessions, password changes.

A sign-in runs in three steps so that no database connection waits on the password hash
(about 40 ms of CPU): count the attempt (services/login_throttle.py; a locked username or
address is refused here with 429 and Retry-After, before any hash), check the password
outside any transaction (against a dummy for unknown users, so they take as long), record
the outcome.

The audit log names the account only when it exists: an unknown "username" is often a
password typed into the wrong field, so it is logged as ``UNKNOWN_USER`` with the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.deps import Context, Source, Staff, bearer_token, role, staff
from cloud.api.schemas import Login, PasswordChange, SessionsEnded, TokenOut, WhoAmI
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import check_password
from cloud.models import User
from cloud.services import login_throttle, second_factor, staff_sessions
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
UNKNOWN_USER = "(unknown user)"
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong username or password"},
    429: {"description": "Too many failed attempts; wait Retry-After seconds"},
}


@dataclass(frozen=True)
class _Account:
    id: int
    username: str
    role: str
    password_hash: str
    active: bool


@router.post("/token", response_model=TokenOut, responses=REFUSED)
def sign_in(body: Login, ctx: Context, where: Source, request: Request) -> TokenOut:
    subjects = _subjects(ctx, body.username, where)
    seen = _seen_locks(request)
    with ctx.sessions.begin() as db:
        account = _admitted(db, ctx, seen, subjects, body.username)
    ok = check_password(body.password, account.password_hash if account else None)
    ok = ok and account is not None and account.active
    now = ctx.clock.now()
    if not ok or account is None:
        with ctx.sessions.begin() as db:
            actor = account.username if account else UNKNOWN_USER
            audit(db, actor, where, "login_failed", "auth", at=now)
        raise Problem(Code.BAD_CREDENTIALS)
    try:
        with ctx.sessions.begin() as db:
            factor = second_factor.check(db, account.id, ctx.pd, body.totp, now)
            login_throttle.succeeded(db, subjects, now)
            started = staff_sessions.start(db, account.id, ctx.api, now)
            detail = {"second_factor": factor} if factor else None
            audit(db, account.username, where, "login", "auth", detail, at=now)
    except Problem as refusal:  # a missing or wrong one-time code: the attempt stays counted
        with ctx.sessions.begin() as db:
            audit(db, account.username, where, "login_second_factor_failed", "auth", at=now)
        raise refusal
    return TokenOut(access_token=started.token, role=account.role, expires_at=started.expires_at)


@router.get("/me", response_model=WhoAmI)
def me(who: Annotated[Staff, Depends(staff)]) -> WhoAmI:
    """Who this token signs in (a till shows it; 401 once the session has ended)."""
    return WhoAmI(id=who.id, username=who.username, role=who.role)


@router.post("/logout", status_code=204)
def logout(
    ctx: Context, where: Source, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """This bearer token stops working (any other session of the user goes on)."""
    token = bearer_token(authorization)
    with ctx.sessions.begin() as db:
        who = staff_sessions.user_of(db, token, ctx.api, ctx.clock.now())
        staff_sessions.end(db, token)
        audit(db, who.username, where, "logout", "auth", at=ctx.clock.now())
    return Response(status_code=204)


@router.delete("/users/{username}/sessions", response_model=SessionsEnded)
def revoke_sessions(
    username: str,
    ctx: Context,
    where: Source,
    who: Annotated[Staff, Depends(role("manager"))],
) -> SessionsEnded:
    """A manager ends every session of a user (a lost phone, a till left signed in)."""
    with ctx.sessions.begin() as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise not_found(Thing.USER)
        ended = staff_sessions.revoke_all(db, user.id)
        audit(
            db,
            who.username,
            where,
            "revoke_sessions",
            f"user:{username}",
            {"ended": ended},
            at=ctx.clock.now(),
        )
    return SessionsEnded(ended=ended)


@router.post("/password", status_code=204, responses=REFUSED)
def change_password(
    body: PasswordChange,
    ctx: Context,
    where: Source,
    who: Annotated[Staff, Depends(staff)],
    request: Request,
) -> Response:
    """The signed-in user sets a new password, giving the current one (throttled like a
    sign-in); every session of the user ends, this one too: sign in again."""
    subjects = _subjects(ctx, who.username, where)
    with ctx.sessions.begin() as db:
        account = _admitted(db, ctx, _seen_locks(request), subjects, who.username)
    if account is None or not check_password(body.current_password, account.password_hash):
        with ctx.sessions.begin() as db:
            audit(db, who.username, where, "password_change_failed", "auth", at=ctx.clock.now())
        raise Problem(Code.BAD_CREDENTIALS)
    with ctx.sessions.begin() as db:
        login_throttle.succeeded(db, subjects, ctx.clock.now())
        user = db.get(User, account.id)
        assert user is not None
        ended = staff_sessions.set_password(db, user, body.new_password)
        audit(
            db,
            who.username,
            where,
            "password_changed",
            "auth",
            {"sessions_ended": ended},
            at=ctx.clock.now(),
        )
    return Response(status_code=204)


def _subjects(ctx: Context, username: str, where: str) -> dict[str, str]:
    """What the throttle counts: the username as a keyed hash (never in clear), the address."""
    return {"user": ctx.pd.blind_ref(f"login:{username}"), "address": where}


def _seen_locks(request: Request) -> login_throttle.SeenLocks:
    """This app's memory of locks it has read (one per worker process)."""
    state = request.app.state
    if not hasattr(state, "login_locks"):
        state.login_locks = login_throttle.SeenLocks()
    seen: login_throttle.SeenLocks = state.login_locks
    return seen


def _admitted(
    db: Session,
    ctx: Context,
    seen: login_throttle.SeenLocks,
    subjects: dict[str, str],
    username: str,
) -> _Account | None:
    """Count the attempt, or refuse it with 429: from memory if this worker has seen the lock,
    else from the database (the transaction then rolls back, so a refused attempt counts
    nothing); the account to check the password against, if there is one."""
    now = ctx.clock.now()
    locked = seen.refused(subjects, now) or login_throttle.admit(db, subjects, now)
    if locked:
        seen.learn(locked, now)
        wait = login_throttle.wait_seconds(locked, now)
        raise Problem(Code.TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)}, retry_after=wait)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        return None
    return _Account(user.id, user.username, user.role, user.password_hash, user.active)
