"""A live dashboard on one machine: a busy morning in a SQLite (or PostgreSQL) database, real
Mosquitto, a real ingest worker, and the cloud's app served by uvicorn on a free port.

``publish_entry()`` is a gate's entry: a signed passage event published over MQTT as that gate
(its broker login, its key, its next sequence number); the ingest worker stores it and the
dashboard's live stream carries the new count to the browser. For the browser tests and
bench/dashboard.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion

from cloud.api.app import create_app
from cloud.api.context import CloudContext
from cloud.db import make_engine, session_factory
from cloud.mqtt.ingest_worker import IngestWorker
from cloud.services.ingest import Ingest
from cloud.services.issuing import Issuer
from cloud.services.personal_data import PersonalData
from keys import keystore
from keys.clock import ManualClock
from simulators.broker import PASSWORD, Broker, free_port
from simulators.busy_day import MORNING, PASSWORDS, SALT, Day, build_day


@dataclass
class LiveSite:
    url: str  # the dashboard's address
    day: Day
    broker: Broker
    worker: IngestWorker
    clock: ManualClock  # the app's: what "now" is on the page
    _gates: dict[str, mqtt.Client]

    login = ("boss", PASSWORDS["boss"])

    def publish_entry(self, node: str = "G1", at: datetime | None = None) -> None:
        """One person through ``node``'s lane, reported as the gate reports it (QoS 1)."""
        when = at or self.clock.now()
        topic, raw = self.day.event(node, "passage", when, use=0, dir="in")
        self._gates[node].publish(topic, raw, qos=1).wait_for_publish(5)

    def publish(self, node: str, kind: str, **data: object) -> None:
        topic, raw = self.day.event(node, kind, self.clock.now(), **data)
        self._gates[node].publish(topic, raw, qos=1).wait_for_publish(5)


@contextmanager
def live_site(
    folder: Path, db_url: str, issuer_key: keystore.SigningKey, orders_per_slot: int = 6
) -> Iterator[LiveSite]:
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    day = build_day(sessions, issuer_key, orders_per_slot=orders_per_slot)
    broker = Broker(folder / "broker", users=["cloud", "G1", "G2", "G3"]).start()
    ingest_engine = make_engine(db_url)
    worker = IngestWorker(
        Ingest(ingest_engine, session_factory(ingest_engine), "Asia/Shanghai", day.clock),
        keystore.generate("root", "R1"),
        "127.0.0.1",
        broker.port,
        "dash",
        username="cloud",
        password=PASSWORD,
    )
    stop = threading.Event()
    worker_thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    worker_thread.start()
    clock = ManualClock(MORNING)
    context = CloudContext(
        engine=engine,
        sessions=sessions,
        root=keystore.generate("root", "R1"),
        issuer=Issuer(issuer_key, SALT),
        pd=PersonalData(bytes(32)),
        providers={},
        clock=clock,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(context),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    gates = {}
    for node in ("G1", "G2", "G3"):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gate-{node}")
        client.username_pw_set(node, PASSWORD)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        gates[node] = client
    try:
        deadline = time.monotonic() + 15
        while not (server.started and worker.connected.is_set()):
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard or its ingest worker did not start")
            time.sleep(0.02)
        day.clock.set_wall(MORNING - timedelta(seconds=1))  # the ingest receives "now"
        yield LiveSite(f"http://127.0.0.1:{port}", day, broker, worker, clock, gates)
    finally:
        for client in gates.values():
            client.loop_stop()
            client.disconnect()
        server.should_exit = True
        server_thread.join(timeout=10)
        stop.set()
        worker_thread.join(timeout=10)
        broker.stop()
        context.engine.dispose()
        ingest_engine.dispose()
