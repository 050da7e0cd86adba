"""The gate's memory of who walked through: durable uses, written before the lane opens.

SQLite in WAL mode with ``synchronous=FULL``: ``record_use`` returns only once the use is on
disk, and only then does the node tell the gate controller to open. A power cut at any instant
therefore leaves either no use (the lane never opened) or a recorded use. If the controller
reports that nobody passed (EV_TIMEOUT), ``roll_back`` marks the unused passages: the row is
kept (what happened at a gate is evidence) but no longer counts as an entry. (DESIGN.md:
TinyDB rewrote its whole file per insert, 17.5 s for 3,000; SQLite WAL took 0.14 s.)

Uses from peer gates at the same site arrive over the site broker and are stored in the same
table under their own node id; the key (node, seq) makes the set grow-only and a repeated
delivery harmless (``merge_peer_use``). This module never decides anything: it records and
answers "which earlier uses does this ticket have".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gate_node.decision.rules import PriorUse

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
    PRIMARY KEY (node, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uses_by_ticket ON uses (ticket_id);
CREATE TABLE IF NOT EXISTS denials (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    ticket_id BLOB
);
"""


@dataclass(frozen=True, slots=True)
class Use:
    node: str
    seq: int
    ticket_id: bytes
    at: datetime
    direction: str
    granted: int
    passed: int
    rolled_back: int

    @property
    def counts(self) -> bool:
        """Whether this use is an entry: some of its passages were not given back."""
        return self.granted - self.rolled_back > 0


class Ledger:
    def __init__(self, path: Path, node: str) -> None:
        self.node = node
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record_use(
        self, ticket_id: bytes, at: datetime, direction: str = "in", granted: int = 1
    ) -> int:
        """Write a use durably and return its per-node sequence number. Call before opening."""
        with self._transaction():
            (last,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM uses WHERE node = ?", (self.node,)
            ).fetchone()
            seq = int(last) + 1
            self._db.execute(
                "INSERT INTO uses (node, seq, ticket_id, at_ms, direction, granted)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.node, seq, ticket_id, _ms(at), direction, granted),
            )
        return seq

    def record_passage(self, seq: int) -> None:
        """One person of this use went through (EV_PASSAGE)."""
        with self._transaction():
            self._db.execute(
                "UPDATE uses SET passed = MIN(granted, passed + 1) WHERE node = ? AND seq = ?",
                (self.node, seq),
            )

    def roll_back(self, seq: int, unused: int) -> None:
        """``unused`` passages of this use never happened (EV_TIMEOUT): give them back."""
        with self._transaction():
            self._db.execute(
                "UPDATE uses SET rolled_back = MIN(granted - passed, rolled_back + ?)"
                " WHERE node = ? AND seq = ?",
                (unused, self.node, seq),
            )

    def record_denial(self, at: datetime, reason: str, ticket_id: bytes | None) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO denials (at_ms, reason, ticket_id) VALUES (?, ?, ?)",
                (_ms(at), reason, ticket_id),
            )

    def merge_peer_use(self, use: Use) -> bool:
        """Store a peer gate's use; False if already known (grow-only set on (node, seq))."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO uses"
                " (node, seq, ticket_id, at_ms, direction, granted, passed, rolled_back)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    use.node,
                    use.seq,
                    use.ticket_id,
                    _ms(use.at),
                    use.direction,
                    use.granted,
                    use.passed,
                    use.rolled_back,
                ),
            )
        return cursor.rowcount == 1

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
        return [Use(r[0], r[1], r[2], _from_ms(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def counts(self) -> dict[str, int]:
        own, peers, rolled, denied = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM uses WHERE node = ?),"
            " (SELECT COUNT(*) FROM uses WHERE node != ?),"
            " (SELECT COUNT(*) FROM uses WHERE node = ? AND rolled_back > 0),"
            " (SELECT COUNT(*) FROM denials)",
            (self.node, self.node, self.node),
        ).fetchone()
        return {"uses": own, "peer_uses": peers, "rolled_back": rolled, "denials": denied}

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
