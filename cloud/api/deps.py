"""Typed request dependencies: the context, a session per request, who is asking and from where."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.api.client import client_address
from cloud.api.context import CloudContext
from cloud.core.errors import Code, Problem
from cloud.core.security import token_hash
from cloud.models import ApiKey, IdempotencyRecord
from cloud.services import staff_sessions


def context(request: Request) -> CloudContext:
    ctx: CloudContext = request.app.state.context
    return ctx


Context = Annotated[CloudContext, Depends(context)]


def session(ctx: Context) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with ctx.sessions.begin() as db:
        yield db


DB = Annotated[Session, Depends(session)]


def source(request: Request, ctx: Context) -> str:
    """Where the request came from, for the audit log and the login throttle: the peer, or
    what a trusted proxy says (api/client.py; SCENIC_TRUSTED_PROXIES)."""
    return client_address(request.scope, ctx.api.trusted_proxies)


Source = Annotated[str, Depends(source)]


@dataclass(frozen=True)
class Staff:
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


ANONYMOUS = "anonymous"


def replay_or_none(
    db: Session, key: str | None, route: str, caller: str, payload: Any
) -> IdempotencyRecord | None:
    """The stored answer for this caller's Idempotency-Key on this route, if the same request
    came before; a different request under the same key is refused (409)."""
    if key is None:
        return None
    if not 8 <= len(key) <= 80:
        raise Problem(Code.BAD_IDEMPOTENCY_KEY)
    record = db.get(IdempotencyRecord, scoped_key(route, caller, key))
    if record is None:
        return None
    if record.route != route or record.request_hash != request_hash(payload):
        raise Problem(Code.IDEMPOTENCY_KEY_REUSED)
    return record


def remember(
    db: Session,
    key: str | None,
    route: str,
    caller: str,
    payload: Any,
    status: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    if key is not None:
        db.add(
            IdempotencyRecord(
                key=scoped_key(route, caller, key),
                route=route,
                request_hash=request_hash(payload),
                status_code=status,
                response=response,
                created_at=now,
            )
        )


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
    """Run a mutation once per Idempotency-Key: ``produce`` runs in a transaction that also
    stores its answer; a retry (even a concurrent one) gets that answer back. Returns the
    answer and whether it is a replay (then nothing was done now).

    Keys belong to a route and a caller, and the caller is authorised before this is called,
    so a stored answer goes back only to whoever could have asked for it:

    - ``caller`` is ``Staff.scope`` (``staff:<user id>``), ``partner:<api key id>``,
      ``buyer:<order no>`` for a buyer who showed that order's token, or ``ANONYMOUS``.
    - An anonymous caller (a buyer creating an order) has nothing to be told apart by, so
      there the key alone decides, and whoever sends it with the same body gets the stored
      answer. That answer must therefore hold nothing secret: routes never store a secret in
      it, and an anonymous replay must not add one (routes/orders.py gives the order's access
      token only in the answer that created the order). Idempotency keys travel in headers,
      which proxies log; they are no credential.
    """
    with ctx.sessions.begin() as db:
        earlier = replay_or_none(db, key, route, caller, payload)
        if earlier is not None:
            return earlier.response, True
    try:
        with ctx.sessions.begin() as db:
            answer = produce(db)
            remember(db, key, route, caller, payload, 200, answer, ctx.clock.now())
    except IntegrityError:
        if key is None:
            raise
        with ctx.sessions.begin() as db:
            earlier = replay_or_none(db, key, route, caller, payload)
        if earlier is None:
            raise
        return earlier.response, True
    return answer, False


def scoped_key(route: str, caller: str, key: str) -> str:
    """The stored key: SHA-256 of route, caller and the client's key (64 hex digits, within
    the column's 80), so one caller's key never finds another caller's answer."""
    return hashlib.sha256(f"{route}\n{caller}\n{key}".encode()).hexdigest()


def request_hash(payload: Any) -> bytes:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).digest()
