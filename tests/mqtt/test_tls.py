"""TLS between gates and broker, with a real Mosquitto on broker/tls.conf and certificates the
test makes: a gate connects over TLS to a broker its pinned CA vouches for, presents its own
certificate when the broker asks for one, and refuses a broker certificate from anyone else,
saying so in one log line."""

from __future__ import annotations

import logging

import pytest
from gpiozero.pins.mock import MockFactory

from gate_node.assembly import build
from gate_node.state import NodeState
from keys.clock import ManualClock
from simulators.broker import Broker
from tests.conftest import TEST_AT
from tests.mqtt.certificates import authority, issue
from tests.mqtt.conftest import Site, wait_until
from tests.mqtt.test_link import Lane

pytestmark = pytest.mark.mqtt


def tls_site(tmp_path, root_key, issuer_key, cloud_url, require_certificate=False):
    ca = authority(tmp_path / "pki")
    cert, key = issue(ca, tmp_path / "pki", "broker", server=True)
    broker = Broker(
        tmp_path / "broker",
        users=["cloud", "G1"],
        tls=(ca.pem, cert, key),
        require_certificate=require_certificate,
    ).start()
    return ca, Site(root_key, issuer_key, broker, cloud_url, tmp_path / "nodes")


def test_a_gate_connects_over_tls_to_a_broker_its_pinned_ca_vouches_for(
    tmp_path, root_key, issuer_key, cloud_url
):
    ca, site = tls_site(tmp_path, root_key, issuer_key, cloud_url)
    try:
        site.add_node("G1", tls={"tls_ca": str(ca.pem)})
        lane = Lane(site, "G1")  # waits until the node is connected
        assert lane.node.service.link[0].fault is None
        lane.close()
    finally:
        site.broker.stop()


def test_a_gate_presents_its_own_certificate_when_the_broker_requires_one(
    tmp_path, root_key, issuer_key, cloud_url
):
    ca, site = tls_site(tmp_path, root_key, issuer_key, cloud_url, require_certificate=True)
    try:
        cert, key = issue(ca, tmp_path / "pki", "G1", server=False)
        site.add_node("G1", tls={"tls_ca": str(ca.pem), "tls_cert": str(cert), "tls_key": str(key)})
        lane = Lane(site, "G1")
        lane.close()
    finally:
        site.broker.stop()


def test_a_gate_refuses_a_broker_whose_certificate_does_not_chain_to_the_pinned_ca(
    tmp_path, root_key, issuer_key, cloud_url, caplog
):
    _, site = tls_site(tmp_path, root_key, issuer_key, cloud_url)
    impostor_ca = authority(tmp_path / "other-pki", "Someone else's CA")
    try:
        site.add_node("G1", tls={"tls_ca": str(impostor_ca.pem)})
        pins = MockFactory()
        pins.pin(21).drive_high()
        clock = ManualClock(TEST_AT)
        node = build(
            NodeState.open(site.nodes["G1"].directory, clock),
            pins,
            with_camera=False,
            node_key=site.keys["G1"],
            clock=clock,
        )
        uplink = node.service.link[0]
        with caplog.at_level(logging.WARNING, logger="gate_node.uplink"):
            assert wait_until(lambda: uplink.fault is not None)
        assert uplink.fault[0] == "tls_untrusted_broker" and not uplink.connected
        assert any("does not chain to the pinned CA" in r.getMessage() for r in caplog.records)
        node.close()
        pins.reset()
    finally:
        site.broker.stop()
