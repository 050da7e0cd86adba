"""Staff sign-in and sign-out: a bearer token for a username and password, throttled per
username and per address; logout, a manager revoking a user's sessions, password changes.

The sign-in's steps (throttle first, the hash outside any transaction, the second factor) are
services/staff_sign_in.py's, shared with the dashboard's sign-in form; the password change
counts its attempts with the same throttle.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from sqlalchemy import select

from cloud.api.deps import Context, SeenLocks, Source, Staff, bearer_token, role, staff
from cloud.api.schemas import Login, PasswordChange, SessionsEnded, TokenOut, WhoAmI
from cloud.core.errors import Code, Problem, Thing, not_found
from cloud.core.security import check_password
from cloud.models import User
from cloud.services import login_throttle, staff_sessions, staff_sign_in
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong username or password"},
    429: {"description": "Too many failed attempts; wait Retry-After seconds"},
}


@router.post("/token", response_model=TokenOut, responses=REFUSED)
def sign_in(body: Login, ctx: Context, where: Source, seen: SeenLocks) -> TokenOut:
    signed = staff_sign_in.sign_in(
        ctx.sessions,
        ctx.pd,
        ctx.api,
        seen,
        body.username,
        body.password,
        body.totp,
        where,
        ctx.clock.now(),
    )
    return TokenOut(access_token=signed.token, role=signed.role, expires_at=signed.expires_at)


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
    seen: SeenLocks,
) -> Response:
    """The signed-in user sets a new password, giving the current one (throttled like a
    sign-in); every session of the user ends, this one too: sign in again."""
    subjects = staff_sign_in.subjects(ctx.pd, who.username, where)
    with ctx.sessions.begin() as db:
        account = staff_sign_in.admitted(db, seen, subjects, who.username, ctx.clock.now())
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
