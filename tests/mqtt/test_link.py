"""Entries reach the cloud once, downlink is trusted only when signed, gates share their uses."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from tinydb import TinyDB

from cloud.db import make_engine, session_factory
from cloud.models import GateEventRecord, ParkCount, RefusedEvent
from gate_node.assembly import Node, build
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState
from keys import keystore
from keys.claims import TicketClaims
from keys.clock import ManualClock, site_today
from keys.gate_event import sign_event
from keys.keyring import IssuerKey, sign_keyring
from keys.revocation import sign_revocations
from keys.ticket import issue_ticket
from simulators.broker import PASSWORD
from tests.conftest import SITE_TIMEZONE, TEST_AT
from tests.mqtt.conftest import wait_until

pytestmark = pytest.mark.mqtt
TODAY = site_today(ManualClock(TEST_AT), SITE_TIMEZONE)  # the lanes' day (their clock: TEST_AT)


def ticket(issuer, number: int, **extra) -> str:
    return issue_ticket(
        issuer,
        TicketClaims(
            ticket_id=number.to_bytes(8, "big"),
            product=1,
            valid_from=TODAY,
            valid_until=TODAY,
            **extra,
        ),
    )


class Lane:
    """A node on mock pins with its loop stepped in 5 ms ticks, as systemd would run it; its
    clock starts at ``TEST_AT`` and moves 5 ms a tick."""

    def __init__(self, site, node: str) -> None:
        self.pins = MockFactory()
        self.pins.pin(21).drive_high()
        self.clock = ManualClock(TEST_AT)
        state = NodeState.open(site.nodes[node].directory, self.clock)  # as at service start
        self.node: Node = build(
            state, self.pins, with_camera=False, node_key=site.keys[node], clock=self.clock
        )
        self.now = 0
        uplink = self.node.service.link[0]
        assert wait_until(lambda: uplink.connected, step=self.step)

    def step(self) -> None:
        self.now += 5
        self.clock.advance(0.005)
        self.node.service.step(self.now)

    def scan(self, text: str) -> None:
        self.node.service.repeats.hold_s = 0
        self.node.service.reads.put(Credential("qr", text))
        self.step()

    def walk_through(self) -> None:
        for level in (True, False):
            self.pins.pin(5).drive_high() if level else self.pins.pin(5).drive_low()
            for _ in range(20):
                self.step()

    @property
    def outbox(self) -> int:
        return self.node.service.ledger.counts()["outbox"]

    def close(self) -> None:
        self.node.close()
        self.pins.reset()


def stored(url: str, **where) -> int:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        query = select(func.count()).select_from(GateEventRecord).filter_by(**where)
        count = session.scalar(query) or 0
    engine.dispose()
    return count


def test_an_entry_reaches_the_cloud_and_leaves_the_outbox_only_when_acknowledged(site, worker):
    site.add_node("G1")
    lane = Lane(site, "G1")
    lane.scan(ticket(site.issuer, 1))
    lane.walk_through()
    assert wait_until(lambda: lane.outbox == 0, step=lane.step), "the cloud never acknowledged"
    assert lane.node.service.ledger.last_cloud_ack() is not None
    assert stored(site.url, node="G1", kind="use") == 1
    assert stored(site.url, node="G1", kind="passage") == 1
    engine = make_engine(site.url)
    with session_factory(engine)() as session:
        assert sum(c.entries for c in session.scalars(select(ParkCount))) == 1
    engine.dispose()
    lane.close()


def test_events_wait_at_the_broker_while_the_ingest_worker_is_away(site, broker):
    from tests.mqtt.conftest import RunningWorker

    RunningWorker(site).stop()  # its persistent session exists; the worker is gone
    site.add_node("G1")
    lane = Lane(site, "G1")
    lane.scan(ticket(site.issuer, 2))
    lane.walk_through()
    for _ in range(200):
        lane.step()
    assert lane.outbox >= 2  # PUBACKed by the broker, but nobody has stored them
    late = RunningWorker(site)
    assert wait_until(lambda: lane.outbox == 0, step=lane.step)
    late.stop()
    lane.close()


def test_events_nobody_was_subscribed_for_are_sent_again(site, broker):
    from tests.mqtt.conftest import RunningWorker

    site.add_node("G1", resend_s=1)  # no ingest session at all yet: the broker drops them
    lane = Lane(site, "G1")
    lane.scan(ticket(site.issuer, 3))
    lane.walk_through()
    late = RunningWorker(site)
    assert wait_until(lambda: lane.outbox == 0, step=lane.step)
    assert stored(site.url, node="G1", kind="use") == 1
    late.stop()
    lane.close()


def test_birth_is_retained_and_the_will_says_offline_with_the_same_session(site, broker):
    site.add_node("G1")
    seen: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher.username_pw_set("cloud", PASSWORD)
    watcher.on_message = lambda c, u, m: seen.append(m.payload)
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("scenic/S1/gate/G1/state", qos=1)
    watcher.loop_start()
    lane = Lane(site, "G1")
    assert wait_until(lambda: any(b'"online"' in s for s in seen), step=lane.step)
    lane.node.service.link[0]._client._sock.close()  # the network drops, no goodbye
    assert wait_until(lambda: any(b'"offline"' in s for s in seen), timeout=40, step=lane.step)
    online = next(s for s in seen if b'"online"' in s)
    offline = next(s for s in seen if b'"offline"' in s)
    assert b'"session": 1' in online and b'"session": 1' in offline
    watcher.loop_stop()
    lane.close()


def test_a_node_cannot_publish_as_another_node(site, worker, broker):
    site.add_node("G1")
    site.add_node("G2")
    impostor = mqtt.Client(CallbackAPIVersion.VERSION2)
    impostor.username_pw_set("G2", PASSWORD)
    impostor.connect("127.0.0.1", broker.port)
    impostor.loop_start()
    forged = sign_event(
        site.keys["G2"],
        site="S1",
        node="G1",
        seq=999,
        kind="passage",
        at_ms=0,
        data={"use": 1, "dir": "in"},
    )
    impostor.publish("scenic/S1/gate/G1/event", forged, qos=1).wait_for_publish(5)
    as_itself = sign_event(
        site.keys["G2"],
        site="S1",
        node="G1",
        seq=998,
        kind="passage",
        at_ms=0,
        data={"use": 1, "dir": "in"},
    )
    impostor.publish("scenic/S1/gate/G2/event", as_itself, qos=1).wait_for_publish(5)
    engine = make_engine(site.url)

    def refused() -> int:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(RefusedEvent)) or 0

    assert wait_until(lambda: refused() == 1)  # its own topic, but claiming to be G1
    assert stored(site.url, node="G1") == 0  # the ACL dropped the other one at the broker
    impostor.loop_stop()
    engine.dispose()


def test_forged_and_replayed_downlink_is_never_applied(site, broker, issuer_key):
    state = site.add_node("G1")
    lane = Lane(site, "G1")
    cloud = mqtt.Client(CallbackAPIVersion.VERSION2)
    cloud.username_pw_set("cloud", PASSWORD)
    cloud.connect("127.0.0.1", broker.port)
    cloud.loop_start()
    day = TODAY
    good = sign_revocations(
        site.root, site="S1", seq=5, kind="snapshot", revoked={(7).to_bytes(8, "big"): day}
    )
    impostor = keystore.generate("root", "R1")
    forged = sign_revocations(impostor, site="S1", seq=9, kind="snapshot", revoked={})
    older = sign_revocations(site.root, site="S1", seq=4, kind="snapshot", revoked={})
    forged_keyring = sign_keyring(
        impostor, [IssuerKey(b"X1", impostor.public_key)], site="S1", seq=10**12
    )
    for payload in (good, forged, b"not signed at all", older):
        cloud.publish("scenic/S1/down/revocations", payload, qos=1).wait_for_publish(5)
    cloud.publish("scenic/S1/down/keyring", forged_keyring, qos=1).wait_for_publish(5)
    downlink = lane.node.service.link[1]
    assert wait_until(lambda: sum(downlink.refused.values()) >= 4, step=lane.step)
    assert downlink.applied["revocations"] == 1
    assert set(downlink.refused) >= {"bad_signature", "stale_sequence"}
    lane.scan(ticket(site.issuer, 7))
    assert lane.node.service.decisions[-1].reason.value == "revoked"
    assert lane.node.service.engine.keyring.kids == ["I1"]  # the forged keyring was not taken
    cloud.loop_stop()
    lane.close()
    del state, issuer_key


def test_two_gates_one_single_use_ticket_refused_at_the_second_while_linked(site, broker):
    site.add_node("G1")
    site.add_node("G2")
    first, second = Lane(site, "G1"), Lane(site, "G2")
    text = ticket(site.issuer, 11)
    first.scan(text)
    first.walk_through()

    def second_knows() -> bool:
        second.step()
        first.step()
        return bool(second.node.service.ledger.prior_uses((11).to_bytes(8, "big")))

    assert wait_until(second_knows)
    second.scan(text)
    decision = second.node.service.decisions[-1]
    assert decision.reason.value == "already_used" and decision.earlier.node == "G1"
    first.close()
    second.close()


def test_partitioned_gates_both_admit_and_the_merge_raises_a_double_entry_alarm(site, broker):
    from tests.mqtt.proxy import Proxy

    site.add_node("G1")
    state = site.add_node("G2")
    proxy = Proxy(broker.port)  # G2 reaches the broker only through this link
    config = dict(state.config.broker or {})
    config["port"] = proxy.port
    with TinyDB(state.directory / "node.json") as db:
        db.table("config").update({"broker": config})
    first, second = Lane(site, "G1"), Lane(site, "G2")
    proxy.cut()
    assert wait_until(lambda: not second.node.service.link[0].connected, step=second.step)
    text = ticket(site.issuer, 21)
    first.scan(text)
    first.walk_through()
    for _ in range(100):
        first.step()
    second.scan(text)  # partitioned: G2 cannot know, decides alone, admits
    assert second.node.service.decisions[-1].grant
    second.walk_through()
    proxy.heal()

    def alarmed() -> bool:
        first.step()
        second.step()
        return any(
            event.kind == "alarm" and event.data.get("alarm") == "double_entry"
            for lane in (first, second)
            for event in lane.node.service.ledger.pending_events(0, 10_000)
        )

    assert wait_until(alarmed, timeout=30), "no double-entry alarm after the link returned"
    first.close()
    second.close()
    proxy.close()


def test_a_gate_back_from_an_outage_drains_in_signed_batches_stored_once(site, broker, worker):
    """Events pile up while the link is cut; at the reconnect they go as batches (one node
    signature each), the cloud stores each once with its batch kept for proof, every event is
    acknowledged, and the peer still verifies and merges each use from the gossip."""
    from cloud.models import GateEventBatch
    from cloud.services.ingest import prove
    from tests.mqtt.proxy import Proxy

    site.add_node("G1")
    state = site.add_node("G2")
    proxy = Proxy(broker.port)
    config = dict(state.config.broker or {})
    config["port"] = proxy.port
    with TinyDB(state.directory / "node.json") as db:
        db.table("config").update({"broker": config})
    peer, away = Lane(site, "G1"), Lane(site, "G2")
    proxy.cut()
    assert wait_until(lambda: not away.node.service.link[0].connected, step=away.step)
    for number in range(31, 36):
        away.scan(ticket(site.issuer, number))
        away.walk_through()
    pending = away.outbox
    assert pending >= 10
    proxy.heal()

    def drained() -> bool:
        peer.step()
        away.step()
        return away.outbox == 0

    assert wait_until(drained, timeout=30), "the outbox never drained"
    assert stored(site.url, node="G2") == pending  # each once
    engine = make_engine(site.url)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(GateEventBatch)) >= 1
        records = session.scalars(select(GateEventRecord).filter_by(node="G2")).all()
        assert any(r.batch is not None for r in records)
        for record in records:  # every stored event still proven by G2's key
            assert prove(session, record, site.keys["G2"].public_key).kind == record.kind
    engine.dispose()
    assert wait_until(
        lambda: all(
            peer.node.service.ledger.prior_uses(n.to_bytes(8, "big")) for n in range(31, 36)
        ),
        step=peer.step,
    )
    peer.close()
    away.close()
    proxy.close()
