"""The cloud's downlink service with a real broker and real nodes: revocations reach gates
(also after a gap), links follow births and wills (stale wills ignored), time is signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from cloud.db import make_engine, session_factory
from cloud.models import NodeLink
from gate_node.clock import ClockFloor
from keys.clock import ManualClock
from keys.revocation import sign_revocations
from simulators.broker import PASSWORD
from tests.conftest import TEST_AT
from tests.mqtt.conftest import wait_until
from tests.mqtt.test_link import TODAY, Lane, ticket

pytestmark = pytest.mark.mqtt


def link(site, node):
    engine = make_engine(site.url)
    with session_factory(engine)() as session:
        found = session.scalars(select(NodeLink).where(NodeLink.node == node)).one_or_none()
    engine.dispose()
    return (found.state, found.session) if found else None


def test_a_refund_reaches_the_gate_and_the_ticket_is_refused(site, service):
    site.add_node("G1")
    lane = Lane(site, "G1")
    text = ticket(site.issuer, 31)
    last_day = TODAY + timedelta(days=1)
    service.revoke("S1", {(31).to_bytes(8, "big"): last_day})
    downlink = lane.node.service.link[1]
    assert wait_until(lambda: downlink.applied["revocations"] == 1, step=lane.step)
    lane.scan(text)
    assert lane.node.service.decisions[-1].reason.value == "revoked"
    lane.close()


def test_a_gate_that_missed_deltas_asks_and_gets_a_snapshot(site, service):
    site.add_node("G1")
    last_day = TODAY + timedelta(days=1)
    for number in (41, 42):  # seq 1 (snapshot) and 2 (delta) while the gate is not there
        service.revoke("S1", {number.to_bytes(8, "big"): last_day})
    lane = Lane(site, "G1")
    service.revoke("S1", {(43).to_bytes(8, "big"): last_day})  # seq 3: a gap for this gate
    revocations = lane.node.service.engine.revocations
    assert wait_until(lambda: revocations.seq == 3, step=lane.step)
    for number in (41, 42, 43):
        assert revocations.is_revoked(number.to_bytes(8, "big"))
    assert lane.node.service.link[1].refused["sequence_gap"] == 1
    lane.close()


def test_links_follow_births_and_wills_and_a_stale_will_is_ignored(site, service):
    site.add_node("G1")
    lane = Lane(site, "G1")
    assert wait_until(lambda: link(site, "G1") == ("online", 1), step=lane.step)
    lane.close()  # clean stop: "offline", session 1
    assert wait_until(lambda: link(site, "G1") == ("offline", 1))
    lane = Lane(site, "G1")
    assert wait_until(lambda: link(site, "G1") == ("online", 2), step=lane.step)
    stale = mqtt.Client(CallbackAPIVersion.VERSION2)
    stale.username_pw_set("G1", PASSWORD)
    stale.connect("127.0.0.1", site.broker.port)
    stale.loop_start()
    stale.publish(
        "scenic/S1/gate/G1/state",
        json.dumps({"node": "G1", "state": "offline", "session": 1}),
        qos=1,
        retain=True,
    ).wait_for_publish(5)
    stale.loop_stop()
    for _ in range(100):
        lane.step()
    assert link(site, "G1") == ("online", 2)
    lane.close()


def test_signed_time_sets_the_clock_of_a_gate_that_booted_in_1970(site, service):
    site.add_node("G1")
    lane = Lane(site, "G1")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)  # no RTC, no NTP: the Pi thinks it is 1970
    clock = ClockFloor(site.nodes["G1"].directory / "clock-1970.json", ManualClock(epoch))
    lane.node.service.clock = lane.node.service.link[1].clock = clock
    service.publish_time()  # signed at the service's clock: TEST_AT
    assert wait_until(lambda: clock.now() >= TEST_AT, step=lane.step)
    lane.close()


def test_a_delta_for_another_site_is_refused(site, service):
    site.add_node("G1")
    lane = Lane(site, "G1")
    other = sign_revocations(site.root, site="S2", seq=1, kind="snapshot", revoked={})
    service.publisher.client.publish("scenic/S1/down/revocations", other, qos=1)
    downlink = lane.node.service.link[1]
    assert wait_until(lambda: downlink.refused["wrong_site"] == 1, step=lane.step)
    lane.close()


def test_a_rotated_keyring_reaches_the_gate_and_new_tickets_are_admitted(site, service):
    from cloud.services.downlink_documents import signed_keyring
    from keys import keystore
    from keys.claims import TicketClaims
    from keys.keyring import IssuerKey
    from keys.ticket import issue_ticket

    site.add_node("G1")
    lane = Lane(site, "G1")
    rotated = keystore.generate("issuer", "I2")
    engine = make_engine(site.url)
    with session_factory(engine).begin() as session:
        signed_keyring(
            session,
            site.root,
            "S1",
            [
                IssuerKey(site.issuer.kid, site.issuer.public_key),
                IssuerKey(rotated.kid, rotated.public_key),
            ],
            TEST_AT,
        )
    engine.dispose()
    downlink = lane.node.service.link[1]
    assert wait_until(lambda: downlink.applied["keyring"] == 1, step=lane.step)
    new_ticket = issue_ticket(
        rotated, TicketClaims(ticket_id=b"\x55" * 8, product=1, valid_from=TODAY, valid_until=TODAY)
    )
    lane.scan(new_ticket)
    assert lane.node.service.decisions[-1].grant
    lane.close()
