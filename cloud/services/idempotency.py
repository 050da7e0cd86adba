"""Idempotency-Keys (幂等键): a change asked for twice is made once, and the retry gets the first
answer.

Never: replay an answer to a caller other than the one it was stored for (keys belong to a
route and a caller), or store a secret in an answer an anonymous retry could get back.
The answer is stored in the same transaction as the change it describes, so a crash leaves
either both or neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.errors import Code, Problem
from cloud.models import IdempotencyRecord
from keys.clock import Clock

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


def run_once(
    sessions: sessionmaker[Session],
    clock: Clock,
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
    with sessions.begin() as db:
        earlier = replay_or_none(db, key, route, caller, payload)
        if earlier is not None:
            return earlier.response, True
    try:
        with sessions.begin() as db:
            answer = produce(db)
            remember(db, key, route, caller, payload, 200, answer, clock.now())
    except IntegrityError:
        if key is None:
            raise
        with sessions.begin() as db:
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
