"""Where an ingest worker's time goes, per event: signature, decoding, SQL (PostgreSQL).

    python -m bench ingest_profile

The path of ``scenic-cloud ingest`` without the broker: ``Ingest.process`` on batches of 500
signed gate events (10 nodes, the festival's mix: use, passage, heartbeat), into PostgreSQL,
in this process. Each stage is timed alone over the same events, then the whole: the
difference is what the batch costs around them (SQLAlchemy, transaction, park counts). The
MQTT side (paho's loop, shared subscriptions, acks) is measured by bench/mqtt_ingest.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.report import report
from cloud.db import make_engine, session_factory
from cloud.models import Device
from cloud.services.ingest import Ingest, _jsonable
from keys import keystore, topics
from keys.cbor_strict import decode_item
from keys.cose import decode_sign1
from keys.gate_event import sign_event, verify_event
from keys.keystore import verify_signature
from simulators.databases import postgres_schema

EVENTS = 20_000
BATCH = 500
SITE = "S1"


def _events() -> tuple[list[tuple[str, bytes]], dict[str, keystore.SigningKey]]:
    keys = {f"G{i:02d}": keystore.generate("node", f"G{i:02d}") for i in range(1, 11)}
    start = datetime(2026, 2, 12, 2, 0, tzinfo=UTC)
    messages = []
    seqs = dict.fromkeys(keys, 0)
    for n in range(EVENTS):
        node = f"G{n % 10 + 1:02d}"
        seqs[node] += 1
        kind = ("use", "passage", "passage", "heartbeat")[n % 4]
        data: dict[str, object] = {"use": seqs[node], "dir": "in"}
        if kind == "use":
            data.update(ticket=os.urandom(8), granted=1, allowed=1)
        if kind == "heartbeat":
            data = {"granted": n, "denied": 0, "outbox": 3, "in_fire": False}
        at = start + timedelta(milliseconds=n * 50)
        raw = sign_event(
            keys[node],
            site=SITE,
            node=node,
            seq=seqs[node],
            kind=kind,
            at_ms=int(at.timestamp() * 1000),
            data=data,
        )
        messages.append((str(topics.event(SITE, node)), raw))
    return messages, keys


def _timed(stage: Callable[[], object]) -> float:
    began = time.perf_counter()
    stage()
    return time.perf_counter() - began


def main() -> None:
    messages, keys = _events()
    public = {node: key.public_key for node, key in keys.items()}
    payloads = [raw for _, raw in messages]
    envelopes = [decode_sign1(raw, max_bytes=4096) for raw in payloads]
    nodes = [t.split("/")[3] for t, _ in messages]  # scenic/{site}/gate/{node}/event
    verified = [
        verify_event(raw, public[node], SITE)
        for node, (_, raw) in zip(nodes, messages, strict=True)
    ]
    stages = {
        "topic parse": _timed(lambda: [topics.parse(t) for t, _ in messages]),
        "COSE envelope decode": _timed(
            lambda: [decode_sign1(raw, max_bytes=4096) for raw in payloads]
        ),
        "Ed25519 signature check": _timed(
            lambda: [
                verify_signature(public[v.node], e.signature, e.to_be_signed)
                for v, e in zip(verified, envelopes, strict=True)
            ]
        ),
        "CBOR payload decode": _timed(lambda: [decode_item(e.payload) for e in envelopes]),
        "verify_event (all of the above, checks)": _timed(
            lambda: [
                verify_event(raw, public[v.node], SITE)
                for v, raw in zip(verified, payloads, strict=True)
            ]
        ),
        "event data to JSON (bytes to hex)": _timed(lambda: [_jsonable(v.data) for v in verified]),
    }
    with postgres_schema() as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            for node, key in keys.items():
                session.add(
                    Device(site=SITE, node=node, public_key=keystore.raw_public(key.public_key))
                )
        ingest = Ingest(engine, sessions, "Asia/Shanghai")
        batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
        whole = _timed(lambda: [ingest.process(batch) for batch in batches])
        replay = _timed(lambda: [ingest.process(batch) for batch in batches])
        engine.dispose()
    rows = [
        {"stage": name, "us_per_event": round(seconds / EVENTS * 1e6, 1)}
        for name, seconds in stages.items()
    ]
    rows.append(
        {
            "stage": f"Ingest.process, batches of {BATCH}, new events (PostgreSQL)",
            "us_per_event": round(whole / EVENTS * 1e6, 1),
            "events_per_s": round(EVENTS / whole),
        }
    )
    rows.append(
        {
            "stage": "the same events again (duplicates: verified, nothing stored)",
            "us_per_event": round(replay / EVENTS * 1e6, 1),
            "events_per_s": round(EVENTS / replay),
        }
    )
    report(
        "ingest_profile",
        f"Ingest, where the time goes ({EVENTS:,} events, one process, no broker)",
        rows,
        "Per event on one core; a worker also runs paho's loop and sends signed acks.",
    )


if __name__ == "__main__":
    main()
