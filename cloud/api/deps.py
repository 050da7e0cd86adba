"""Typed request dependencies: the context, a session per request, who is asking and from where."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.api.client import client_address
from cloud.api.context import CloudContext
from cloud.core.errors import Code, Problem
from cloud.core.security import token_hash
from cloud.models import ApiKey, Member
from cloud.services import login_throttle, members, staff_sessions
from cloud.services.idempotency import run_once


def context(request: Request) -> CloudContext:
    ctx: CloudContext = request.app.state.context
    return ctx


Context = Annotated[CloudContext, Depends(context)]


def session(ctx: Context) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with ctx.sessions.begin() as db:
        yield db


DB = Annotated[Session, Depends(session)]


def member(ctx: Context, db: DB, x_member_token: Annotated[str | None, Header()] = None) -> Member:
    """The member a request acts for (``X-Member-Token``), or 401 (services/members.py)."""
    return members.member_of(db, x_member_token, ctx.clock.now())


Me = Annotated[Member, Depends(member)]


def member_apart(ctx: Context, x_member_token: Annotated[str | None, Header()] = None) -> Member:
    """``member`` read in a transaction of its own, for a route whose change runs in the
    idempotency's transaction (``idempotent``): on SQLite a request transaction held open
    beside that one would wait on itself until the busy timeout."""
    with ctx.sessions.begin() as db:
        return members.member_of(db, x_member_token, ctx.clock.now())


MeApart = Annotated[Member, Depends(member_apart)]


def source(request: Request, ctx: Context) -> str:
    """Where the request came from, for the audit log and the login throttle: the peer, or
    what a trusted proxy says (api/client.py; SCENIC_TRUSTED_PROXIES)."""
    return client_address(request.scope, ctx.api.trusted_proxies)


Source = Annotated[str, Depends(source)]


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member a request acts for (``staff``, ``role``)."""

    id: int
    username: str
    role: str

    @property
    def scope(self) -> str:
        """Whose Idempotency-Keys these are (see ``idempotent``)."""
        return f"staff:{self.id}"


def staff(ctx: Context, authorization: Annotated[str | None, Header()] = None) -> Staff:
    """Who is signed in, checked in a short session of its own that is released before the
    route runs: a request never holds two database connections at once (SQLite runs with one
    pooled connection per process, cloud/db.py)."""
    with ctx.sessions() as db:
        who = staff_of(db, ctx, authorization)
        db.commit()  # the session's last use (idle timeout)
        return who


def staff_of(db: Session, ctx: CloudContext, authorization: str | None) -> Staff:
    """The signed-in staff member for a bearer token, or 401 (services/staff_sessions.py)."""
    token = bearer_token(authorization)
    user = staff_sessions.user_of(db, token, ctx.api, ctx.clock.now())
    return Staff(user.id, user.username, user.role)


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(Code.UNAUTHENTICATED)
    return authorization[7:].strip()


def role(*allowed: str) -> Callable[..., Staff]:
    """A dependency admitting only these roles (a manager is admitted everywhere)."""

    def check(who: Annotated[Staff, Depends(staff)]) -> Staff:
        if who.role != "manager" and who.role not in allowed:
            raise Problem(Code.FORBIDDEN, needs=", ".join(allowed))
        return who

    # Read by tests/cloud/test_permissions.py, which checks every route's roles against its
    # one table of who may call what.
    check.allowed_roles = tuple(dict.fromkeys(("manager", *allowed)))  # type: ignore[attr-defined]
    return check


def partner(db: DB, x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:
    if not x_api_key:
        raise Problem(Code.UNAUTHENTICATED)
    key = db.scalar(
        select(ApiKey).where(ApiKey.key_hash == token_hash(x_api_key), ApiKey.active.is_(True))
    )
    if key is None:
        raise Problem(Code.UNAUTHENTICATED)
    return key


IdempotencyKey = Annotated[
    str | None,
    Header(
        description="Send the same key when retrying: the first answer is repeated, nothing is "
        "done twice"
    ),
]


def idempotent(
    ctx: CloudContext,
    key: str | None,
    route: str,
    payload: Any,
    produce: Callable[[Session], dict[str, Any]],
    *,
    caller: str,
) -> tuple[dict[str, Any], bool]:
    """``services.idempotency.run_once`` on the context's database and clock (its docstring
    says whose keys are whose)."""
    return run_once(ctx.sessions, ctx.clock, key, route, payload, produce, caller=caller)


Answer = TypeVar("Answer", bound=BaseModel)


def idempotent_answer(
    model: type[Answer],
    ctx: CloudContext,
    key: str | None,
    route: str,
    payload: Any,
    produce: Callable[[Session], Answer],
    *,
    caller: str,
) -> tuple[Answer, bool]:
    """``idempotent`` for a route that answers with a response model: ``produce`` returns
    one, it is stored as its JSON, and a replay gets it back as a ``model``; whether this was
    a replay."""
    answer, replayed = idempotent(
        ctx, key, route, payload, lambda db: produce(db).model_dump(mode="json"), caller=caller
    )
    return model.model_validate(answer), replayed


def seen_locks(request: Request) -> login_throttle.SeenLocks:
    """This app's memory of sign-in locks it has read (one per worker process), shared by every
    door that signs staff in (services/login_throttle.SeenLocks)."""
    state = request.app.state
    if not hasattr(state, "login_locks"):
        state.login_locks = login_throttle.SeenLocks()
    seen: login_throttle.SeenLocks = state.login_locks
    return seen


SeenLocks = Annotated[login_throttle.SeenLocks, Depends(seen_locks)]
