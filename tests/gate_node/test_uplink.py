"""The uplink signs the events pending at a pump together, and keeps the outbox contract: an
event leaves only on the cloud's signed ack, and what is unacknowledged goes again after
``resend_ms`` and after a reconnect. A fake paho client records what is published; PUBACKs
and connects are the callbacks paho would call. (Over a real broker: tests/mqtt/test_link.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from gate_node.ledger import Ledger
from gate_node.uplink import WINDOW, BrokerConfig, Uplink
from keys import keystore, topics
from keys.clock import ManualClock
from keys.gate_event import verify_event
from keys.gate_event_batch import DOC_TYPE as BATCH_TYPE
from keys.gate_event_batch import verify_report
from keys.node_registry import sign_node_registry
from keys.signed_document import verify_document
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state

EVENT_TOPIC, FACE_TOPIC, USES_TOPIC = (
    topics.event("S1", "G1").name,
    topics.face("S1", "G1").name,
    topics.uses("S1").name,
)
OK = SimpleNamespace(is_failure=False)


@dataclass
class Published:
    topic: str
    payload: bytes
    mid: int


@dataclass
class FakeClient:
    """What the uplink asks of paho's client, recording publishes; each gets a new mid."""

    published: list[Published] = field(default_factory=list)
    down: bool = False

    def publish(self, topic: str, payload: Any = b"", qos: int = 0, retain: bool = False) -> Any:
        if self.down:
            return SimpleNamespace(rc=4, mid=0)  # MQTT_ERR_NO_CONN
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        self.published.append(Published(topic, data, len(self.published) + 1))
        return SimpleNamespace(rc=0, mid=len(self.published))

    def __getattr__(self, name: str) -> Any:  # will_set, subscribe, loop_start, ...: no-ops
        return lambda *args, **kwargs: None

    def take(self, topic: str) -> list[Published]:
        taken = [p for p in self.published if p.topic == topic]
        self.published = [p for p in self.published if p.topic != topic]
        return taken


@pytest.fixture
def node_key():
    return keystore.generate("node", "N1")


@pytest.fixture
def link(tmp_path, node_key):
    clock = ManualClock(TEST_AT)
    ledger = Ledger(tmp_path / "ledger.sqlite", "G1", clock)
    client = FakeClient()
    uplink = Uplink(
        ledger,
        node_key,
        "S1",
        "G1",
        BrokerConfig("127.0.0.1", resend_ms=1000),
        session=1,
        client_factory=lambda *args, **kwargs: client,
    )
    connect(uplink, client)
    yield uplink, ledger, client
    ledger.close()


def connect(uplink: Uplink, client: FakeClient) -> None:
    uplink._on_connect(client, None, None, OK, None)
    client.take(topics.state("S1", "G1").name)


def puback(uplink: Uplink, messages: list[Published]) -> None:
    for message in messages:
        uplink._on_publish(None, None, message.mid, OK, None)


def seqs_of(message: Published, node_key) -> list[int]:
    return [e.seq for e in verify_report(message.payload, node_key.public_key, "S1").events]


def uses(ledger: Ledger, count: int) -> None:
    for n in range(count):
        ledger.record_use(n.to_bytes(8, "big"), TEST_AT + timedelta(seconds=n))


def test_a_lone_event_goes_at_once_as_a_single_signed_event(link, node_key):
    uplink, ledger, client = link
    uses(ledger, 1)
    assert uplink.pump(0) == 1
    (sent,) = client.take(EVENT_TOPIC)
    document = verify_document(sent.payload, node_key.public_key, doc_type="gate_event", site="S1")
    assert document.seq == 1
    (gossip,) = client.take(USES_TOPIC)
    assert gossip.payload == sent.payload  # the same signed bytes for peers
    ledger.record_passage(1)
    assert uplink.pump(5) == 1 and len(client.take(EVENT_TOPIC)) == 1  # no waiting for company


def test_events_pending_together_go_as_one_batch_and_peers_get_each_use_signed(link, node_key):
    uplink, ledger, client = link
    uses(ledger, 3)
    ledger.record_passage(1)
    ledger.record_face_bind(TEST_AT, b"sealed")
    ledger.record_heartbeat(TEST_AT, granted=3)
    assert uplink.pump(0) == 6
    first, second = client.take(EVENT_TOPIC)
    assert (
        verify_document(first.payload, node_key.public_key, doc_type=BATCH_TYPE, site="S1").seq == 1
    )
    assert seqs_of(first, node_key) == [1, 2, 3, 4] and seqs_of(second, node_key) == [6]
    (face,) = client.take(FACE_TOPIC)
    assert seqs_of(face, node_key) == [5]
    gossip = [verify_event(p.payload, node_key.public_key, "S1") for p in client.take(USES_TOPIC)]
    assert [(g.seq, g.kind) for g in gossip] == [(1, "use"), (2, "use"), (3, "use")]


def test_a_full_window_is_one_batch_and_the_rest_follows_its_puback(link, node_key):
    uplink, ledger, client = link
    uses(ledger, WINDOW + 36)
    assert uplink.pump(0) == WINDOW
    sent = client.take(EVENT_TOPIC)
    assert [seqs_of(m, node_key) for m in sent] == [list(range(1, WINDOW + 1))]
    assert uplink.pump(5) == 0 and uplink.awaiting_cloud == WINDOW  # window full: wait
    puback(uplink, sent)
    assert uplink.pump(10) == 36
    assert [seqs_of(m, node_key) for m in client.take(EVENT_TOPIC)] == [
        list(range(WINDOW + 1, WINDOW + 37))
    ]


def test_only_the_clouds_ack_removes_events_the_rest_is_resent_together(link, node_key):
    uplink, ledger, client = link
    uses(ledger, 5)
    uplink.pump(0)
    puback(uplink, client.take(EVENT_TOPIC))
    client.take(USES_TOPIC)
    uplink.pump(5)
    assert ledger.counts()["outbox"] == 5  # the broker has them; the cloud has not said so
    uplink.cloud_acknowledged([1, 3])
    assert [e.seq for e in ledger.pending_events()] == [2, 4, 5]
    assert uplink.pump(500) == 0 and client.published == []  # not overdue yet
    assert uplink.pump(1005) == 3
    (again,) = client.take(EVENT_TOPIC)
    assert seqs_of(again, node_key) == [2, 4, 5]
    assert len(client.take(USES_TOPIC)) == 3  # gossip goes again too (peers merge once)
    puback(uplink, [again])
    uplink.pump(1010)
    uplink.cloud_acknowledged([2, 4, 5])
    assert ledger.counts()["outbox"] == 0 and uplink.awaiting_cloud == 0


def test_after_a_reconnect_everything_in_the_outbox_goes_again(link, node_key):
    uplink, ledger, client = link
    uses(ledger, 4)
    uplink.pump(0)
    assert len(client.take(EVENT_TOPIC)) == 1  # lost with the link: never PUBACKed
    uplink.connected = False
    client.down = True
    uses(ledger, 2)
    assert uplink.pump(5) == 0
    client.down = False
    connect(uplink, client)
    assert uplink.pump(10) == 6
    assert [seqs_of(m, node_key) for m in client.take(EVENT_TOPIC)] == [[1, 2, 3, 4, 5, 6]]


def test_a_link_lost_mid_pump_publishes_the_rest_after_the_reconnect(link, node_key):
    uplink, ledger, client = link
    ledger.record_heartbeat(TEST_AT, granted=0)
    ledger.record_face_bind(TEST_AT, b"sealed")
    ledger.record_heartbeat(TEST_AT, granted=1)
    original = client.publish
    calls = []

    def fail_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return original(*args, **kwargs) if len(calls) < 2 else SimpleNamespace(rc=4, mid=0)

    client.publish = fail_second  # type: ignore[method-assign]
    assert uplink.pump(0) == 1  # the first heartbeat went; the face binding did not
    client.publish = original  # type: ignore[method-assign]
    assert [seqs_of(m, node_key) for m in client.take(EVENT_TOPIC)] == [[1]]
    connect(uplink, client)
    assert uplink.pump(5) == 3
    assert [seqs_of(m, node_key) for m in client.take(EVENT_TOPIC)] == [[1], [3]]
    assert [seqs_of(m, node_key) for m in client.take(FACE_TOPIC)] == [[2]]


def test_a_peer_verifies_and_merges_the_gossip_of_batched_uses(link, node_key, tmp_path):
    uplink, ledger, client = link
    uses(ledger, 3)
    uplink.pump(0)
    assert len(client.take(EVENT_TOPIC)) == 1  # one batch to the cloud
    root = keystore.generate("root", "R1")
    peer_state = make_state(tmp_path / "peer", root, keystore.generate("issuer", "I1"), node="G2")
    peer_state.apply_nodes(
        sign_node_registry(root, site="S1", seq=1, nodes={"G1": node_key.public_key})
    )
    engine = make_engine(peer_state, ManualClock(TEST_AT))
    peer = Downlink(peer_state, engine, ClockFloor(peer_state.clock_path), lambda what: None)
    for message in client.take(USES_TOPIC):
        peer.handle(message.topic, message.payload)
    assert peer.applied == {"peer_use": 3} and peer.refused == {}
    assert engine.ledger.prior_uses((2).to_bytes(8, "big"))[0].node == "G1"
