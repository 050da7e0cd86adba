"""Per-node broker logins made by the cloud through Mosquitto's dynamic security: a node's
login works on its own topics only, and a removed one no longer connects (real Mosquitto)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.mqtt.broker_logins import BrokerLogins, client_id
from keys import topics
from simulators.broker import ADMIN, PASSWORD, Broker
from tests.mqtt.conftest import wait_until

pytestmark = pytest.mark.mqtt
NODE_PASSWORD = "a-node-password-made-by-the-cloud"


@pytest.fixture
def dynsec_broker(tmp_path) -> Iterator[Broker]:
    instance = Broker(tmp_path / "broker", users=["cloud"], dynsec=True).start()
    yield instance
    instance.stop()


@pytest.fixture
def logins(dynsec_broker) -> BrokerLogins:
    return BrokerLogins("127.0.0.1", dynsec_broker.port, ADMIN, PASSWORD)


class Client:
    """A paho client that records what it received and which publishes the broker refused
    (MQTT 5 PUBACK reason codes: Mosquitto answers 135 "not authorized")."""

    def __init__(self, port: int, username: str, password: str, client: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        self.received: list[str] = []
        self.refused_connect: int | None = None
        self.acks: dict[int, int] = {}
        self.granted: list[int] = []
        self.ready = threading.Event()
        self.client.on_connect = self._connected
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_publish = lambda c, u, mid, reason, p: self.acks.__setitem__(
            mid, reason.value
        )
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.granted.extend(
            code.value for code in codes
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _connected(self, c, u, f, reason, p) -> None:
        if reason.is_failure:
            self.refused_connect = reason.value
        self.ready.set()

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b"x", qos=1)
        assert wait_until(lambda: info.mid in self.acks, 10)
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def node_client(port: int, node: str = "G1", site: str = "S1") -> Client:
    client = Client(port, node, NODE_PASSWORD, client_id(site, node))
    assert client.ready.wait(10)
    return client


def test_a_node_login_publishes_its_own_uplink(dynsec_broker, logins):
    logins.create("S1", "G1", NODE_PASSWORD)
    node = node_client(dynsec_broker.port)
    try:
        assert node.refused_connect is None
        # 16: "no matching subscribers", a success; a refusal is 135
        assert node.publish(topics.event("S1", "G1").name) in (0, 16)
        assert node.publish(topics.uses("S1").name) in (0, 16)
    finally:
        node.close()


def test_a_node_login_cannot_publish_as_another_node_or_to_the_downlink(dynsec_broker, logins):
    logins.create("S1", "G1", NODE_PASSWORD)
    node = node_client(dynsec_broker.port)
    try:
        assert node.publish(topics.event("S1", "G2").name) == 135
        assert node.publish(topics.down("S1", "keyring").name) == 135
        assert node.publish(topics.event("S2", "G1").name) == 135
    finally:
        node.close()


def test_a_node_reads_its_own_sites_downlink_and_not_another_sites(dynsec_broker, logins):
    logins.create("S1", "G1", NODE_PASSWORD)
    node = node_client(dynsec_broker.port)
    try:
        node.client.subscribe(topics.filter_for(topics.Kind.DOWN, "S1"), qos=1)
        node.client.subscribe(topics.filter_for(topics.Kind.DOWN, "S2"), qos=1)
        node.client.subscribe(topics.filter_for(topics.Kind.DOWN_NODE, "S1", "G2"), qos=1)
        assert wait_until(lambda: len(node.granted) == 3, 10)
        assert node.granted[0] == 1 and node.granted[1:] == [135, 135]
    finally:
        node.close()


def test_a_node_login_only_works_with_its_own_client_id(dynsec_broker, logins):
    logins.create("S1", "G1", NODE_PASSWORD)
    other = Client(dynsec_broker.port, "G1", NODE_PASSWORD, "somebody-else")
    try:
        assert other.ready.wait(10) and other.refused_connect is not None
    finally:
        other.close()


def test_a_removed_login_no_longer_connects(dynsec_broker, logins):
    logins.create("S1", "G1", NODE_PASSWORD)
    logins.remove("S1", "G1")
    node = node_client(dynsec_broker.port)
    try:
        assert node.refused_connect is not None
    finally:
        node.close()


def test_enrolling_again_replaces_the_login_with_the_new_password(dynsec_broker, logins):
    logins.create("S1", "G1", "the-old-password-of-a-broken-pi")
    logins.create("S1", "G1", NODE_PASSWORD)
    node = node_client(dynsec_broker.port)
    try:
        assert node.refused_connect is None
    finally:
        node.close()
