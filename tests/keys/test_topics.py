"""keys/topics.py: builders and the parser agree, anything else is refused, and the broker's ACL
and bridge grant exactly what the module's table says each side sends and reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import card_index, keyring, node_registry, revocation, topics
from keys.topics import POLICY, Kind, Role, Topic, TopicError

BROKER = Path(__file__).resolve().parents[2] / "broker"
names = st.from_regex(topics.NAME, fullmatch=True)


def every_topic(site: str, node: str) -> list[Topic]:
    return [
        Topic(kind, site, node if kind in NODE_KINDS else None, doc_type)
        for kind, doc_type in POLICY
    ]


NODE_KINDS = (Kind.EVENT, Kind.STATE, Kind.REQUEST, Kind.FACE, Kind.DOWN_NODE)


# -- builders and parser ----------------------------------------------------------------------
def test_the_builders_write_the_documented_tree():
    assert topics.event("S1", "G1").name == "scenic/S1/gate/G1/event"
    assert topics.state("S1", "G1").name == "scenic/S1/gate/G1/state"
    assert topics.request("S1", "G1").name == "scenic/S1/gate/G1/request"
    assert topics.face("S1", "G1").name == "scenic/S1/gate/G1/face"
    assert topics.uses("S1").name == "scenic/S1/uses"
    assert topics.down("S1", "keyring").name == "scenic/S1/down/keyring"
    assert topics.down_node("S1", "G1", "ack").name == "scenic/S1/down/node/G1/ack"


@given(site=names, node=names)
def test_every_topic_of_the_table_parses_back_to_itself(site, node):
    for topic in every_topic(site, node):
        assert topics.parse(topic.name) == topic


@given(st.text(alphabet="scenic/S1G2gatedownodeusevtqr+#$\n _-", max_size=40) | st.text())
def test_any_text_parses_to_none_or_to_exactly_the_topic_it_spells(text):
    parsed = topics.parse(text)
    assert parsed is None or parsed.name == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "scenic",
        "scenic/S1",
        "scenic/S1/gate/G1",  # a level missing
        "scenic/S1/gate/G1/event/extra",  # a level too many
        "scenic/S1/uses/extra",
        "scenic/S1/down/node/G1/ack/extra",
        "scenic/S1/down/node/G1",
        "/scenic/S1/uses",  # a leading slash is an empty first level
        "scenic/S1/uses/",  # a trailing one, an empty last level
        "scenic//gate/G1/event",  # empty site
        "scenic/S1/gate//event",  # empty node
        "scenic/S1/down/node//ack",
        "scenic/S1/down/",  # empty document type
        "scenic/+/gate/G1/event",  # wildcards are filters, never topics
        "scenic/S1/gate/+/event",
        "scenic/S1/gate/#",
        "scenic/#",
        "scenic/S1/down/+",
        "scenic/S1/down/node/+/ack",
        "scenic/S1+/uses",
        "scenic/S#/uses",
        "scenic/S1/gate/G1/event\n",  # a trailing newline
        "scenic/S1\n/uses",
        "scenic/S1 /uses",
        "scenic/景区/uses",
        "scenic/" + "S" * 33 + "/uses",  # a name too long
        "Scenic/S1/uses",  # the root is case-sensitive, as MQTT is
        "other/S1/uses",
        "$share/ingest/scenic/S1/gate/G1/event",  # a subscription form, not a topic
        "scenic/S1/gate/G1/events",  # not a gate kind
        "scenic/S1/gate/G1/down",
        "scenic/S1/down/gate_event",  # not a document type the table lists
        "scenic/S1/down/ack",  # acks go to one node only
        "scenic/S1/down/node/G1/keyring",  # keyrings go to the whole site
        "scenic/S1/down/node",
        "scenic/S1/other",
        "scenic/S1/gate/cloud/event",  # the cloud's username, never a node's
        "scenic/S1/down/node/site-S1/ack",  # a bridge's username
    ],
)
def test_a_malformed_topic_is_refused(text):
    assert topics.parse(text) is None


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "S+", "S#", "S1\n", " S1", "景区", "S" * 33])
def test_a_builder_refuses_a_name_that_is_not_one_topic_level(bad):
    for build in (
        lambda: topics.event(bad, "G1"),
        lambda: topics.event("S1", bad),
        lambda: topics.uses(bad),
        lambda: topics.down(bad, "keyring"),
        lambda: topics.down_node("S1", bad, "ack"),
        lambda: topics.filter_for(Kind.DOWN_NODE, "S1", bad),
        lambda: topics.shared(bad, "scenic/+/uses"),
    ):
        with pytest.raises(TopicError):
            build()


@pytest.mark.parametrize("username", ["cloud", "site-S1", "site-"])
def test_a_node_cannot_be_named_as_the_cloud_or_a_bridge_whose_grants_it_would_get(username):
    assert not topics.valid_node(username) and topics.valid_name(username)
    with pytest.raises(TopicError):
        topics.event("S1", username)
    with pytest.raises(TopicError):
        topics.down_node("S1", username, "ack")


def test_a_builder_refuses_a_document_type_its_topic_does_not_carry():
    for build in (
        lambda: topics.down("S1", "ack"),
        lambda: topics.down("S1", "+"),
        lambda: topics.down("S1", "node"),  # the level that starts a node's own documents
        lambda: topics.down_node("S1", "G1", "keyring"),
    ):
        with pytest.raises(TopicError):
            build()


def test_the_site_documents_keys_signs_each_have_a_downlink_topic():
    for doc_type in (keyring.DOC_TYPE, revocation.DOC_TYPE, node_registry.DOC_TYPE):
        assert (Kind.DOWN, doc_type) in POLICY
    assert (Kind.DOWN, card_index.DOC_TYPE) in POLICY


# -- filters and policy -----------------------------------------------------------------------
def test_ingest_workers_share_every_sites_events():
    assert topics.ingest_events() == "$share/ingest/scenic/+/gate/+/event"
    assert topics.ingest_faces() == "$share/ingest/scenic/+/gate/+/face"


def test_a_node_subscribes_to_its_sites_documents_its_own_and_its_peers_uses_only():
    assert topics.node_subscriptions("S1", "G1") == [
        ("scenic/S1/down/+", 1),
        ("scenic/S1/down/node/G1/+", 1),
        ("scenic/S1/uses", 1),
    ]


def test_whole_documents_and_the_nodes_state_are_retained_deltas_acks_and_events_are_not():
    retained = {(kind, doc) for (kind, doc), policy in POLICY.items() if policy.retain}
    assert retained == {
        (Kind.STATE, None),
        (Kind.DOWN, "keyring"),
        (Kind.DOWN, "nodes"),
        (Kind.DOWN, "config"),
        (Kind.DOWN, "time"),
    }
    assert {policy.qos for policy in POLICY.values()} == {1}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | str, int, bool]] = []

    def publish(self, topic: str, payload=None, qos: int = 0, retain: bool = False) -> str:
        self.sent.append((topic, payload, qos, retain))
        return "info"


def test_publish_takes_qos_and_retain_from_the_table():
    client = Recorder()
    assert topics.publish(client, topics.down("S1", "keyring"), b"k") == "info"
    topics.publish(client, topics.down("S1", "revocations"), b"r")
    assert client.sent == [
        ("scenic/S1/down/keyring", b"k", 1, True),
        ("scenic/S1/down/revocations", b"r", 1, False),
    ]


# -- the broker's ACL and bridge, against the table -------------------------------------------
SITE, NODE = "SITE", "NODE"  # broker/acl's placeholders; NODE stands for the pattern's %u


def read_acl() -> set[tuple[str, str, str]]:
    """(who, access, topic filter) for every line: who is "pattern" or "user NAME", access
    "read", "write" or "deny"."""
    grants: set[tuple[str, str, str]] = set()
    who = "pattern"
    for line in (BROKER / "acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            who = f"user {words[1]}"
            continue
        assert words[0] in ("topic", "pattern") and len(words) == 3, line
        assert (words[0] == "pattern") == (who == "pattern"), f"{line}: patterns come first"
        for access in ("read", "write") if words[1] == "readwrite" else (words[1],):
            grants.add((who, access, words[2].replace("%u", NODE)))
    return grants


def expected_acl() -> set[tuple[str, str, str]]:
    """What the table needs: a node writes what it sends under its own name and reads what it
    is sent, in its site only; the cloud writes and reads its side for every site; a site's
    bridge carries what crosses between that site's nodes and the cloud. The patterns reach
    the cloud and the bridges too, so both deny what passes between nodes only."""
    grants: set[tuple[str, str, str]] = set()
    for kind, doc_type in POLICY:
        policy = POLICY[(kind, doc_type)]
        node = NODE if kind in NODE_KINDS else None
        own = topics.filter_for(kind, SITE, node)
        for role, access in ((policy.sent_by, "write"), (policy.read_by, "read")):
            if role is Role.NODE:
                grants.add(("pattern", access, own))
            else:
                grants.add(("user cloud", access, topics.filter_for(kind)))
        if policy.sent_by is not policy.read_by:  # crosses the bridge
            access = "write" if policy.sent_by is Role.NODE else "read"
            grants.add((f"user site-{SITE}", access, topics.filter_for(kind, SITE)))
        elif policy.sent_by is Role.NODE:  # between nodes only
            grants.add(("user cloud", "deny", topics.filter_for(kind)))
            grants.add((f"user site-{SITE}", "deny", topics.filter_for(kind, SITE)))
    return grants


def test_every_acl_grant_is_one_the_topic_table_needs_and_none_is_missing():
    assert read_acl() == expected_acl()


def allowed(username: str, access: str, topic: str) -> bool:
    """Mosquitto's decision for a concrete topic, on broker/acl as installed for site S1
    (acl_file: the user's deny lines first, then its grants and the patterns with %u
    substituted; tests/mqtt/test_acl.py checks the real broker agrees)."""
    lines = []
    for who, granted, topic_filter in read_acl():
        topic_filter = topic_filter.replace(SITE, "S1")
        if who == "pattern":
            lines.append((granted, topic_filter.replace(NODE, username)))
        elif who.replace(SITE, "S1") == f"user {username}":
            lines.append((granted, topic_filter))
    if any(granted == "deny" and matches(f, topic) for granted, f in lines):
        return False
    return any(granted == access and matches(f, topic) for granted, f in lines)


def matches(topic_filter: str, topic: str) -> bool:
    want, have = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or level not in ("+", have[i]):
            return False
    return len(want) == len(have)


def test_a_node_publishes_only_its_own_reports_and_its_sites_gossip():
    for t in every_topic("S1", "G1") + every_topic("S1", "G2") + every_topic("S2", "G1"):
        own = t.site == "S1" and t.node in ("G1", None)
        assert allowed("G1", "write", t.name) == (t.policy.sent_by is Role.NODE and own), t
    assert allowed("G1", "write", topics.event("S1", "G1").name)
    assert not allowed("G1", "write", topics.event("S1", "G2").name)  # another node's
    assert not allowed("G1", "write", topics.event("S2", "G1").name)  # another site's
    assert not allowed("G1", "write", topics.down("S1", "keyring").name)
    assert not allowed("G1", "write", topics.down_node("S1", "G1", "ack").name)


def test_a_node_reads_its_sites_downlink_its_own_documents_and_nothing_of_another_site():
    for doc_type in ("keyring", "nodes", "config", "cards", "time", "revocations"):
        assert allowed("G1", "read", topics.down("S1", doc_type).name)
        assert not allowed("G1", "read", topics.down("S2", doc_type).name)
    assert allowed("G1", "read", topics.down_node("S1", "G1", "ack").name)
    assert not allowed("G1", "read", topics.down_node("S1", "G2", "ack").name)
    assert allowed("G1", "read", topics.uses("S1").name)
    assert not allowed("G1", "read", topics.uses("S2").name)
    assert not allowed("G1", "read", topics.event("S1", "G2").name)  # peers' raw events


def test_the_cloud_reads_every_report_and_writes_every_document_but_forges_no_event():
    for site in ("S1", "S2"):
        for t in every_topic(site, "G1"):
            if t.policy.read_by is Role.CLOUD:
                assert allowed("cloud", "read", t.name), t
            assert allowed("cloud", "write", t.name) == (t.policy.sent_by is Role.CLOUD), t
    assert not allowed("cloud", "read", topics.uses("S1").name)  # gossip stays with the gates


def test_a_sites_bridge_carries_that_site_only():
    assert allowed("site-S1", "write", topics.event("S1", "G7").name)
    assert allowed("site-S1", "read", topics.down_node("S1", "G7", "ack").name)
    assert not allowed("site-S1", "write", topics.event("S2", "G7").name)
    assert not allowed("site-S1", "read", topics.down("S2", "keyring").name)
    assert not allowed("site-S1", "write", topics.down("S1", "keyring").name)


def test_the_bridge_forwards_exactly_what_crosses_between_a_site_and_the_cloud():
    lines = set()
    for line in (BROKER / "cloud-bridge.conf").read_text().splitlines():
        words = line.split()
        if words and words[0] == "topic":
            lines.add((words[1], words[2], int(words[3])))
    expected = {
        (
            topics.filter_for(kind, SITE),
            "out" if policy.sent_by is Role.NODE else "in",
            policy.qos,
        )
        for (kind, _), policy in POLICY.items()
        if policy.sent_by is not policy.read_by
    }
    assert lines == expected
