"""The gate's memory of who walked through, and the outbox that carries it to the cloud.

SQLite in WAL mode with ``synchronous=FULL``: ``record_use`` returns only once the use is on
disk, and only then does the node tell the gate controller to open. A power cut at any instant
therefore leaves either no use (the lane never opened) or a recorded use. If the controller
reports that nobody passed (EV_TIMEOUT), ``roll_back`` marks the unused passages: the row is
kept (what happened at a gate is evidence) but no longer counts as an entry. (DESIGN.md:
TinyDB rewrote its whole file per insert, 17.5 s for 3,000; SQLite WAL took 0.14 s.)

**Outbox.** Every change here also appends an event (use, passage, rollback, denial, alarm,
heartbeat; and ``face_bind``, a first-entry face binding sealed to the cloud) to the
``outbox`` table *in the same transaction*, so the record and the report of it can never
disagree. Events carry a per-node sequence number (AUTOINCREMENT: never reused,
even after rows are deleted); uplink.py publishes them in order, and an event leaves the outbox
only when the cloud's signed acknowledgement says it is stored (a broker's PUBACK is not
enough: a broker killed before it saves or forwards loses what it acknowledged). The cloud
stores events idempotently on (node, seq), so a resend after any crash counts nothing twice.

**Peers.** Uses from other gates of the site arrive by gossip and are stored in the same
``uses`` table under their own node id; (node, seq) makes the set grow-only and a repeated
delivery harmless. ``merge_peer_use`` reports a ticket used beyond its allowance across gates
(possible only while gates were partitioned) as a double entry.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2

from keys.clock import SYSTEM, Clock
from keys.rules import PriorUse

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uses (
    node        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    ticket_id   BLOB    NOT NULL,
    at_ms       INTEGER NOT NULL,   -- Unix milliseconds, UTC
    direction   TEXT    NOT NULL,   -- in | out
    granted     INTEGER NOT NULL,   -- passages allowed by this use (group size)
    passed      INTEGER NOT NULL DEFAULT 0,
    rolled_back INTEGER NOT NULL DEFAULT 0,  -- passages given back (nobody came)
    allowed     INTEGER NOT NULL DEFAULT 1,  -- the ticket's entries (0: unlimited)
    PRIMARY KEY (node, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uses_by_ticket ON uses (ticket_id);
CREATE TABLE IF NOT EXISTS denials (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    ticket_id BLOB
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL,
    body   BLOB    NOT NULL   -- CBOR map, the event's data
);
"""


@dataclass(frozen=True, slots=True)
class Use:
    """One use of a ticket at a gate (this one or a peer), as the ledger holds it."""

    node: str
    seq: int
    ticket_id: bytes
    at: datetime
    direction: str
    granted: int
    passed: int
    rolled_back: int
    allowed: int = 1

    @property
    def counts(self) -> bool:
        """Whether this use is an entry: some of its passages were not given back."""
        return self.granted - self.rolled_back > 0


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event waiting in the outbox for the cloud's acknowledgement (module docstring)."""

    seq: int
    kind: str
    at_ms: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DoubleEntry:
    """A ticket counted beyond its allowance once peers' uses were merged."""

    ticket_id: bytes
    entries: int
    allowed: int
    nodes: tuple[str, ...]


class Ledger:
    """The gate's durable memory (SQLite, WAL, synchronous=FULL): uses, denials, peers' uses,
    and the outbox that reports each of them to the cloud.

    A use is on disk before ``record_use`` returns, so the lane opens only for a recorded use.
    Never deletes what happened at a gate (a roll-back marks the use, it does not remove it),
    and never lets a record and its outbox event part: both go in one transaction."""

    def __init__(self, path: Path, node: str, clock: Clock = SYSTEM) -> None:
        """``clock`` dates what has no instant of its own: passages, roll-backs, cloud acks."""
        self.node = node
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- this gate's own records (each with its outbox event, in one transaction) ---------------

    def record_use(
        self,
        ticket_id: bytes,
        at: datetime,
        direction: str = "in",
        granted: int = 1,
        allowed: int = 1,
    ) -> int:
        """Write a use durably and return its per-node sequence number. Call before opening."""
        with self._transaction():
            (last,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM uses WHERE node = ?", (self.node,)
            ).fetchone()
            seq = int(last) + 1
            self._db.execute(
                "INSERT INTO uses (node, seq, ticket_id, at_ms, direction, granted, allowed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.node, seq, ticket_id, _ms(at), direction, granted, allowed),
            )
            self._emit(
                "use",
                at,
                {
                    "use": seq,
                    "ticket": ticket_id,
                    "dir": direction,
                    "granted": granted,
                    "allowed": allowed,
                },
            )
        return seq

    def record_passage(self, seq: int, at: datetime | None = None) -> None:
        """One person of this use went through (EV_PASSAGE)."""
        with self._transaction():
            self._db.execute(
                "UPDATE uses SET passed = MIN(granted, passed + 1) WHERE node = ? AND seq = ?",
                (self.node, seq),
            )
            direction = self._direction_of(seq)
            self._emit("passage", at or self._clock.now(), {"use": seq, "dir": direction})

    def roll_back(self, seq: int, unused: int, at: datetime | None = None) -> None:
        """``unused`` passages of this use never happened (EV_TIMEOUT): give them back."""
        with self._transaction():
            self._db.execute(
                "UPDATE uses SET rolled_back = MIN(granted - passed, rolled_back + ?)"
                " WHERE node = ? AND seq = ?",
                (unused, self.node, seq),
            )
            self._emit("rollback", at or self._clock.now(), {"use": seq, "unused": unused})

    def unsettled(self) -> list[tuple[int, int]]:
        """This gate's uses whose passages were neither all made nor given back: (seq,
        passages outstanding). After a power cut, the use the lane was open for."""
        rows = self._db.execute(
            "SELECT seq, granted - passed - rolled_back FROM uses"
            " WHERE node = ? AND passed + rolled_back < granted ORDER BY seq",
            (self.node,),
        ).fetchall()
        return [(int(seq), int(unused)) for seq, unused in rows]

    def record_denial(self, at: datetime, reason: str, ticket_id: bytes | None) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO denials (at_ms, reason, ticket_id) VALUES (?, ?, ?)",
                (_ms(at), reason, ticket_id),
            )
            self._emit("denial", at, {"reason": reason, "ticket": ticket_id})

    def record_alarm(self, at: datetime, alarm: str, arg: int = 0, **details: Any) -> None:
        with self._transaction():
            self._emit("alarm", at, {"alarm": alarm, "arg": arg, **details})

    def record_face_bind(self, at: datetime, sealed: bytes) -> None:
        """A face bound at a pass's first entry, sealed to the cloud's face key
        (keys/face_binding.py): the outbox carries it, the ledger itself keeps no face."""
        with self._transaction():
            self._emit("face_bind", at, {"sealed": sealed})

    def record_heartbeat(self, at: datetime, **status: Any) -> None:
        with self._transaction():
            self._emit("heartbeat", at, status)

    # -- peers ------------------------------------------------------------------------------------

    def merge_peer_use(self, use: Use) -> DoubleEntry | bool:
        """Store a peer gate's use. False if already known (grow-only set on (node, seq)),
        a ``DoubleEntry`` if the ticket now has more entries than it allows, else True."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO uses (node, seq, ticket_id, at_ms, direction, granted,"
                " passed, rolled_back, allowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    use.node,
                    use.seq,
                    use.ticket_id,
                    _ms(use.at),
                    use.direction,
                    use.granted,
                    use.passed,
                    use.rolled_back,
                    use.allowed,
                ),
            )
            if cursor.rowcount != 1:
                return False
            entries, allowed, nodes = self._db.execute(
                "SELECT COUNT(*), MAX(allowed), GROUP_CONCAT(DISTINCT node) FROM uses"
                " WHERE ticket_id = ? AND direction = 'in' AND granted - rolled_back > 0",
                (use.ticket_id,),
            ).fetchone()
        if allowed and entries > allowed:
            return DoubleEntry(use.ticket_id, entries, allowed, tuple(sorted(nodes.split(","))))
        return True

    def update_peer_use(self, node: str, seq: int, passed: int, rolled_back: int) -> None:
        """A peer's later passage or rollback for a use already merged."""
        with self._transaction():
            self._db.execute(
                "UPDATE uses SET passed = MAX(passed, ?), rolled_back = MAX(rolled_back, ?)"
                " WHERE node = ? AND seq = ?",
                (passed, rolled_back, node, seq),
            )

    # -- reading ----------------------------------------------------------------------------------

    def prior_uses(self, ticket_id: bytes) -> list[PriorUse]:
        """Earlier entries (direction in) with this ticket at any gate of the site, oldest
        first; uses whose passages were all given back do not count."""
        rows = self._db.execute(
            "SELECT at_ms, node, granted - rolled_back FROM uses"
            " WHERE ticket_id = ? AND direction = 'in' AND granted - rolled_back > 0"
            " ORDER BY at_ms",
            (ticket_id,),
        ).fetchall()
        return [PriorUse(_from_ms(at), node, passages) for at, node, passages in rows]

    def uses(self, node: str | None = None) -> list[Use]:
        query = "SELECT * FROM uses" + (" WHERE node = ?" if node else "") + " ORDER BY node, seq"
        rows = self._db.execute(query, (node,) if node else ()).fetchall()
        return [Use(r[0], r[1], r[2], _from_ms(r[3]), r[4], r[5], r[6], r[7], r[8]) for r in rows]

    def counts(self) -> dict[str, int]:
        own, peers, rolled, denied, outbox = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM uses WHERE node = ?),"
            " (SELECT COUNT(*) FROM uses WHERE node != ?),"
            " (SELECT COUNT(*) FROM uses WHERE node = ? AND rolled_back > 0),"
            " (SELECT COUNT(*) FROM denials),"
            " (SELECT COUNT(*) FROM outbox)",
            (self.node, self.node, self.node),
        ).fetchone()
        return {
            "uses": own,
            "peer_uses": peers,
            "rolled_back": rolled,
            "denials": denied,
            "outbox": outbox,
        }

    # -- the outbox, for uplink.py ----------------------------------------------------------------

    def event(self, seq: int) -> OutboxEvent | None:
        row = self._db.execute(
            "SELECT seq, kind, at_ms, body FROM outbox WHERE seq = ?", (seq,)
        ).fetchone()
        return OutboxEvent(row[0], row[1], row[2], cbor2.loads(row[3])) if row else None

    def pending_events(self, after: int = 0, limit: int = 100) -> list[OutboxEvent]:
        """Unacknowledged events after sequence ``after``, oldest first."""
        rows = self._db.execute(
            "SELECT seq, kind, at_ms, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        return [OutboxEvent(seq, kind, at, cbor2.loads(body)) for seq, kind, at, body in rows]

    def acknowledge(self, seqs: list[int]) -> None:
        """The cloud has stored these events (its signed ack): they may leave the outbox."""
        if not seqs:
            return
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_cloud_ack', ?)",
                (self._clock.now().isoformat(timespec="seconds"),),
            )

    def last_cloud_ack(self) -> str | None:
        """When the cloud last confirmed it stored events from this gate (ISO, UTC)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_cloud_ack'").fetchone()
        return str(row[0]) if row else None

    # -- internals --------------------------------------------------------------------------------

    def _emit(self, kind: str, at: datetime, data: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO outbox (kind, at_ms, body) VALUES (?, ?, ?)",
            (kind, _ms(at), cbor2.dumps(data)),
        )

    def _direction_of(self, seq: int) -> str:
        row = self._db.execute(
            "SELECT direction FROM uses WHERE node = ? AND seq = ?", (self.node, seq)
        ).fetchone()
        return str(row[0]) if row else "in"

    def _transaction(self) -> sqlite3.Connection:
        # sqlite3's context manager commits on success and rolls back on error; with
        # isolation_level=None we open the transaction ourselves so it is IMMEDIATE (the write
        # lock is taken up front: no upgrade deadlock with a reader in another thread).
        self._db.execute("BEGIN IMMEDIATE")
        return self._db


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
