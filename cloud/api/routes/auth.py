"""Staff sign-in: a bearer token for a username and password; failures are audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select

from cloud.api.deps import Context, Source
from cloud.api.schemas import Login, TokenOut
from cloud.core.errors import Problem
from cloud.core.security import check_password, new_token, token_hash
from cloud.models import AuthSession, User
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
SESSION_HOURS = 12  # one working day at the window


@router.post("/token", response_model=TokenOut)
def sign_in(body: Login, ctx: Context, where: Source) -> TokenOut:
    with ctx.sessions.begin() as db:
        user = db.scalar(select(User).where(User.username == body.username))
        if user is None or not user.active or not check_password(body.password, user.password_hash):
            audit(db, body.username, where, "login_failed", "auth", at=ctx.clock.now())
            failed = True
        else:
            token, expires = new_token(), ctx.clock.now() + timedelta(hours=SESSION_HOURS)
            db.add(AuthSession(token_hash=token_hash(token), user_id=user.id, expires_at=expires))
            audit(db, user.username, where, "login", "auth", at=ctx.clock.now())
            failed, role = False, user.role
    if failed:
        raise Problem(401, "bad_credentials", "Wrong username or password", "用户名或密码错误")
    return TokenOut(access_token=token, role=role, expires_at=expires)
