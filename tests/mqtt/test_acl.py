"""broker/acl on a real Mosquitto: what tests/keys/test_topics.py derives from keys/topics.py
is what the broker does. Each test ends with a message that is allowed, after the refused ones
from the same sender: when it has arrived, the refused ones would have arrived before it."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from keys import topics
from simulators.broker import PASSWORD
from tests.mqtt.conftest import wait_until

pytestmark = pytest.mark.mqtt


class Client:
    """A raw MQTT client under one username, recording the topics it receives."""

    def __init__(self, broker, username: str, subscriptions: list[tuple[str, int]]) -> None:
        self.received: list[str] = []
        self._subscribed = threading.Event()
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-test-{username}")
        self.mqtt.username_pw_set(username, PASSWORD)
        self.mqtt.on_message = lambda c, u, m: self.received.append(m.topic)
        self.mqtt.on_subscribe = lambda c, u, mid, codes, p: self._subscribed.set()
        self.mqtt.connect("127.0.0.1", broker.port)
        self.mqtt.loop_start()
        if subscriptions:
            self.mqtt.subscribe(subscriptions)
            assert self._subscribed.wait(10), f"{username} could not subscribe"

    def send(self, *sent: topics.Topic) -> None:
        for topic in sent:
            topics.publish(self.mqtt, topic, b"x").wait_for_publish(5)

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def test_a_node_receives_its_sites_documents_and_its_own_but_not_a_peers_or_another_sites(
    broker,
):
    greedy = [*topics.node_subscriptions("S1", "G1"), ("scenic/+/down/#", 1)]  # all it can name
    node = Client(broker, "G1", greedy)
    cloud = Client(broker, "cloud", [])
    cloud.send(
        topics.down("S2", "keyring"),
        topics.down_node("S1", "G2", "ack"),
        topics.down("S1", "keyring"),
        topics.down_node("S1", "G1", "ack"),
        topics.down("S1", "time"),
    )
    assert wait_until(lambda: "scenic/S1/down/time" in node.received)
    assert node.received == [
        "scenic/S1/down/keyring",
        "scenic/S1/down/node/G1/ack",
        "scenic/S1/down/time",
    ]
    node.close()
    cloud.close()


def test_a_nodes_reports_reach_the_cloud_only_under_its_own_name_and_site(broker):
    reports = topics.cloud_subscriptions(topics.Kind.EVENT, topics.Kind.STATE, topics.Kind.REQUEST)
    cloud = Client(broker, "cloud", [*reports, ("scenic/+/uses", 1)])
    peer = Client(broker, "G2", topics.node_subscriptions("S1", "G2"))
    node = Client(broker, "G1", [])
    node.send(
        topics.event("S1", "G2"),  # another node's
        topics.state("S1", "G2"),
        topics.event("S2", "G1"),  # another site's
        topics.down("S1", "keyring"),  # the cloud's to send
        topics.uses("S1"),  # to its peers, not to the cloud
        topics.event("S1", "G1"),
    )
    assert wait_until(lambda: "scenic/S1/gate/G1/event" in cloud.received)
    assert wait_until(lambda: "scenic/S1/uses" in peer.received)
    assert cloud.received == ["scenic/S1/gate/G1/event"]
    assert peer.received == ["scenic/S1/uses"]  # no keyring from a node
    for client in (cloud, peer, node):
        client.close()
