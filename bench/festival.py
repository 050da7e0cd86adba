"""A festival day under faults: visitors through 10 gates, the network dropping twice, one gate
power-cycled; then the reconciliation.

    python -m bench festival            # 5,000 visitors (about 3 minutes on 2 cores)
    FESTIVAL_VISITORS=50000 python -m bench festival   # the full day (see README for its time)

The day is simulators/visitors.py's lantern festival (peaks at opening and in the evening,
parties and tour groups, invalid, reused and forged codes), scaled to the chosen size. The
gates are the product's node services (six tripods, three wing barriers, one swing gate) on
mock GPIO with simulated mechanisms (real turn and flap timings), each with its own signed
uplink through a link that can be cut (simulators/netlink.py) to a real Mosquitto, two real
``scenic-cloud ingest`` workers into PostgreSQL, and gossip of uses between the gates.

**Compressed time.** The gates run on one ``ManualClock`` (their lane time) stepped in 20 ms
ticks while someone is at a lane, and jumped to the next arrival while all are idle; the
node code cannot tell. So a 12.5-hour day takes minutes. Network drops (10:20-10:50 and
19:00-19:20, all gates cut off from the broker: no uplink and no gossip) and the power cut
(gate G03 at 18:30, down one minute, SIGKILL-like: no clean stop) are at lane times.

Figures: entries per second of wall time sustained over the run; decision latency at the gates
(wall time of the loop pass that verified the code, recorded the use durably and opened the
lane); the lag until the cloud has the gates' passages (wall seconds, sampled every 0.2 s:
during a network drop it grows until the link is back); the reconciliation: every use and
passage the gates recorded is in the cloud exactly once, and every ticket admitted beyond its
allowance (reused codes shown at two gates while the network was down) carries a
``double_entry`` alarm in the cloud.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory
from sqlalchemy import func, select

from bench.report import percentiles, report
from cloud.db import make_engine, session_factory
from cloud.models import Device, GateEventRecord
from gate_node.assembly import Node, build
from gate_node.pin_map import DEFAULT_PIN_MAPS
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState
from keys import keystore
from keys.clock import ManualClock
from keys.keyring import IssuerKey, sign_keyring
from keys.node_registry import sign_node_registry
from keys.ticket import issue_ticket
from provisioning.node_init import initialise
from simulators.broker import PASSWORD, Broker
from simulators.databases import postgres_schema
from simulators.ingest_processes import IngestProcesses
from simulators.mechanisms import Mechanism, MockWires, make_mechanism
from simulators.netlink import Link
from simulators.visitors import Party, festival_day

SITE = "S1"
TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 2, 12)
KINDS = ["tripod"] * 6 + ["wing"] * 3 + ["swing"]
TICK_S = 0.02
PASSPHRASE = b"festival bench passphrase"
DROPS = (  # (start, minutes): all gates cut off from the broker
    (datetime(2026, 2, 12, 10, 20, tzinfo=TZ), 30),
    (datetime(2026, 2, 12, 19, 0, tzinfo=TZ), 20),
)
POWER_CUT = (datetime(2026, 2, 12, 18, 30, tzinfo=TZ), "G03", 60)  # when, which, seconds down


@dataclass
class Lane:
    name: str
    kind: str
    state_dir: Path
    key: keystore.SigningKey
    link: Link
    factory: MockFactory
    mechanism: Mechanism
    node: Node | None = None
    queue: list[tuple[Party, str]] = field(default_factory=list)
    current: Party | None = None
    walking: bool = False
    decided: int = 0
    last_step: float = 0.0
    last_lane_ms: int = 0  # lane time of the mechanism's last step
    down_until: datetime | None = None
    passed_before: int = 0  # passages by mechanisms replaced at a power cycle

    def passed(self) -> int:
        """People through this lane so far (the mechanism's count: the node records each
        passage in the same tick)."""
        return self.passed_before + self.mechanism.counts["passed_in"]

    def busy(self) -> bool:
        """Someone queuing or in the lane, or the lane not yet back at rest (flaps closing,
        a passage not yet debounced): it must then be ticked densely, as on a real gate."""
        at_rest = self.node is None or self.node.service.driver.ready
        return bool(self.queue or self.current or not self.mechanism.idle() or not at_rest)


def _gate_state(folder: Path, name: str, kind: str, port: int) -> NodeState:
    state = initialise(
        folder / name,
        {
            "site": SITE,
            "node": name,
            "kind": kind,
            "zone": 1,
            "timezone": str(TZ),
            "broker": {"host": "127.0.0.1", "port": port, "username": name, "resend_s": 5},
        },
        folder / "root.pem",
        folder / "ring.cose",
        None,
        PASSPHRASE,
    )
    (state.directory / "broker.password").write_text(PASSWORD)
    (state.directory / "broker.password").chmod(0o600)
    return state


def _power_on(lane: Lane, clock: ManualClock) -> None:
    lane.passed_before = lane.passed()
    lane.factory = MockFactory()
    lane.mechanism = make_mechanism(lane.kind, MockWires(lane.factory, DEFAULT_PIN_MAPS[lane.kind]))
    lane.node = build(
        NodeState.open(lane.state_dir),
        lane.factory,
        with_camera=False,
        node_key=lane.key,
        clock=clock,
    )
    lane.node.service.repeats.hold_s = 0  # each party is a new presentation
    lane.last_lane_ms = lane.node.ticks_ms()
    lane.decided = lane.node.service.granted + lane.node.service.denied


def _power_cut(lane: Lane) -> None:
    """The power goes: no clean stop (no give-back of the open use), the link just dies."""
    assert lane.node is not None
    node, lane.node = lane.node, None
    if node.service.link is not None:
        node.service.link[0].stop()
    if node.board:
        node.board.close()
    node.service.ledger.close()
    lane.current, lane.walking = None, False


def main() -> None:
    visitors = int(os.environ.get("FESTIVAL_VISITORS", "5000"))
    logging.disable(logging.WARNING)  # the gates' "link down" warnings are the scenario here
    plan = festival_day(DAY, visitors=visitors, seed=2026)
    root = keystore.generate("root", "R1")
    issuer = keystore.generate("issuer", "I1")
    forger = keystore.generate("issuer", "I1")
    names = [f"G{i:02d}" for i in range(1, len(KINDS) + 1)]
    texts = {
        id(p): (
            "HC1:NOT-A-TICKET"
            if p.claims is None
            else issue_ticket(forger if p.show == "forged" else issuer, p.claims)
        )
        for p in plan.parties
    }
    with tempfile.TemporaryDirectory() as tmp, postgres_schema() as url:
        folder = Path(tmp)
        (folder / "root.pem").write_text(keystore.public_pem(root.public_key))
        (folder / "ring.cose").write_bytes(
            sign_keyring(root, [IssuerKey(issuer.kid, issuer.public_key)], site=SITE, seq=1)
        )
        broker = Broker(folder / "broker", users=["cloud", *names], site=SITE).start()
        clock = ManualClock(datetime(2026, 2, 12, 8, 50, tzinfo=TZ).astimezone(UTC))
        lanes: list[Lane] = []
        for name, kind in zip(names, KINDS, strict=True):
            link = Link(broker.port)
            state = _gate_state(folder, name, kind, link.port)
            factory = MockFactory()
            mechanism = make_mechanism(kind, MockWires(factory, DEFAULT_PIN_MAPS[kind]))
            lanes.append(
                Lane(
                    name,
                    kind,
                    state.directory,
                    state.identity(PASSPHRASE),
                    link,
                    factory,
                    mechanism,
                )
            )
        registry = sign_node_registry(
            root, site=SITE, seq=1, nodes={lane.name: lane.key.public_key for lane in lanes}
        )
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            for lane in lanes:
                session.add(
                    Device(
                        site=SITE,
                        node=lane.name,
                        public_key=keystore.raw_public(lane.key.public_key),
                    )
                )
        workers = IngestProcesses(
            folder / "cloud", root, PASSPHRASE, url, broker.port, password=PASSWORD
        )
        workers.start("1")
        workers.start("2")
        for lane in lanes:
            (lane.state_dir / "nodes.cose").write_bytes(registry)
            _power_on(lane, clock)

        latencies: list[int] = []
        decisions: Counter[str] = Counter()
        checkpoints: list[tuple[float, int]] = []
        cloud_seen: list[tuple[float, int]] = []
        stop_monitor = threading.Event()

        def monitor() -> None:
            with session_factory(engine)() as session:
                while not stop_monitor.is_set():
                    count = session.scalar(
                        select(func.count())
                        .select_from(GateEventRecord)
                        .where(GateEventRecord.kind == "passage")
                    )
                    cloud_seen.append((time.monotonic(), int(count or 0)))
                    session.rollback()
                    stop_monitor.wait(0.2)

        threading.Thread(target=monitor, daemon=True).start()
        arrivals = list(plan.parties)
        rng_gate = 0
        network_up = True
        started = time.monotonic()
        next_checkpoint = started
        try:
            while arrivals or any(lane.busy() for lane in lanes):
                now = clock.now()
                # arrivals join the shortest queue (reused and shared codes try another gate)
                while arrivals and arrivals[0].at <= now:
                    party = arrivals.pop(0)
                    if party.show in ("reused", "shared"):
                        rng_gate = (rng_gate + 3) % len(lanes)
                        target = lanes[rng_gate]
                    else:
                        target = min(lanes, key=lambda lane: len(lane.queue) + lane.busy())
                    target.queue.append((party, texts[id(party)]))
                # faults
                cut = any(start <= now < start + timedelta(minutes=m) for start, m in DROPS)
                if cut and network_up:
                    for lane in lanes:
                        lane.link.cut()
                    network_up = False
                elif not cut and not network_up:
                    for lane in lanes:
                        lane.link.restore()
                    network_up = True
                when, victim, down_s = POWER_CUT
                for lane in lanes:
                    if (
                        lane.name == victim
                        and lane.node
                        and lane.down_until is None
                        and now >= when
                    ):
                        _power_cut(lane)
                        lane.down_until = now + timedelta(seconds=down_s)
                    elif lane.node is None and lane.down_until and now >= lane.down_until:
                        _power_on(lane, clock)
                # the lanes
                any_busy = False
                for lane in lanes:
                    if lane.node is None:
                        continue
                    busy = lane.busy()
                    any_busy |= busy
                    if not busy and time.monotonic() - lane.last_step < 0.05:
                        continue
                    _serve(lane, latencies, decisions)
                    lane.last_step = time.monotonic()
                if time.monotonic() >= next_checkpoint:
                    checkpoints.append((time.monotonic(), sum(lane.passed() for lane in lanes)))
                    next_checkpoint += 0.2
                if any_busy or any(lane.node is None for lane in lanes):
                    clock.advance(TICK_S)
                else:
                    gap = (arrivals[0].at - now).total_seconds() if arrivals else TICK_S
                    clock.advance(max(TICK_S, min(gap, 5.0)))
            run_s = time.monotonic() - started
            passed = sum(_ledger_passed(lane) for lane in lanes)
            checkpoints.append((time.monotonic(), passed))
            # drain: every gate's outbox acknowledged by the cloud
            drain_until = time.monotonic() + 180
            while time.monotonic() < drain_until and any(
                lane.node and lane.node.service.ledger.counts()["outbox"] for lane in lanes
            ):
                for lane in lanes:
                    assert lane.node is not None
                    lane.node.service.step(lane.node.ticks_ms())
                clock.advance(TICK_S)
                time.sleep(0.01)
            stop_monitor.set()
            reconciliation = _reconcile(lanes, engine)
        finally:
            stop_monitor.set()
            for lane in lanes:
                if lane.node:
                    lane.node.close()
                lane.link.close()
            workers.stop_all()
            broker.stop()
            engine.dispose()
    lags = _lags(checkpoints, cloud_seen)
    lat = percentiles(latencies)
    report(
        "festival",
        f"Festival day: {plan.visitors:,} visitors ({len(plan.parties):,} parties) through "
        f"{len(lanes)} gates, network down twice, {POWER_CUT[1]} power-cycled",
        [
            {"figure": "visitors passed (gates' ledgers)", "value": passed},
            {"figure": "run time, wall (s)", "value": round(run_s, 1)},
            {"figure": "entries/s sustained (wall)", "value": round(passed / run_s, 1)},
            {"figure": "decision latency p50 (ms)", "value": lat["p50_ms"]},
            {"figure": "decision latency p99 (ms)", "value": lat["p99_ms"]},
            {"figure": "lag until the cloud has the passages p50 (s)", "value": lags[0]},
            {"figure": "lag p99 (s)", "value": lags[1]},
            {"figure": "lag max (s, during a network drop)", "value": lags[2]},
            *({"figure": k, "value": v} for k, v in reconciliation.items()),
            {"figure": "decisions", "value": dict(sorted(decisions.items()))},
        ],
        "Lane time is compressed (module docstring): entries/s is per wall second on this "
        "machine, with the broker, two ingest workers and PostgreSQL on the same 2 cores.",
    )


def _ledger_passed(lane: Lane) -> int:
    """Passages in the lane's ledger (read-only: also while the gate is powered off)."""
    import sqlite3

    with sqlite3.connect(f"file:{lane.state_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        (count,) = db.execute(
            "SELECT COALESCE(SUM(passed), 0) FROM uses WHERE node = ?", (lane.name,)
        ).fetchone()
    return int(count)


def _serve(lane: Lane, latencies: list[int], decisions: Counter[str]) -> None:
    """One tick of a lane: the next party shows its code; the decision; people walk."""
    assert lane.node is not None
    service = lane.node.service
    if lane.current is None and lane.queue:
        party, text = lane.queue.pop(0)
        lane.current, lane.walking = party, False
        service.reads.put(Credential("qr", text))
    begun = time.perf_counter_ns()
    now_ms = lane.node.ticks_ms()
    service.step(now_ms)
    took = time.perf_counter_ns() - begun
    # the mechanism moves by the lane time that passed since its last step
    lane.mechanism.step(max(1, min(1000, now_ms - lane.last_lane_ms)))
    lane.last_lane_ms = now_ms
    made = service.granted + service.denied
    if made > lane.decided and lane.current is not None and not lane.walking:
        lane.decided = made
        latencies.append(took)
        decision = service.decisions[-1]
        decisions["granted" if decision.grant else decision.reason.value] += 1
        if decision.grant:
            decisions["people let in (grants x party size)"] += lane.current.people
            lane.mechanism.arrive("walk", count=lane.current.people)
            lane.walking = True
        else:
            lane.current = None
    elif lane.walking and lane.mechanism.idle():
        lane.current, lane.walking = None, False


def _lags(
    checkpoints: list[tuple[float, int]], cloud: list[tuple[float, int]]
) -> tuple[float, float, float]:
    lags = []
    for at, count in checkpoints:
        seen = next((t for t, c in cloud if c >= count and t >= at), None)
        if seen is not None and count:
            lags.append((seen - at) * 1e9)
    if not lags:
        return (0.0, 0.0, 0.0)
    stats = percentiles([int(x) for x in lags])
    return (
        round(stats["p50_ms"] / 1000, 2),
        round(stats["p99_ms"] / 1000, 2),
        round(max(lags) / 1e9, 2),
    )


def _reconcile(lanes: list[Lane], engine: Any) -> dict[str, Any]:
    """The gates' ledgers against the cloud: every use and passage once; over-allowance alarmed."""
    import sqlite3

    gate_uses: set[tuple[str, int]] = set()
    gate_passages = 0
    given_back = 0
    entries: dict[str, list[str]] = defaultdict(list)
    allowed: dict[str, int] = {}
    for lane in lanes:
        with sqlite3.connect(f"file:{lane.state_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
            for seq, ticket, granted, passed, rolled, allow in db.execute(
                "SELECT seq, ticket_id, granted, passed, rolled_back, allowed FROM uses"
                " WHERE node = ?",
                (lane.name,),
            ):
                gate_uses.add((lane.name, int(seq)))
                gate_passages += int(passed)
                given_back += int(rolled)
                if granted - rolled > 0:
                    entries[bytes(ticket).hex().upper()].append(lane.name)
                    allowed[bytes(ticket).hex().upper()] = int(allow)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(GateEventRecord.node, GateEventRecord.kind, GateEventRecord.data)
        ).all()
    cloud_uses = Counter((node, int(data["use"])) for node, kind, data in rows if kind == "use")
    cloud_passages = sum(1 for _, kind, _ in rows if kind == "passage")
    alarmed = {
        str(data.get("ticket"))
        for _, kind, data in rows
        if kind == "alarm" and data.get("alarm") == "double_entry"
    }
    over = {t for t, nodes in entries.items() if allowed.get(t, 1) and len(nodes) > allowed[t]}
    return {
        "passages given back (timeouts, power cut)": given_back,
        "uses at the gates / in the cloud": f"{len(gate_uses)} / {len(cloud_uses)}",
        "passages at the gates / in the cloud": f"{gate_passages} / {cloud_passages}",
        "uses missing in the cloud": len(gate_uses - set(cloud_uses)),
        "uses stored twice": sum(1 for c in cloud_uses.values() if c > 1),
        "tickets admitted beyond their allowance": len(over),
        "of which without a double_entry alarm": len(over - alarmed),
    }


if __name__ == "__main__":
    main()
