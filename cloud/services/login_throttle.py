"""Failed sign-ins counted in the database, per username and per source address, so that every
worker refuses the same guesser; a refusal costs no password hash, and once a worker has seen
the lock, not even a database round trip.

Never: compute a password hash for an attempt this module refused, or count a refused attempt.

The rules, one row per (scope, subject):

- An attempt is counted as a failure *before* its password is checked, in one conditional
  UPDATE per row, so fifty concurrent guesses cannot all pass while the first is still being
  hashed. A correct password takes its count back: the username's row is cleared, the
  address's count goes down by one (and its lock goes once it is under the limit).
- From the LIMIT-th counted failure on, the row is locked: 30 s, doubling with every further
  failure, at most 15 minutes (5 for a username; 20 for an address, because a ticket office
  whose tills share one address must not lock itself out over a few typos).
- Attempts while locked are refused (429 with Retry-After) and not counted, so knocking on a
  locked account does not lengthen its lock; the transaction that refuses is rolled back.
  Each worker remembers the locks it has read (``SeenLocks``) and refuses further knocks from
  memory (bench/login_guessing.py: of 300 guesses at concurrency 50, 5 are checked, 295 refused,
  and the guessing is over in 2-4 s instead of 53-61 s of password hashing).
- QUIET minutes without a failure forget the count; rows that old are pruned on a success.

Locking a username lets anyone keep that member of staff out for up to 15 minutes at a time:
the price of refusing unlimited guesses, bounded by the back-off's ceiling. The username is
kept only as a keyed hash (the caller passes ``PersonalData.blind_ref``), so a password typed
into the username field is not stored in a form anyone could guess offline.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud.models import LoginThrottle
from cloud.models.base import as_utc

LIMITS = {"address": 20, "user": 5, "enrol": 10}  # counted failures before the first lock
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)
QUIET = timedelta(minutes=15)


def lock_for(failures_over: int) -> timedelta:
    """How long a row stays locked after its limit + ``failures_over`` failures."""
    lock: timedelta = FIRST_LOCK * 2 ** min(failures_over, 16)
    return min(LONGEST_LOCK, lock)


Locks = dict[tuple[str, str], datetime]  # (scope, subject) -> locked until


def admit(session: Session, subjects: dict[str, str], now: datetime) -> Locks:
    """Count this attempt against each ``scope: subject``; the rows that are locked (empty:
    go ahead and check the password). On a refusal the caller rolls back."""
    locked: Locks = {}
    for scope, subject in sorted(subjects.items()):  # one order everywhere: no deadlock
        _ensure_row(session, scope, subject, now)
        this = and_(LoginThrottle.scope == scope, LoginThrottle.subject == subject)
        result = session.execute(
            update(LoginThrottle)
            .where(
                this, or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now)
            )
            .values(
                failures=case(
                    (LoginThrottle.last_failure_at < now - QUIET, 1),
                    else_=LoginThrottle.failures + 1,
                ),
                last_failure_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        counted = result.rowcount  # type: ignore[attr-defined]
        row = session.execute(
            select(LoginThrottle.failures, LoginThrottle.locked_until).where(this)
        ).one()
        if counted == 0:
            locked[scope, subject] = as_utc(row.locked_until)
        elif row.failures >= LIMITS[scope]:
            session.execute(
                update(LoginThrottle)
                .where(this)
                .values(locked_until=now + lock_for(row.failures - LIMITS[scope]))
                .execution_options(synchronize_session=False)
            )
    return locked


def wait_seconds(locked: Locks, now: datetime) -> int:
    """Retry-After for a refusal: until the last of these locks ends (at least 1 s)."""
    return max(1, math.ceil(max((until - now).total_seconds() for until in locked.values())))


class SeenLocks:
    """Locks this worker has already read from the database, so that a guesser knocking on a
    locked username or address is refused from memory: no connection, no write, no hash.

    The database stays the authority: a lock is learnt from it and remembered until the end it
    gave, never longer (a success elsewhere that lifted an address lock early is learnt only
    when this copy ends). At most ``size`` entries; past that, expired ones are dropped and
    then everything (the next attempts ask the database again).
    """

    def __init__(self, size: int = 10_000) -> None:
        self._until: Locks = {}
        self._size = size
        self._mutex = threading.Lock()

    def refused(self, subjects: dict[str, str], now: datetime) -> Locks:
        """The remembered locks among ``subjects`` that still hold at ``now``."""
        with self._mutex:
            return {
                key: until
                for key in subjects.items()
                if (until := self._until.get(key)) is not None and until > now
            }

    def learn(self, locked: Locks, now: datetime) -> None:
        with self._mutex:
            self._until.update(locked)
            if len(self._until) > self._size:
                self._until = {k: u for k, u in self._until.items() if u > now}
                if len(self._until) > self._size:
                    self._until = {}


def succeeded(session: Session, subjects: dict[str, str], now: datetime) -> None:
    """The password was right: give back what ``admit`` counted, and prune forgotten rows."""
    for scope, subject in sorted(subjects.items()):
        this = and_(LoginThrottle.scope == scope, LoginThrottle.subject == subject)
        values: dict[str, Any]
        if scope == "user":
            values = {"failures": 0, "locked_until": None}
        else:
            values = {
                "failures": case((LoginThrottle.failures > 0, LoginThrottle.failures - 1), else_=0),
                "locked_until": case(
                    (LoginThrottle.failures - 1 < LIMITS[scope], None),
                    else_=LoginThrottle.locked_until,
                ),
            }
        session.execute(
            update(LoginThrottle)
            .where(this)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.last_failure_at < now - QUIET,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
        .execution_options(synchronize_session=False)
    )


def _ensure_row(session: Session, scope: str, subject: str, now: datetime) -> None:
    """The row exists afterwards; a concurrent insert of the same row is not an error."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(scope=scope, subject=subject, failures=0, last_failure_at=now)
        .on_conflict_do_nothing()
    )
