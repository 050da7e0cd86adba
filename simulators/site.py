"""A connected site on one machine: broker, cloud (SQLite), ingest worker, downlink service,
and two tripod gates on mock GPIO with simulated turnstiles; visitors come and go.

Used by ``make demo``. Everything is the product's own code and processes: Mosquitto from
broker/site.conf, ``scenic-cloud ingest`` as a process, the downlink service, ``gate_node``
services with their real uplink, downlink and gossip.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cloud.db import make_engine, session_factory
from cloud.models import Device, GateEventRecord, NodeLink, ParkCount
from cloud.mqtt.downlink_service import DownlinkService
from gate_node.assembly import build
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState, initialise
from keys import keystore
from keys.claims import PriceType, TicketClaims
from keys.ticket import issue_ticket
from simulators.broker import PASSWORD, Broker
from simulators.databases import sqlite_database
from simulators.ingest_processes import IngestProcesses
from simulators.node_thread import NodeThread
from simulators.turnstile import SimulatedTripod

SITE = "DEMO"
TZ = ZoneInfo("Asia/Shanghai")
GATES = {"G1": "east gate 东门", "G2": "west gate 西门"}


class Gate:
    def __init__(self, state: NodeState, key: keystore.SigningKey) -> None:
        self.pins = MockFactory()
        self.pins.pin(21).drive_high()  # fire loop intact
        self.mechanism = SimulatedTripod(self.pins, state.config.pin_map or {})
        self.thread = NodeThread(
            build(state, self.pins, with_camera=False, node_key=key), on_tick=self.mechanism.step
        )

    @property
    def service(self) -> Any:
        return self.thread.node.service

    def visit(self, text: str, walkers: int) -> Any:
        """A visitor shows a ticket; ``walkers`` people then push through if released."""
        self.mechanism.waiting["in"] = walkers
        before = self.thread.call(lambda: len(self.service.decisions))

        def present() -> None:
            self.service.repeats.hold_s = 0
            self.service.reads.put(Credential("qr", text))

        self.thread.call(present)
        deadline = time.monotonic() + 10
        while self.thread.call(lambda: len(self.service.decisions)) == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the gate did not decide")
            time.sleep(0.01)
        decision = self.thread.call(lambda: self.service.decisions[before])
        if decision.grant:
            deadline = time.monotonic() + 15
            while self.mechanism.waiting["in"] > 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        self.mechanism.waiting["in"] = 0
        return decision

    def outbox(self) -> int:
        return int(self.thread.call(lambda: self.service.ledger.counts()["outbox"]))

    def close(self) -> None:
        self.thread.close()
        self.pins.reset()


def run_site(
    console: Console,
    state_dir: Path,
    root: keystore.SigningKey,
    issuer: keystore.SigningKey,
    passphrase: bytes,
) -> None:
    broker = Broker(state_dir / "broker", users=["cloud", *GATES]).start()
    url = sqlite_database(state_dir / "cloud")
    engine = make_engine(url)
    sessions = session_factory(engine)
    states, keys = {}, {}
    for node in GATES:
        states[node] = initialise(
            state_dir / f"site-{node}",
            {
                "site": SITE,
                "node": node,
                "kind": "tripod",
                "zone": 1,
                "timezone": str(TZ),
                "broker": {"host": "127.0.0.1", "port": broker.port, "username": node},
            },
            state_dir / "root.pem",
            state_dir / "keyring.cose",
            None,
            passphrase,
        )
        password = states[node].directory / "broker.password"
        password.write_text(PASSWORD)
        password.chmod(0o600)
        keys[node] = states[node].identity(passphrase)
        with sessions.begin() as session:
            session.add(
                Device(
                    site=SITE,
                    node=node,
                    kind="tripod",
                    zone=1,
                    public_key=keystore.raw_public(keys[node].public_key),
                )
            )
    ingest = IngestProcesses(
        state_dir / "cloud", root, passphrase, url, broker.port, password=PASSWORD
    )
    ingest.start("1")
    downlink = DownlinkService(sessions, root, "127.0.0.1", broker.port, "cloud", PASSWORD)
    stop = threading.Event()
    downlink_thread = threading.Thread(target=downlink.run, args=(stop,), daemon=True)
    downlink_thread.start()
    downlink.connected.wait(10)
    downlink.publish_registry(SITE)  # retained: each gate learns its peers' keys
    time.sleep(1)
    gates = {node: Gate(NodeState.open(states[node].directory), keys[node]) for node in GATES}
    try:
        _visitors(console, gates, downlink, issuer)
        deadline = time.monotonic() + 30
        while any(g.outbox() for g in gates.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        _cloud_summary(console, sessions, url, broker.port)
    finally:
        for gate in gates.values():
            gate.close()
        stop.set()
        downlink_thread.join(10)
        ingest.stop_all()
        broker.stop()
        engine.dispose()


def _visitors(
    console: Console, gates: dict[str, Gate], downlink: DownlinkService, issuer: keystore.SigningKey
) -> None:
    today = datetime.now(TZ).date()

    def ticket(number: int, **extra: Any) -> str:
        return issue_ticket(
            issuer,
            TicketClaims(
                ticket_id=(1000 + number).to_bytes(8, "big"),
                product=1,
                valid_from=today,
                valid_until=today,
                **extra,
            ),
        )

    family = ticket(1, group_size=3, price_type=PriceType.GROUP)
    refunded = ticket(2)
    table = Table(title=f"Site {SITE}: two gates, one broker, the cloud / 两个闸机联网检票")
    for column in ("where", "visitor", "decision", "reason / 原因", "passed"):
        table.add_column(column)

    def row(node: str, who: str, text: str, walkers: int) -> None:
        gate = gates[node]
        before = gate.mechanism.rotations["in"]
        decision = gate.visit(text, walkers)
        zh, en = decision.message(TZ)
        table.add_row(
            GATES[node],
            who,
            "grant" if decision.grant else "deny",
            f"{en} / {zh}",
            str(gate.mechanism.rotations["in"] - before),
        )

    row("G1", "family of three 三人家庭票", family, 3)
    time.sleep(0.3)  # gossip reaches the west gate in tens of milliseconds
    row("G2", "same ticket, other gate 换门再用", family, 1)
    downlink.revoke(SITE, {(1002).to_bytes(8, "big"): today + timedelta(days=1)})
    time.sleep(0.5)
    row("G2", "refunded ticket 已退票", refunded, 1)
    for number in range(3, 13):
        row("G1" if number % 2 else "G2", f"visitor {number}", ticket(number), 1)
    console.print(table)


def _cloud_summary(console: Console, sessions: Any, url: str, port: int) -> None:
    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(GateEventRecord))
        counts = session.scalars(select(ParkCount)).all()
        links = session.scalars(select(NodeLink)).all()
    inside = sum(c.in_park for c in counts)
    online = ", ".join(f"{link.node} {link.state}" for link in links)
    console.print(
        f"Cloud ({url}): {events} signed gate events stored, "
        f"{inside} visitors in the park now (在园人数), links: {online}."
    )
    console.print(
        f"Broker: mqtt://127.0.0.1:{port} (Mosquitto from broker/site.conf). "
        "The manager dashboard arrives with the cloud sales core (issue #7)."
    )
