"""broker/cloud-bridge.conf on two real Mosquittos: the site broker starts with it as shipped
(only the address, password and CA made local) and carries a site's reports up and its
documents down, as keys/topics.py says."""

from __future__ import annotations

import pytest

from keys import topics
from simulators.broker import PASSWORD, ROOT, Broker
from tests.mqtt.conftest import wait_until
from tests.mqtt.test_acl import Client

pytestmark = pytest.mark.mqtt


def bridge_conf(cloud_port: int) -> str:
    """The shipped bridge with what an installer fills in: the cloud's address and the bridge's
    password; on this test LAN no TLS, so no CA file."""
    lines = []
    for line in (ROOT / "broker/cloud-bridge.conf").read_text().splitlines():
        words = line.split()
        if words and words[0] == "bridge_cafile":
            continue
        if words and words[0] == "address":
            line = f"address 127.0.0.1:{cloud_port}"
        if words and words[0] == "remote_password":
            line = f"remote_password {PASSWORD}"
        lines.append(line.replace("SITE", "S1"))
    return "\n".join(lines)


@pytest.fixture
def cloud_and_site(tmp_path):
    cloud = Broker(tmp_path / "cloud", users=["cloud", "site-S1"]).start()
    site = Broker(tmp_path / "site", users=["G1"], extra_conf=bridge_conf(cloud.port)).start()
    yield cloud, site
    site.stop()
    cloud.stop()


def test_a_gates_event_on_the_site_broker_reaches_the_cloud_broker(cloud_and_site):
    cloud, site = cloud_and_site
    listener = Client(cloud, "cloud", [(topics.filter_for(topics.Kind.EVENT, "S1"), 1)])
    gate = Client(site, "G1", [])
    event = topics.event("S1", "G1")
    try:
        # The bridge connects on its own schedule: send until one crosses.
        assert wait_until(lambda: gate.send(event) or event.name in listener.received, 20)
    finally:
        gate.close()
        listener.close()


def test_a_document_the_cloud_publishes_reaches_a_gate_on_the_site_broker(cloud_and_site):
    cloud, site = cloud_and_site
    gate = Client(site, "G1", [(topics.down("S1", "keyring").name, 1)])
    publisher = Client(cloud, "cloud", [])
    keyring = topics.down("S1", "keyring")
    try:
        assert wait_until(lambda: publisher.send(keyring) or keyring.name in gate.received, 20)
    finally:
        publisher.close()
        gate.close()
