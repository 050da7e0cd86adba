"""A whole site on one machine: the ticket office, a broker, two gates and their visitors.

Used by ``make demo``. Everything is the product's own code and processes:
- the cloud: ``scenic-cloud serve`` (HTTP API, SQLite), ``scenic-cloud ingest``, and the
  downlink service, with keys made by ``keys init`` (encrypted);
- Mosquitto from broker/site.conf;
- two tripod gates (gate_node services on mock GPIO, simulated turnstiles) that pin the
  cloud's root key and keyring, share their uses and report every entry;
- visitors who buy online through the API, pay in the sandbox, show their codes at a gate and,
  once, ask for a refund, which the gates learn of at once.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from gpiozero.pins.mock import MockFactory
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cloud.api.context import from_settings, init_keys
from cloud.core.config import Settings
from cloud.models import Device, GateEventRecord, Inventory, NodeLink, ParkCount, Price, Product
from cloud.mqtt.downlink_service import DownlinkService
from cloud.services.downlink_documents import signed_keyring
from cloud.services.sites import add_site
from gate_node.assembly import build
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState, initialise
from keys import keystore
from simulators.broker import PASSWORD, Broker
from simulators.cloud_server import cloud_server
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
        """A visitor shows a code; ``walkers`` people then push through if released."""
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


def run_site(console: Console, state_dir: Path, passphrase: bytes) -> None:
    cloud_state = state_dir / "cloud"
    init_keys(cloud_state, passphrase)
    url = sqlite_database(cloud_state)
    with ExitStack() as cleanup:  # everything started is stopped, in reverse, whatever fails
        context = from_settings(Settings(state_dir=cloud_state, db_url=url), passphrase)
        cleanup.callback(context.engine.dispose)
        broker = Broker(state_dir / "broker", users=["cloud", *GATES]).start()
        cleanup.callback(broker.stop)
        inventory_id = _catalogue(context)
        gates, keys = _gates(context, state_dir, broker.port, passphrase)
        ingest = IngestProcesses(
            cloud_state, context.root, passphrase, url, broker.port, password=PASSWORD
        )
        cleanup.callback(ingest.stop_all)
        ingest.start("1")
        downlink = DownlinkService(
            context.sessions, context.root, "127.0.0.1", broker.port, "cloud", PASSWORD
        )
        stop = threading.Event()
        downlink_thread = threading.Thread(target=downlink.run, args=(stop,), daemon=True)
        downlink_thread.start()
        cleanup.callback(downlink_thread.join, 10)
        cleanup.callback(stop.set)
        downlink.connected.wait(10)
        downlink.publish_registry(SITE)  # retained: each gate learns its peers' keys
        api = cleanup.enter_context(
            cloud_server(_cloud_env(cloud_state, url, broker.port, passphrase))
        )
        running = {}
        for node, state in gates.items():
            running[node] = Gate(NodeState.open(state.directory), keys[node])
            cleanup.callback(running[node].close)
        _visitors(console, running, api, inventory_id)
        deadline = time.monotonic() + 30
        while any(g.outbox() for g in running.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        _cloud_summary(console, context.sessions, url, broker.port, api)


def _catalogue(context: Any) -> int:
    today = datetime.now(TZ).date()
    with context.sessions.begin() as db:
        add_site(db, SITE, "演示景区", "Demo scenic area", str(TZ))
        product = Product(
            site=SITE,
            code="DAY",
            name_zh="日票",
            name_en="Day ticket",
            kind="day",
            refund_until_hours=-24,
        )  # unused: refundable until the day ends
        db.add(product)
        db.flush()
        db.add(Price(product_id=product.id, price_type="adult", amount_fen=8000))
        db.add(Price(product_id=product.id, price_type="child", amount_fen=4000))
        stock = Inventory(product_id=product.id, day=today, capacity=5000)
        db.add(stock)
        db.flush()
        return stock.id


def _gates(
    context: Any, state_dir: Path, port: int, passphrase: bytes
) -> tuple[dict[str, NodeState], dict[str, keystore.SigningKey]]:
    """Gate state directories pinning the cloud's root key and its signed keyring."""
    (state_dir / "cloud-root.pem").write_text(keystore.public_pem(context.root.public_key))
    with context.sessions.begin() as db:
        keyring = signed_keyring(db, context.root, SITE, context.keyring)
    (state_dir / "cloud-keyring.cose").write_bytes(keyring)
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
                "broker": {"host": "127.0.0.1", "port": port, "username": node},
            },
            state_dir / "cloud-root.pem",
            state_dir / "cloud-keyring.cose",
            None,
            passphrase,
        )
        password = states[node].directory / "broker.password"
        password.write_text(PASSWORD)
        password.chmod(0o600)
        keys[node] = states[node].identity(passphrase)
        with context.sessions.begin() as db:
            db.add(
                Device(
                    site=SITE,
                    node=node,
                    kind="tripod",
                    zone=1,
                    public_key=keystore.raw_public(keys[node].public_key),
                )
            )
    return states, keys


def _cloud_env(cloud_state: Path, url: str, broker_port: int, passphrase: bytes) -> dict[str, str]:
    return {
        **os.environ,
        "SCENIC_STATE_DIR": str(cloud_state),
        "SCENIC_DB_URL": url,
        "SCENIC_KEY_PASSPHRASE": passphrase.decode(),
        "SCENIC_BROKER_PORT": str(broker_port),
        "SCENIC_BROKER_USERNAME": "cloud",
        "SCENIC_BROKER_PASSWORD": PASSWORD,
    }


def _buy(
    api: str, inventory_id: int, key: str, quantity: int = 1, group: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A visitor buys online and pays in the sandbox; returns the order and its tickets."""
    order = httpx.post(
        f"{api}/api/v1/orders",
        headers={"Idempotency-Key": key},
        json={
            "site": SITE,
            "contact": f"1380000{key[-4:]}",
            "lines": [
                {
                    "inventory_id": inventory_id,
                    "price_type": "adult",
                    "quantity": quantity,
                    "group_ticket": group,
                }
            ],
        },
    ).json()
    token = {"X-Order-Token": order["access_token"]}
    httpx.post(f"{api}/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    paid = httpx.get(f"{api}/api/v1/orders/{order['order_no']}", headers=token).json()
    return order, paid["tickets"]


def _visitors(console: Console, gates: dict[str, Gate], api: str, inventory_id: int) -> None:
    table = Table(title=f"Site {SITE}: bought online, checked at two gates / 网上购票，闸机检票")
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

    _, (family,) = _buy(api, inventory_id, "demo-family-0001", quantity=3, group=True)
    row("G1", "family of three, one code 三人一码", family["text"], 3)
    time.sleep(0.3)  # gossip reaches the west gate in tens of milliseconds
    row("G2", "same code, other gate 换门再用", family["text"], 1)
    refund_order, (refunded,) = _buy(api, inventory_id, "demo-refund-0002")
    answer = httpx.post(
        f"{api}/api/v1/orders/{refund_order['order_no']}/refunds",
        headers={"X-Order-Token": refund_order["access_token"]},
        json={},
    )
    console.print(
        f"Refund over the API: {answer.json().get('refund_fen', 0) / 100:.2f} yuan "
        "back; the gates are told at once."
    )
    time.sleep(0.5)
    row("G2", "refunded ticket 已退票", refunded["text"], 1)
    for number in range(3, 13):
        _, (ticket,) = _buy(api, inventory_id, f"demo-visitor-{number:04d}")
        row("G1" if number % 2 else "G2", f"visitor {number}", ticket["text"], 1)
    console.print(table)


def _cloud_summary(console: Console, sessions: Any, url: str, port: int, api: str) -> None:
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
    console.print(f"Ticket office API: {api}/docs (OpenAPI). Broker: mqtt://127.0.0.1:{port}.")
    console.print(
        "The manager dashboard is not built yet; these figures come from the cloud "
        "database it will read."
    )
