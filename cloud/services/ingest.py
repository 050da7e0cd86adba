"""Storing what gates report: verify each event, store it once, apply its effects, atomically.

``Ingest.process(messages)`` takes a batch of (topic, payload) as received from the broker and,
in one database transaction:

1. verifies each payload as a gate event signed by the key the device registry holds for the
   node the topic names; unknown or revoked nodes, bad signatures, and events whose signed
   site/node differ from the topic are refused (and kept in ``refused_events``);
2. inserts the events with ON CONFLICT DO NOTHING on (site, node, seq), so a replay after any
   crash or resend adds nothing;
3. applies the effects of the *newly* inserted ones only: passages counted per site and
   site-local day (entries in, exits out: the live in-park count), alarms opened for the
   dashboard (services/alarms.py), and face bindings made at a gate's first entry recorded,
   the site's first winning (services/face_binding.py; they come on the node's ``face``
   topic, every other kind on ``event``, and an event on the other one is refused).

Face bindings need the cloud's face key (``BindingKeys``); without one they are stored as
events only (sealed), and counted in ``BatchResult.faces`` as ``no_face_key``. The signed
``faces`` deltas a winning binding makes are in ``BatchResult.published``, for the caller to
publish after the commit.

The caller acknowledges the messages to the broker, and the nodes (signed acks), only after
this returns, i.e. after the commit: a crash before it means the broker and the nodes send
again, and step 2 makes that harmless.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import Device, GateEventRecord, ParkCount, RefusedEvent
from cloud.services.alarms import open_alarms
from cloud.services.face_binding import BindingKeys, record
from cloud.services.face_enrolment import Published
from keys import topics
from keys.clock import SYSTEM, Clock
from keys.gate_event import GateEvent, peek_node, topic_kind, verify_event
from keys.signed_document import DocumentError

log = logging.getLogger("cloud.ingest")


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    acks: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    """(site, node) -> seqs now safely stored (new or duplicate): what each node may forget."""
    faces: Counter[str] = field(default_factory=Counter)
    """Face bindings by outcome (bound, same, conflict, stale, refused, no_face_key)."""
    published: list[Published] = field(default_factory=list)
    """Signed ``faces`` deltas to publish once the batch is committed."""


class DeviceKeys:
    """The registry's public keys, cached; reloaded when an unknown node shows up, and at least
    every ``refresh_s`` seconds (a node decommissioned or replaced at enrolment, by another
    process, is refused or accepted under its new key within that time)."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock = SYSTEM, refresh_s: float = 10.0
    ) -> None:
        self._sessions = sessions
        self._clock, self._refresh_s = clock, refresh_s
        self._keys: dict[tuple[str, str], Ed25519PublicKey | None] = {}
        self.reload()

    def reload(self) -> None:
        with self._sessions() as session:
            devices = session.scalars(select(Device)).all()
        self._keys = {
            (d.site, d.node): (
                Ed25519PublicKey.from_public_bytes(d.public_key) if d.status == "active" else None
            )
            for d in devices
        }
        self._loaded_at = self._clock.monotonic()

    def key_of(self, site: str, node: str) -> Ed25519PublicKey | str | None:
        """The key; None if the node is revoked; "unknown" if not registered."""
        stale = self._clock.monotonic() - self._loaded_at >= self._refresh_s
        if stale or (site, node) not in self._keys:
            self.reload()
        if (site, node) not in self._keys:
            return "unknown"
        return self._keys[(site, node)]


class Ingest:
    """Stores batches of gate events from the broker (module docstring: verify, store once,
    apply effects, in one transaction). Never stores an event it cannot verify, and never
    applies an event's effects twice."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        timezone: str,
        clock: Clock = SYSTEM,
        faces: BindingKeys | None = None,
    ) -> None:
        """``timezone``: the site's, for park counts by day; ``clock`` dates refusals;
        ``faces``: the keys face bindings need (None: they are stored as events only)."""
        self.engine = engine
        self.faces = faces
        self.clock = clock
        self.sessions = sessions
        self.timezone = ZoneInfo(timezone)
        self.keys = DeviceKeys(sessions, clock)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        table = GateEventRecord.__table__
        assert isinstance(table, Table)
        self._insert_events = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=["site", "node", "seq"])
            .returning(table.c.site, table.c.node, table.c.seq, sort_by_parameter_order=True)
        )

    def process(self, messages: Iterable[tuple[str, bytes]]) -> BatchResult:
        result = BatchResult()
        events: list[GateEvent] = []
        refusals: list[dict[str, Any]] = []
        now = self.clock.now()
        for topic, payload in messages:
            checked = self._verify(topic, payload)
            if isinstance(checked, GateEvent):
                events.append(checked)
            else:
                reason, claimed = checked
                result.refused[reason] += 1
                refusals.append(
                    {
                        "topic": topic[:200],
                        "claimed_node": claimed,
                        "reason": reason,
                        "received_at": now,
                    }
                )
        with self.sessions.begin() as session:
            if events:
                new = self._store(session, events, now)
                result.stored = len(new)
                result.duplicates = len(events) - len(new)
                self._count_passages(session, new)
                open_alarms(session, new, _jsonable)
                self._record_bindings(session, new, now, result)
            if refusals:
                session.execute(self._insert(RefusedEvent), refusals)
        for gate_event in events:
            result.acks[(gate_event.site, gate_event.node)].append(gate_event.seq)
        return result

    def _verify(self, topic: str, payload: bytes) -> GateEvent | tuple[str, str | None]:
        parsed = topics.parse(topic)
        reports = (topics.Kind.EVENT, topics.Kind.FACE)
        if parsed is None or parsed.kind not in reports or parsed.node is None:
            return "bad_topic", peek_node(payload)
        site, node = parsed.site, parsed.node
        key = self.keys.key_of(site, node)
        if key == "unknown":
            return "unknown_node", peek_node(payload)
        if key is None:
            return "revoked_node", peek_node(payload)
        assert isinstance(key, Ed25519PublicKey)
        try:
            gate_event = verify_event(payload, key, site)
        except DocumentError as exc:
            return exc.code, peek_node(payload)
        if gate_event.node != node or topic_kind(gate_event.kind) != parsed.kind:
            return "topic_mismatch", gate_event.node
        return gate_event

    def _record_bindings(
        self, session: Session, events: list[GateEvent], now: datetime, result: BatchResult
    ) -> None:
        for gate_event in events:
            if gate_event.kind != "face_bind":
                continue
            if self.faces is None:
                result.faces["no_face_key"] += 1
                log.warning("face binding stored unopened: no face key (keys face-init)")
                continue
            outcome = record(session, self.faces, gate_event, now)
            result.faces[outcome.result] += 1
            if outcome.published is not None:
                result.published.append(outcome.published)

    def _store(self, session: Session, events: list[GateEvent], now: datetime) -> list[GateEvent]:
        """Insert what is not stored yet; return exactly those events, each once (a batch can
        hold the same event twice: a node's resend beside the broker's redelivery)."""
        unique = {(e.site, e.node, e.seq): e for e in events}
        rows = [
            {
                "site": e.site,
                "node": e.node,
                "seq": e.seq,
                "kind": e.kind,
                "at": e.at,
                "data": _jsonable(e.data),
                "raw": e.raw,
                "received_at": now,
            }
            for e in unique.values()
        ]
        # One cached statement run as executemany: SQLAlchemy batches it into multi-row
        # INSERT ... RETURNING ("insertmanyvalues") without recompiling per batch.
        result = session.connection().execute(self._insert_events, rows)
        inserted = {(site, node, int(seq)) for site, node, seq in result}
        return [event for key, event in unique.items() if key in inserted]

    def _count_passages(self, session: Session, events: list[GateEvent]) -> None:
        totals: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
        for gate_event in events:
            if gate_event.kind != "passage":
                continue
            day = gate_event.at.astimezone(self.timezone).date()
            totals[(gate_event.site, day)][
                0 if gate_event.data.get("dir", "in") == "in" else 1
            ] += 1
        if not totals:
            return
        rows = [
            {"site": site, "day": day, "entries": e, "exits": x}
            for (site, day), (e, x) in totals.items()
        ]
        statement = self._insert(ParkCount).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["site", "day"],
            set_={
                "entries": ParkCount.entries + statement.excluded.entries,
                "exits": ParkCount.exits + statement.excluded.exits,
            },
        )
        session.execute(statement)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as JSON: byte strings (ticket ids) become upper-case hex."""
    return {
        k: (
            v.hex().upper()
            if isinstance(v, bytes)
            else [x.hex().upper() if isinstance(x, bytes) else x for x in v]
            if isinstance(v, list)
            else v
        )
        for k, v in data.items()
    }
