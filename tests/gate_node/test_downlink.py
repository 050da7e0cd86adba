"""The node's downlink reads topics with keys/topics.py: a document on its site's topic or its
own is applied, another node's is left alone, and a topic outside the contract is refused."""

from __future__ import annotations

import pytest

from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.downlink import Downlink
from keys import topics
from keys.clock import ManualClock
from keys.revocation import sign_revocations
from tests.conftest import TEST_AT
from tests.gate_node.conftest import make_state


@pytest.fixture
def downlink(tmp_path, root_key, issuer_key) -> Downlink:
    state = make_state(tmp_path / "node", root_key, issuer_key)  # site S1, node G1
    engine = make_engine(state, ManualClock(TEST_AT))
    return Downlink(state, engine, ClockFloor(state.clock_path), lambda what: None)


def snapshot(root_key, seq: int) -> bytes:
    return sign_revocations(root_key, site="S1", seq=seq, kind="snapshot", revoked={})


def test_a_snapshot_on_the_sites_topic_or_the_nodes_own_is_applied(downlink, root_key):
    downlink.handle(topics.down("S1", "revocations").name, snapshot(root_key, 1))
    downlink.handle(topics.down_node("S1", "G1", "revocations").name, snapshot(root_key, 2))
    assert downlink.applied["revocations"] == 2 and downlink.state.revocations.seq == 2


def test_another_nodes_private_document_is_left_alone(downlink, root_key):
    downlink.handle(topics.down_node("S1", "G2", "revocations").name, snapshot(root_key, 1))
    assert downlink.applied == {} and downlink.refused == {}
    assert downlink.state.revocations.seq is None


@pytest.mark.parametrize(
    "topic",
    [
        "scenic/S2/down/revocations",  # another site's
        "scenic/S1/down/revocations/extra",
        "scenic/S1/down/node/G1",
        "scenic/S1/down/revocations\n",
        "scenic/+/down/revocations",
        "scenic/S1/down/surprise",
    ],
)
def test_a_topic_outside_the_contract_is_refused_as_bad_topic(downlink, root_key, topic):
    downlink.handle(topic, snapshot(root_key, 1))
    assert downlink.refused == {"bad_topic": 1} and downlink.applied == {}
    assert downlink.state.revocations.seq is None
