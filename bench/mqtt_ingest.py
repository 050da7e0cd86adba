"""Ingest throughput: signed gate events per second from the broker into the database.

Four gates' worth of pre-signed events (signing is not what is measured) go to two
``scenic-cloud ingest`` worker processes sharing the MQTT subscription; each verifies every
signature, stores idempotently and acknowledges. The events are what real gates' uplinks
publish (gate_node/uplink.py): at each pump a gate signs the events pending in its outbox
together, up to a full window of 64 (keys/gate_event_batch.py). Here every gate's outbox is
ahead of its pump (10,000 events each, published as fast as the broker takes them), so each
message is a full batch of 64: the load of a festival entrance at its peak, or of gates
draining after an outage. A gate whose lane makes one event per pump sends each alone, as a
single signed event: the "one event a message" row measures that (the signature check per
event is then the ceiling, ~290 µs each on this CPU). Three ways:

- live: the events are published while the workers run; the four publishers run on the same
  two cores, so this understates a real site, whose gates are other machines;
- backlog: the events were queued at the broker while the workers were down (their persistent
  sessions hold them), then the workers start: the drain after a cloud outage;
- live, one event a message: as live, every event signed alone (PostgreSQL only).

The clock runs from the first publish (live), or from the moment both restarted workers are
connected (backlog: the drain, not Python's start-up), until the database holds every event.

Targets (issue 16): >= 8,000 events/s live and >= 10,000/s from a backlog, into PostgreSQL
with 2 workers.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select

from bench.report import report
from cloud.db import READ_ONLY, make_engine, session_factory
from cloud.models import Device, GateEventRecord, ParkCount
from keys import keystore, topics
from keys.gate_event import sign_event
from keys.gate_event_batch import Entry, pack, sign_batch
from simulators.broker import PASSWORD, Broker
from simulators.databases import postgres_schema, sqlite_database
from simulators.ingest_processes import IngestProcesses

NODES = ["G1", "G2", "G3", "G4"]
PER_NODE = 10_000
WORKERS = 2
PASSPHRASE = b"benchmark passphrase"
TARGETS = {"live": 8000, "backlog": 10000}
AT_MS = 1_795_000_000_000


def signed(key: keystore.SigningKey, node: str, batched: bool) -> list[bytes]:
    """A gate's ``PER_NODE`` passages as its uplink would publish them: packed into batches
    within the caps (``pack``: 64 a message), or each alone."""
    if not batched:
        return [
            sign_event(
                key,
                site="S1",
                node=node,
                seq=seq,
                kind="passage",
                at_ms=AT_MS + seq,
                data={"use": seq, "dir": "in"},
            )
            for seq in range(1, PER_NODE + 1)
        ]
    entries = [
        Entry.of(seq, "passage", AT_MS + seq, {"use": seq, "dir": "in"})
        for seq in range(1, PER_NODE + 1)
    ]
    return [sign_batch(key, site="S1", node=node, entries=batch) for batch in pack(entries)]


def run(
    folder: Path,
    database: Callable[[], AbstractContextManager[str]],
    backlog: bool,
    batched: bool = True,
) -> float:
    with database() as url:
        broker = Broker(folder / "broker", users=["cloud", *NODES]).start()
        keys = {node: keystore.generate("node", "N1") for node in NODES}
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            for node, key in keys.items():
                session.add(
                    Device(site="S1", node=node, public_key=keystore.raw_public(key.public_key))
                )
        events = {node: signed(key, node, batched) for node, key in keys.items()}
        workers = IngestProcesses(
            folder / "cloud",
            keystore.generate("root", "R1"),
            PASSPHRASE,
            url,
            broker.port,
            password=PASSWORD,
        )
        try:
            for worker in range(WORKERS):
                workers.start(str(worker + 1))
            _wait_connected(broker, 1)  # their shared subscription exists before any event
            threads = [
                threading.Thread(target=publish, args=(broker.port, node, payloads))
                for node, payloads in events.items()
            ]
            if backlog:
                for worker in range(WORKERS):
                    workers.kill(str(worker + 1))
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                for worker in range(WORKERS):
                    workers.start(str(worker + 1))
                _wait_connected(broker, 2, poll_s=0.001)  # the drain, not Python's start-up
                started = time.perf_counter()
            else:
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
            total = PER_NODE * len(NODES)
            while _stored(engine) < total:
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            with engine.connect() as connection:
                rows = connection.scalar(select(func.count()).select_from(GateEventRecord))
            if rows != total:  # each event stored once, none lost
                raise RuntimeError(f"{rows} events stored, {total} published")
            for thread in threads:
                thread.join()
        finally:
            workers.stop_all()
            broker.stop()
            engine.dispose()
    return PER_NODE * len(NODES) / elapsed


def _stored(engine: Engine) -> int:
    """Events in the database now, read from the in-park count (every event here is a
    passage in, counted in the transaction that stores it): one row, where counting the
    events table every 10 ms cost the database as much CPU as a fifth of the inserts. A fresh
    transaction each time (one held open would see its first snapshot forever, and on SQLite
    hold the write lock: cloud/db.py)."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        return connection.scalar(select(func.coalesce(func.sum(ParkCount.entries), 0))) or 0


def _wait_connected(broker: Broker, times: int, poll_s: float = 0.05) -> None:
    """Until every worker has connected to the broker ``times`` times (its log says so), and
    for a first connect a moment more for the subscription. A fixed sleep was not enough on a
    loaded machine: events published before the first subscription are dropped."""
    log = broker.folder / "broker.log"
    names = [f"as ingest-{worker + 1} (" for worker in range(WORKERS)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        if all(text.count(name) >= times for name in names):
            if times == 1:
                time.sleep(0.5)
            return
        time.sleep(poll_s)
    raise RuntimeError("the ingest workers did not connect to the broker within 60 s")


def publish(port: int, node: str, payloads: list[bytes]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{node}")
    client.username_pw_set(node, PASSWORD)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topics.event("S1", node).name, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def _sqlite(folder: Path) -> Callable[[], AbstractContextManager[str]]:
    return lambda: nullcontext(sqlite_database(folder))


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            ("PostgreSQL", "live", True),
            ("PostgreSQL", "backlog", True),
            ("PostgreSQL", "live", False),
            ("SQLite (WAL)", "live", True),
            ("SQLite (WAL)", "backlog", True),
        ]
        for name, mode, batched in runs:
            folder = Path(tmp) / f"{name.split()[0]}-{mode}-{batched}"
            folder.mkdir()
            db = postgres_schema if name == "PostgreSQL" else _sqlite(folder)
            rate = run(folder, db, backlog=mode == "backlog", batched=batched)
            target = TARGETS[mode] if name == "PostgreSQL" and batched else None
            rows.append(
                {
                    "database": name,
                    "mode": mode,
                    "per_message": "batches of 64" if batched else "one event",
                    "workers": WORKERS,
                    "events": PER_NODE * len(NODES),
                    "events_per_second": round(rate),
                    "target": target,
                    "met": None if target is None else rate >= target,
                }
            )
    report("mqtt_ingest", "Ingest throughput: broker -> verified -> stored once", rows)


if __name__ == "__main__":
    main()
