"""Storing what gates report: verify each event, store it once, apply its effects, atomically.

``Ingest.process(messages)`` takes a batch of (topic, payload) as received from the broker and,
in one database transaction:

1. verifies each payload, a single gate event or a batch of them (keys/gate_event_batch.py:
   one signature over up to 64 events), as signed by the key the device registry holds for
   the node the topic names; unknown or revoked nodes, bad signatures, batches over a cap,
   and documents whose signed site/node differ from the topic are refused whole (and kept in
   ``refused_events``); an unreadable event inside a validly signed batch is refused alone,
   with its reason, and the batch's other events go on;
2. inserts the events with ON CONFLICT DO NOTHING on (site, node, seq), so a replay after any
   crash or resend adds nothing; a batch's signed bytes are kept once, in
   ``gate_event_batches``, named by its events' ``batch`` column (``proof`` gives any stored
   event's signed bytes back);
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

import base64
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, Table, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import Device, GateEventBatch, GateEventRecord, ParkCount, RefusedEvent
from cloud.services.alarms import open_alarms
from cloud.services.face_binding import BindingKeys, record
from cloud.services.face_enrolment import Published
from keys import topics
from keys.clock import SYSTEM, Clock
from keys.gate_event import GateEvent, topic_kind
from keys.gate_event_batch import Report, event_in, peek_report_node, verify_report
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


@dataclass(frozen=True, slots=True)
class _Refused:
    """A document refused whole: the reason, and the node it claimed (for the log)."""

    reason: str
    claimed: str | None


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
        self._insert_batches = self._insert(GateEventBatch).on_conflict_do_nothing(
            index_elements=["digest"]
        )
        self._postgres = engine.dialect.name == "postgresql"

    def process(self, messages: Iterable[tuple[str, bytes]]) -> BatchResult:
        result = BatchResult()
        events: list[GateEvent] = []
        refusals: list[dict[str, Any]] = []
        now = self.clock.now()

        def refuse(topic: str, reason: str, claimed: str | None) -> None:
            result.refused[reason] += 1
            refusals.append(
                {
                    "topic": topic[:200],
                    "claimed_node": claimed,
                    "reason": reason,
                    "received_at": now,
                }
            )

        for topic, payload in messages:
            checked = self._verify(topic, payload)
            if isinstance(checked, _Refused):
                refuse(topic, checked.reason, checked.claimed)
                continue
            report, kind = checked
            for refusal in report.refused:
                refuse(topic, refusal.code, report.node)
            for gate_event in report.events:
                if topic_kind(gate_event.kind) != kind:  # a face binding on the event topic
                    refuse(topic, "topic_mismatch", report.node)
                else:
                    events.append(gate_event)
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

    def _verify(self, topic: str, payload: bytes) -> tuple[Report, str] | _Refused:
        """(the verified report, the topic kind it came on), or why it is refused whole."""
        parsed = topics.parse(topic)
        reports = (topics.Kind.EVENT, topics.Kind.FACE)
        if parsed is None or parsed.kind not in reports or parsed.node is None:
            return _Refused("bad_topic", peek_report_node(payload))
        site, node = parsed.site, parsed.node
        key = self.keys.key_of(site, node)
        if key == "unknown":
            return _Refused("unknown_node", peek_report_node(payload))
        if key is None:
            return _Refused("revoked_node", peek_report_node(payload))
        assert isinstance(key, Ed25519PublicKey)
        try:
            report = verify_report(payload, key, site)
        except DocumentError as exc:
            return _Refused(exc.code, peek_report_node(payload))
        if report.node != node:
            return _Refused("topic_mismatch", report.node)
        return report, parsed.kind

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
        hold the same event twice: a node's resend beside the broker's redelivery). The signed
        batches the new events came in are kept once each, in the same transaction."""
        unique = {(e.site, e.node, e.seq): e for e in events}
        if self._postgres:
            inserted = self._insert_json(session, list(unique.values()), now)
        else:
            rows = [
                {
                    "site": e.site,
                    "node": e.node,
                    "seq": e.seq,
                    "kind": e.kind,
                    "at": e.at,
                    "data": _jsonable(e.data),
                    "raw": None if e.batch else e.raw,
                    "batch": e.batch,
                    "received_at": now,
                }
                for e in unique.values()
            ]
            # One cached statement run as executemany: SQLAlchemy batches it into multi-row
            # INSERT ... RETURNING ("insertmanyvalues") without recompiling per batch.
            result = session.connection().execute(self._insert_events, rows)
            inserted = {(site, node, int(seq)) for site, node, seq in result}
        new = [event for key, event in unique.items() if key in inserted]
        signed = {e.batch: e for e in new if e.batch is not None}
        if signed:
            session.connection().execute(
                self._insert_batches,
                [
                    {"digest": d, "site": e.site, "node": e.node, "raw": e.raw, "received_at": now}
                    for d, e in signed.items()
                ],
            )
        return new

    @staticmethod
    def _insert_json(
        session: Session, events: list[GateEvent], now: datetime
    ) -> set[tuple[str, str, int]]:
        """PostgreSQL: every event in one ``INSERT ... SELECT FROM json_to_recordset(:rows)``,
        the rows one JSON text parameter. Measured (bench/ingest_profile.py): the multi-row
        VALUES SQLAlchemy writes otherwise has nine placeholders a row, and psycopg parses
        such a statement afresh each time (too long for its cache), which cost more than the
        inserts; array parameters (``unnest``) are dumped element by element, ~55 µs a row
        of client CPU; one JSON text is ~15 µs a row, and the server parses it in C."""
        rows = [
            {
                "site": e.site,
                "node": e.node,
                "seq": e.seq,
                "kind": e.kind,
                "at": e.at.isoformat(),  # exact, as the timestamptz column keeps it
                "data": _jsonable(e.data),
                "raw": None if e.batch else base64.b64encode(e.raw).decode(),
                "batch": e.batch.hex() if e.batch else None,
            }
            for e in events
        ]
        result = session.connection().execute(
            _INSERT_FROM_JSON, {"rows": json.dumps(rows), "received_at": now}
        )
        return {(site, node, int(seq)) for site, node, seq in result}

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


_INSERT_FROM_JSON = text(
    "INSERT INTO gate_events (site, node, seq, kind, at, data, raw, batch, received_at)"
    " SELECT r.site, r.node, r.seq, r.kind, r.at, r.data, decode(r.raw, 'base64'),"
    " decode(r.batch, 'hex'), :received_at"
    " FROM json_to_recordset(CAST(:rows AS json)) AS r(site varchar, node varchar, seq bigint,"
    " kind varchar, at timestamptz, data json, raw text, batch text)"
    " ON CONFLICT (site, node, seq) DO NOTHING RETURNING site, node, seq"
)


def proof(session: Session, record: GateEventRecord) -> bytes:
    """The signed bytes that prove a stored event: its own document, or the batch it came in
    (``keys.gate_event_batch.event_in`` checks either against the node's key)."""
    if record.raw is not None:
        return bytes(record.raw)
    batch = session.get(GateEventBatch, record.batch)
    if batch is None:  # never: a batch is written in the transaction that stores its events
        raise LookupError(f"event {record.node}/{record.seq}: its signed batch is missing")
    return bytes(batch.raw)


def prove(session: Session, record: GateEventRecord, node_key: Ed25519PublicKey) -> GateEvent:
    """Check a stored event against the node's key: the event its signed bytes hold, as
    signed; ``DocumentError`` if they do not verify or hold no such event."""
    return event_in(proof(session, record), node_key, record.site, record.seq)


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
