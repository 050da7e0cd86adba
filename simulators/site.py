"""A whole site on one machine: the ticket office, a broker, three gates and their visitors.

Used by ``make demo``. Everything is the product's own code and processes:
- the cloud: ``scenic-cloud serve`` (HTTP API, SQLite), ``scenic-cloud ingest``, and the
  downlink service, with keys made by ``keys init`` (encrypted);
- Mosquitto from broker/site.conf;
- three gates, one of each kind (tripod, wing, swing), each a ``gate-node run`` process on
  simulated hardware (simulators/lane_process.py: shared pins, a mechanism, a serial scanner
  on a pseudo-terminal), that pin the cloud's root key and keyring, share their uses and
  report every entry;
- visitors who buy online through the API, pay in the sandbox, show their codes at a gate and,
  once, ask for a refund, which the gates learn of at once.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cloud.api.context import from_settings
from cloud.core.config import Settings
from cloud.models import GateEventRecord, NodeLink, ParkCount
from cloud.mqtt.downlink_service import DownlinkService
from cloud.services.cloud_keys import init_keys
from cloud.services.downlink_documents import signed_keyring
from keys import keystore
from keys.clock import SYSTEM, Clock, site_today
from provisioning.node_init import initialise
from simulators.broker import PASSWORD, Broker
from simulators.cloud_server import cloud_server, post_json
from simulators.ingest_processes import IngestProcesses
from simulators.lane_process import LaneError, LaneProcess

SITE = "DEMO"
TZ = ZoneInfo("Asia/Shanghai")
GATES = {
    "G1": ("tripod", "east gate, tripod 东门三辊闸"),
    "G2": ("wing", "west gate, wing 西门翼闸"),
    "G3": ("swing", "wide lane, swing 宽通道摆闸"),
}
BIN = Path(sys.executable).parent


class Gate(LaneProcess):
    """A lane of the demo site: a ``gate-node run`` process beside its simulated mechanism."""

    def __init__(self, folder: Path, node: str, kind: str, passphrase_file: Path) -> None:
        super().__init__(
            folder / f"lane-{node}", kind, folder / f"site-{node}", passphrase_file, node=node
        )

    def outbox(self) -> int:
        return self.journal().outbox


class DayStock:
    """The demo day ticket's places for the site's current day, opened over the API the first
    time a day is asked for: a demo left running past midnight (site time) keeps selling for
    the new day instead of offering yesterday's places, which the ticket office refuses."""

    def __init__(
        self, api: str, staff: dict[str, str], product_id: int, clock: Clock = SYSTEM
    ) -> None:
        self.api, self.staff, self.product_id, self.clock = api, staff, product_id, clock
        self._ids: dict[str, int] = {}

    def today(self) -> int:
        """The inventory id for today in the site's zone (opening it if it is new)."""
        day = site_today(self.clock, TZ).isoformat()
        if day not in self._ids:
            stock = post_json(
                self.api,
                "inventory",
                {"product_id": self.product_id, "day": day, "capacity": 5000},
                self.staff,
                f"demo-inventory-{day}",
            )
            self._ids[day] = int(stock["inventory_id"])
        return self._ids[day]


@dataclass
class Running:
    """A site that is up: where to reach it, and the parts a visitor walks past."""

    api: str
    broker_port: int
    login: tuple[str, str]
    staff: dict[str, str]
    stock: DayStock
    gates: dict[str, Gate]
    sessions: Any


@contextmanager
def site(console: Console, state_dir: Path, passphrase: bytes) -> Iterator[Running]:
    """Bring the whole site up, as an operator would, and take it all down on leaving.

    The cloud is set up through its own commands and API: ``keys init``, ``serve`` (which
    migrates the database), ``admin create``, then the catalogue over HTTP with a manager's
    token and each gate's key with ``device add``. The simulator signs nothing for the cloud
    and writes none of its tables.
    """
    cloud_state = state_dir / "cloud"
    init_keys(cloud_state, passphrase)
    url = f"sqlite:///{cloud_state / 'cloud.sqlite'}"
    with ExitStack() as cleanup:  # everything started is stopped, in reverse, whatever fails
        broker = Broker(state_dir / "broker", users=["cloud", *GATES], site=SITE).start()
        cleanup.callback(broker.stop)
        env = _cloud_env(cloud_state, url, broker.port, passphrase)
        console.print("Starting the ticket office / 启动票务云 ...")
        api = cleanup.enter_context(cloud_server(env, port=_preferred_port()))
        login = _manager(env)
        staff = _sign_in(api, login)
        stock = _catalogue(api, staff)
        context = from_settings(Settings(state_dir=cloud_state, db_url=url), passphrase)
        cleanup.callback(context.engine.dispose)
        passphrase_file = state_dir / "gate-passphrase"  # what systemd's credential holds
        passphrase_file.write_bytes(passphrase)
        passphrase_file.chmod(0o600)
        running: dict[str, Gate] = {}
        for node, (kind, _) in GATES.items():
            running[node] = Gate(state_dir, node, kind, passphrase_file)
            cleanup.callback(running[node].close)
        _gates(context, state_dir, running, broker.port, passphrase, env)
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
        console.print("Starting three gates / 启动三台闸机 (gate-node run) ...")
        for gate in running.values():
            gate.power_on(wait=False)
        for gate in running.values():
            gate.power_on_wait()
        yield Running(api, broker.port, login, staff, stock, running, context.sessions)


def run_site(console: Console, state_dir: Path, passphrase: bytes, live_s: float | None) -> None:
    """The scripted tour, then visitors keep coming until ``live_s`` has passed (None: until
    Ctrl-C); the site stops cleanly either way."""
    with site(console, state_dir, passphrase) as up:
        _visitors(console, up.gates, up.api, up.stock)
        _drain(up.gates)
        _cloud_summary(console, up.sessions)
        _announce(console, up, live_s)
        _live(console, up, live_s)


def _preferred_port() -> int | None:
    """$DEMO_PORT, else 8000 when it is free (a URL a person can remember), else any."""
    value = os.environ.get("DEMO_PORT", "8000")
    if not value.isdigit() or int(value) > 65535:
        raise ValueError(f"DEMO_PORT={value!r} is not a port number / DEMO_PORT 应为端口号")
    wanted = int(value)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            return None
    return wanted


def _manager(env: dict[str, str]) -> tuple[str, str]:
    """A demo manager account, made with the operator's own command."""
    username, password = "demo-manager", secrets.token_urlsafe(12)
    subprocess.run(
        [str(BIN / "scenic-cloud"), "admin", "create", "--username", username, "--role", "manager"],
        env={**env, "SCENIC_ADMIN_PASSWORD": password},
        check=True,
        capture_output=True,
    )
    return username, password


def _sign_in(api: str, login: tuple[str, str]) -> dict[str, str]:
    answer = httpx.post(
        f"{api}/api/v1/auth/token", json={"username": login[0], "password": login[1]}
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _catalogue(api: str, staff: dict[str, str]) -> DayStock:
    """The demo site's catalogue, over the API as a manager would enter it; today's places
    are opened at once."""

    def post(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return post_json(api, path, body, staff, key)

    post(
        "sites",
        {
            "code": SITE,
            "name_zh": "演示景区",
            "name_en": "Demo scenic area",
            "timezone": str(TZ),
            "zones": [{"zone": 1, "name_zh": "主景区", "name_en": "Main area"}],
        },
        "demo-site",
    )
    product = post(
        "products",
        {
            "site": SITE,
            "code": "DAY",
            "name_zh": "日票",
            "name_en": "Day ticket",
            "kind": "day",
            "refund_until_hours": -24,  # refundable until the visit day ends
            "prices": [
                {"price_type": "adult", "amount_fen": 8000},
                {"price_type": "child", "amount_fen": 4000},
            ],
        },
        "demo-product",
    )
    stock = DayStock(api, staff, int(product["id"]))
    stock.today()
    return stock


def _gates(
    context: Any,
    state_dir: Path,
    gates: dict[str, Gate],
    port: int,
    passphrase: bytes,
    env: dict[str, str],
) -> None:
    """Gate state directories pinning the cloud's root key and its signed keyring, their
    scanners on the lanes' serial lines; each gate's identity key registered with
    ``scenic-cloud device add``, as an installer does."""
    (state_dir / "cloud-root.pem").write_text(keystore.public_pem(context.root.public_key))
    with context.sessions.begin() as db:
        keyring = signed_keyring(db, context.root, SITE, context.keyring)
    (state_dir / "cloud-keyring.cose").write_bytes(keyring)
    for node, gate in gates.items():
        state = initialise(
            gate.state_dir,
            {
                "site": SITE,
                "node": node,
                "kind": gate.kind,
                "zone": 1,
                "timezone": str(TZ),
                "readers": gate.readers(),
                "broker": {"host": "127.0.0.1", "port": port, "username": node},
            },
            state_dir / "cloud-root.pem",
            state_dir / "cloud-keyring.cose",
            None,
            passphrase,
        )
        password = state.directory / "broker.password"
        password.write_text(PASSWORD)
        password.chmod(0o600)
        public = state.directory / "identity.pub.pem"
        public.write_text(keystore.public_pem(state.identity(passphrase).public_key))
        subprocess.run(
            [
                str(BIN / "scenic-cloud"),
                "device",
                "add",
                "--site",
                SITE,
                "--node",
                node,
                "--public-key",
                str(public),
                "--kind",
                gate.kind,
                "--zone",
                "1",
            ],
            env=env,
            check=True,
            capture_output=True,
        )


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
    api: str, stock: DayStock, key: str, quantity: int = 1, group: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A visitor buys today's day ticket online and pays in the sandbox; returns the order and
    its tickets. A refusal raises RuntimeError with the ticket office's answer."""
    order = post_json(
        api,
        "orders",
        {
            "site": SITE,
            "contact": f"1380000{key[-4:]}",
            "lines": [
                {
                    "inventory_id": stock.today(),
                    "price_type": "adult",
                    "quantity": quantity,
                    "group_ticket": group,
                }
            ],
        },
        {},
        key,
    )
    token = {"X-Order-Token": order["access_token"]}
    httpx.post(f"{api}/api/v1/sandbox/pay/{order['order_no']}", headers=token)
    paid = httpx.get(f"{api}/api/v1/orders/{order['order_no']}", headers=token).json()
    return order, paid["tickets"]


def _visitors(console: Console, gates: dict[str, Gate], api: str, stock: DayStock) -> None:
    table = Table(title=f"Site {SITE}: bought online, checked at three gates / 网上购票，闸机检票")
    for column in ("where", "visitor", "decision", "reason / 原因", "passed"):
        table.add_column(column)

    def row(node: str, who: str, text: str, walkers: int) -> None:
        gate = gates[node]
        before = gate.mechanism.counts["passed_in"]
        decision = gate.visit(text, walkers)
        zh, en = decision.message(TZ)
        table.add_row(
            GATES[node][1],
            who,
            "grant" if decision.grant else "deny",
            f"{en} / {zh}",
            str(gate.mechanism.counts["passed_in"] - before),
        )

    _, (family,) = _buy(api, stock, "demo-family-0001", quantity=3, group=True)
    row("G1", "family of three, one code 三人一码", family["text"], 3)
    SYSTEM.sleep(0.3)  # gossip reaches the west gate in tens of milliseconds
    row("G2", "same code, other gate 换门再用", family["text"], 1)
    refund_order, (refunded,) = _buy(api, stock, "demo-refund-0002")
    answer = httpx.post(
        f"{api}/api/v1/orders/{refund_order['order_no']}/refunds",
        headers={"X-Order-Token": refund_order["access_token"]},
        json={},
    )
    console.print(
        f"Refund over the API: {answer.json().get('refund_fen', 0) / 100:.2f} yuan "
        "back; the gates are told at once."
    )
    SYSTEM.sleep(0.5)
    row("G2", "refunded ticket 已退票", refunded["text"], 1)
    for number in range(3, 13):
        _, (ticket,) = _buy(api, stock, f"demo-visitor-{number:04d}")
        row(("G1", "G2", "G3")[number % 3], f"visitor {number}", ticket["text"], 1)
    console.print(table)


def _drain(gates: dict[str, Gate], timeout_s: float = 30) -> None:
    """Wait until every gate's outbox is acknowledged by the cloud (or the timeout passes).

    Empty twice, half a second apart: a passage is recorded a tick after the last visitor
    is through, so one empty reading can come just before it."""
    deadline = SYSTEM.monotonic() + timeout_s
    empty = 0
    while empty < 2 and SYSTEM.monotonic() < deadline:
        empty = empty + 1 if not any(g.outbox() for g in gates.values()) else 0
        SYSTEM.sleep(0.5)


def _cloud_summary(console: Console, sessions: Any) -> str:
    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(GateEventRecord))
        counts = session.scalars(select(ParkCount)).all()
        links = session.scalars(select(NodeLink)).all()
    inside = sum(c.in_park for c in counts)
    online = ", ".join(f"{link.node} {link.state}" for link in links)
    line = (
        f"Cloud: {events} signed gate events stored, {inside} visitors in the park now "
        f"(在园人数), links: {online}."
    )
    console.print(line)
    return line


def _announce(console: Console, up: Running, live_s: float | None) -> None:
    stop = (
        f"stops by itself in {live_s:.0f} s (DEMO_SECONDS) / {live_s:.0f} 秒后自动停止"
        if live_s is not None
        else "Ctrl-C stops everything / 按 Ctrl-C 停止全部"
    )
    gates = ", ".join(
        f"{node} {GATES[node][0]} (pid {gate.node.pid if gate.node else '-'})"
        for node, gate in up.gates.items()
    )
    console.print(
        f"""
[bold]Site {SITE} is running / 演示景区运行中[/bold]
  Ticket office API / 票务接口:   {up.api}/docs
  Visitor's shop / 游客购票页:    {up.api}/shop/{SITE}  (posters: /api/v1/sites/{SITE}/poster.pdf)
  Printable order pages / 订单页: {up.api}/api/v1/orders/{{order_no}}/print (X-Order-Token)
  Manager login / 管理员账号:     {up.login[0]} / {up.login[1]}  (POST {up.api}/api/v1/auth/token)
  Dashboard / 管理看板:           {up.api}/dashboard  (manager login above / 用上面的管理员账号)
  Site broker / 站点消息服务:     mqtt://127.0.0.1:{up.broker_port}
  Gates / 闸机:                   {gates}
Visitors keep arriving at the three gates; {stop}.
""",
        soft_wrap=True,  # a URL broken over two lines cannot be copied
    )


def _live_summary(console: Console, up: Running, seen: Counter[str]) -> None:
    """Every ten seconds: what visitors met, what each gate recorded, what the cloud holds."""
    now = SYSTEM.now().astimezone(TZ).strftime("%H:%M:%S")
    tally = ", ".join(f"{what} {count}" for what, count in sorted(seen.items()))
    console.print(f"[dim]{now}[/dim] {tally}")
    for node, gate in up.gates.items():
        journal = gate.journal()
        console.print(
            f"  {node} {GATES[node][0]:6}: {journal.passed} passed, {len(journal.denials)} "
            f"refused, {journal.rolled_back} given back, {journal.outbox} not yet in the cloud"
        )
    _cloud_summary(console, up.sessions)


def _live(console: Console, up: Running, live_s: float | None, seed: int = 7) -> None:
    """Visitors keep coming, a few a second (a festival's pace, compressed: no waits between
    them but the mechanisms' own): most buy and walk in, some come back with a used code; a
    summary every ten seconds."""
    rng = random.Random(seed)
    started = SYSTEM.monotonic()
    report_at = started + 10
    sold: list[str] = []
    seen: Counter[str] = Counter()
    number = 100
    while live_s is None or SYSTEM.monotonic() - started < live_s:
        number += 1
        node = rng.choice(list(up.gates))
        try:
            if len(sold) > 5 and rng.random() < 0.1:
                # A used code, shown again a while later (the same code held to the scanner
                # twice within 3 s is one read, not a second try).
                decision = up.gates[node].visit(rng.choice(sold[:-5]), 1)
            else:
                people = rng.choice((1, 1, 1, 2, 3, 4))
                _, (ticket,) = _buy(
                    up.api, up.stock, f"demo-live-{number:05d}", people, group=people > 1
                )
                sold.append(ticket["text"])
                seen["sold"] += people
                decision = up.gates[node].visit(ticket["text"], people)
        except LaneError as exc:  # a lane that does not answer is reported, the site goes on
            console.print(f"[red]{node}: {exc}[/red]")
            seen["no answer"] += 1
            continue
        except RuntimeError as exc:  # a sale refused (the day turning mid-order): said, go on
            console.print(f"[red]sale refused / 售票失败: {exc}[/red]")
            seen["sale refused"] += 1
            continue
        seen["granted" if decision.grant else f"refused {decision.reason}"] += 1
        if SYSTEM.monotonic() >= report_at:
            report_at += 10
            _live_summary(console, up, seen)
        SYSTEM.sleep(rng.uniform(0.1, 0.5))
    _drain(up.gates)
    console.print("The live run is over / 演示结束:")
    _cloud_summary(console, up.sessions)
