"""Where an ingest worker's time goes, per event: signature, decoding, SQL (PostgreSQL).

    python -m bench ingest_profile

The path of ``scenic-cloud ingest`` without the broker: ``Ingest.process`` on what 500 broker
messages hold, into PostgreSQL, in this process. The events are the festival's mix (use,
passage, passage, heartbeat) from 10 nodes, in two shapes:

- single: each event its own signed ``gate_event`` (a gate pumping one event at a time, and
  every gate before batches);
- batch of 64: the gates' uplinks signed the events pending at a pump together
  (keys/gate_event_batch.py), 64 a message (a full uplink window).

Each stage is timed alone over the same events, then the whole: the difference is what the
batch costs around them (SQLAlchemy, the transaction, park counts, alarms). The MQTT side
(paho's loop, shared subscriptions, acks) is measured by bench/mqtt_ingest.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import text

from bench.report import report
from cloud.db import make_engine, session_factory
from cloud.models import Device
from cloud.services.ingest import Ingest, _jsonable
from keys import keystore, topics
from keys.cbor_strict import decode_item
from keys.cose import decode_sign1
from keys.gate_event import GateEvent, sign_event
from keys.gate_event_batch import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Entry, sign_batch
from keys.gate_event_batch import verify_report as verify
from keys.keystore import verify_signature
from simulators.databases import postgres_schema

EVENTS = 20_000
MESSAGES = 500  # what a worker takes per transaction at most (``--batch-max``)
SITE = "S1"
NODES = [f"G{i:02d}" for i in range(1, 11)]


def _events() -> list[tuple[str, int, str, int, dict[str, Any]]]:
    """(node, seq, kind, at_ms, data) for the day's mix."""
    start = datetime(2026, 2, 12, 2, 0, tzinfo=UTC)
    seqs = dict.fromkeys(NODES, 0)
    events = []
    for n in range(EVENTS):
        node = NODES[n % len(NODES)]
        seqs[node] += 1
        kind = ("use", "passage", "passage", "heartbeat")[n % 4]
        data: dict[str, object] = {"use": seqs[node], "dir": "in"}
        if kind == "use":
            data.update(ticket=os.urandom(8), granted=1, allowed=1)
        if kind == "heartbeat":
            data = {"granted": n, "denied": 0, "outbox": 3, "in_fire": False}
        at = start + timedelta(milliseconds=n * 50)
        events.append((node, seqs[node], kind, int(at.timestamp() * 1000), data))
    return events


def signed(keys: dict[str, keystore.SigningKey], per_message: int) -> list[tuple[str, bytes]]:
    """The events as the broker would carry them: one a message, or ``per_message`` a batch
    (each node's in seq order)."""
    by_node: dict[str, list[tuple[int, str, int, dict[str, Any]]]] = {n: [] for n in NODES}
    for node, seq, kind, at_ms, data in _events():
        by_node[node].append((seq, kind, at_ms, data))
    messages = []
    for node, events in by_node.items():
        topic = topics.event(SITE, node).name
        for i in range(0, len(events), per_message):
            chunk = events[i : i + per_message]
            if per_message == 1:
                seq, kind, at_ms, data = chunk[0]
                raw = sign_event(
                    keys[node], site=SITE, node=node, seq=seq, kind=kind, at_ms=at_ms, data=data
                )
            else:
                entries = [Entry.of(*event) for event in chunk]
                raw = sign_batch(keys[node], site=SITE, node=node, entries=entries)
            messages.append((topic, raw))
    return messages


def _timed(stage: Callable[[], object]) -> float:
    began = time.perf_counter()
    stage()
    return time.perf_counter() - began


def stages(
    shape: str, messages: list[tuple[str, bytes]], public: dict[str, Any]
) -> dict[str, float]:
    """Seconds for each stage of verifying ``messages``, alone."""
    payloads = [raw for _, raw in messages]
    nodes = [t.split("/")[3] for t, _ in messages]  # scenic/{site}/gate/{node}/event
    envelopes = [decode_sign1(raw, max_bytes=MAX_BATCH_BYTES) for raw in payloads]
    verified: list[GateEvent] = [
        e
        for node, raw in zip(nodes, payloads, strict=True)
        for e in verify(raw, public[node], SITE).events
    ]
    return {
        f"{shape}: topic parse": _timed(lambda: [topics.parse(t) for t, _ in messages]),
        f"{shape}: COSE envelope decode": _timed(
            lambda: [decode_sign1(raw, max_bytes=MAX_BATCH_BYTES) for raw in payloads]
        ),
        f"{shape}: Ed25519 signature check": _timed(
            lambda: [
                verify_signature(public[node], e.signature, e.to_be_signed)
                for node, e in zip(nodes, envelopes, strict=True)
            ]
        ),
        f"{shape}: CBOR payload decode (strict, with every event)": _timed(
            lambda: [_decode_all(e.payload) for e in envelopes]
        ),
        f"{shape}: verify (all of the above, with the checks)": _timed(
            lambda: [verify(raw, public[n], SITE) for n, raw in zip(nodes, payloads, strict=True)]
        ),
        f"{shape}: event data to JSON (bytes to hex)": _timed(
            lambda: [_jsonable(v.data) for v in verified]
        ),
    }


def _process(ingest: Ingest, chunks: list[list[tuple[str, bytes]]]) -> None:
    for chunk in chunks:
        ingest.process(chunk)


def _decode_all(payload: bytes) -> object:
    document = decode_item(payload, max_bytes=MAX_BATCH_BYTES)
    body = document[5]
    for entry in body.get("events", ()):
        decode_item(entry, max_bytes=MAX_BATCH_BYTES)
    return document


def main() -> None:
    keys = {node: keystore.generate("node", node) for node in NODES}
    public = {node: key.public_key for node, key in keys.items()}
    shapes = {
        "single": signed(keys, 1),
        f"batch of {MAX_BATCH_EVENTS}": signed(keys, MAX_BATCH_EVENTS),
    }
    seconds: dict[str, float] = {}
    for shape, messages in shapes.items():
        seconds.update(stages(shape, messages, public))
    rows: list[dict[str, Any]] = [
        {"stage": name, "us_per_event": round(s / EVENTS * 1e6, 1)} for name, s in seconds.items()
    ]
    with postgres_schema() as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            for node, key in keys.items():
                session.add(
                    Device(site=SITE, node=node, public_key=keystore.raw_public(key.public_key))
                )
        ingest = Ingest(engine, sessions, "Asia/Shanghai")
        for shape, messages in shapes.items():
            if shape != "single":
                with sessions.begin() as session:  # the same seqs again: start empty
                    for table in ("gate_events", "gate_event_batches", "park_counts"):
                        session.execute(text(f"DELETE FROM {table}"))
            chunks = [messages[i : i + MESSAGES] for i in range(0, len(messages), MESSAGES)]
            whole = _timed(partial(_process, ingest, chunks))
            replay = _timed(partial(_process, ingest, chunks))
            per = EVENTS // len(messages)
            rows.append(
                {
                    "stage": f"{shape}: Ingest.process, {MESSAGES} messages ({MESSAGES * per} "
                    "events) a transaction, new events",
                    "us_per_event": round(whole / EVENTS * 1e6, 1),
                    "events_per_s": round(EVENTS / whole),
                }
            )
            rows.append(
                {
                    "stage": f"{shape}: the same again (duplicates: verified, nothing stored)",
                    "us_per_event": round(replay / EVENTS * 1e6, 1),
                    "events_per_s": round(EVENTS / replay),
                }
            )
        engine.dispose()
    report(
        "ingest_profile",
        f"Ingest, where the time goes ({EVENTS:,} events, one process, no broker)",
        rows,
        "Per event on one core; a worker also runs paho's loop and sends signed acks.",
    )


if __name__ == "__main__":
    main()
