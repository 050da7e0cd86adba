"""MQTT topics: their names, their parser, and the QoS and retain of every message kind.

The one place both sides take topic strings from: the gate node (uplink.py, downlink.py) and
the cloud (cloud/mqtt/) build them here and read them back here, and broker/acl is checked
against this module (tests/keys/test_topics.py). It never reads a payload, never touches a
broker, and imports nothing else of the project.

The tree (DESIGN.md, "Messaging")::

    scenic/{site}/gate/{node}/event         node -> cloud   signed events from the outbox
    scenic/{site}/gate/{node}/state         node -> cloud   birth, retained; the will says offline
    scenic/{site}/gate/{node}/request       node -> cloud   "I miss revocations (or cards) from n"
    scenic/{site}/gate/{node}/face          node -> cloud   signed events holding a sealed face
                                                            binding (keys/face_binding.py)
    scenic/{site}/uses                      node -> nodes   peer gossip of uses and rollbacks
    scenic/{site}/down/{type}               cloud -> nodes  root-signed site documents
    scenic/{site}/down/node/{node}/{type}   cloud -> node   acks, a snapshot after a gap

Names. A site or node is 1-32 of ``A-Z a-z 0-9 _ -``, matched whole (``re.fullmatch``: a
pattern ending in ``$`` would also match before a trailing newline). So a name can never be
``+`` or ``#`` (a wildcard in a filter, or a grant in the ACL), hold a ``/`` (an extra level)
or be empty. A node's name is also its broker username (broker/acl grants by it), so it is
never ``cloud`` and never starts with ``site-``: those are the cloud's and the site bridges'
usernames, and a node named so would hold their grants. Builders raise ``TopicError`` on a bad
name (a configuration fault, found where the topic is made); ``parse`` returns None for
anything that is not exactly one of the topics above, with a document type its table lists.

Policy. ``POLICY`` holds, for each kind (and for downlink, each document type), QoS, retain,
and which side sends and reads it; publishers take both from the ``Topic`` they publish to.
Everything is QoS 1: events are kept in the outbox until the cloud's signed ack anyway (a
broker killed with SIGKILL loses what it had PUBACKed, so no QoS is enough alone), and QoS 2
would only add a round trip. Retained are the messages a client connecting later needs at
once: a node's last state, and the site documents that are whole (keyring, node registry,
configuration, time). Revocation and card index *deltas* are not retained: retaining one delta
would hand every new gate a gap at each connect. A gate that missed one learns it is behind
from the signed ``time`` heartbeat, which is retained and carries the site's current
revocation and card sequence numbers (cloud/services/downlink_documents.py ``signed_time``),
or from the gap at the next delta; either way it asks for a snapshot on its own topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from keys.errors import KeysError

ROOT: Final = "scenic"
NAME: Final = r"[A-Za-z0-9_-]{1,32}"  # a site or node; also the pattern the cloud's API uses
_NAME = re.compile(NAME)
INGEST_GROUP: Final = "ingest"  # the shared subscription the ingest workers split events in
CLOUD_USER: Final = "cloud"  # the broker username of every cloud service
BRIDGE_USER_PREFIX: Final = "site-"  # + site code: a site broker's bridge on the cloud broker


class TopicError(KeysError, ValueError):
    """A topic was to be built from a name or document type the contract does not allow."""


class Kind(StrEnum):
    EVENT = "event"
    STATE = "state"
    REQUEST = "request"
    FACE = "face"  # face bindings, apart from events: only the cloud's face ingest reads them
    USES = "uses"
    DOWN = "down"  # a site-wide document
    DOWN_NODE = "down_node"  # a document for one node


class Role(StrEnum):
    """Who holds the credentials: a gate node (its username is its node id), or the cloud."""

    NODE = "node"
    CLOUD = "cloud"


@dataclass(frozen=True)
class Policy:
    qos: int
    retain: bool
    sent_by: Role
    read_by: Role


_UP = Policy(qos=1, retain=False, sent_by=Role.NODE, read_by=Role.CLOUD)
_DOWN_KEPT = Policy(qos=1, retain=True, sent_by=Role.CLOUD, read_by=Role.NODE)
_DOWN_ONCE = Policy(qos=1, retain=False, sent_by=Role.CLOUD, read_by=Role.NODE)

# The one table. Keys: (kind, document type); None where the kind carries no document type.
POLICY: Final[dict[tuple[Kind, str | None], Policy]] = {
    (Kind.EVENT, None): _UP,
    (Kind.STATE, None): Policy(qos=1, retain=True, sent_by=Role.NODE, read_by=Role.CLOUD),
    (Kind.REQUEST, None): _UP,
    (Kind.FACE, None): _UP,
    (Kind.USES, None): Policy(qos=1, retain=False, sent_by=Role.NODE, read_by=Role.NODE),
    (Kind.DOWN, "keyring"): _DOWN_KEPT,
    (Kind.DOWN, "nodes"): _DOWN_KEPT,
    (Kind.DOWN, "config"): _DOWN_KEPT,
    (Kind.DOWN, "cards"): _DOWN_ONCE,  # deltas (and a site's first snapshot), as revocations
    (Kind.DOWN, "time"): _DOWN_KEPT,
    (Kind.DOWN, "revocations"): _DOWN_ONCE,  # deltas (and snapshots): see the docstring
    (Kind.DOWN_NODE, "ack"): _DOWN_ONCE,
    (Kind.DOWN_NODE, "revocations"): _DOWN_ONCE,  # the snapshot a gate asked for
    (Kind.DOWN_NODE, "cards"): _DOWN_ONCE,  # the card index snapshot a gate asked for
    # Face enrolments: deltas like revocations (a missed one shows a gap), never retained.
    (Kind.DOWN, "faces"): _DOWN_ONCE,
    (Kind.DOWN_NODE, "faces"): _DOWN_ONCE,
}
# the level after scenic/{site}/gate/{node}
_GATE_KINDS = (Kind.EVENT, Kind.STATE, Kind.REQUEST, Kind.FACE)


def valid_name(name: object) -> bool:
    """A site name (or any name) that can be one topic level."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def valid_node(name: object) -> bool:
    """A node name: one topic level that is not another broker user's name."""
    return valid_name(name) and name != CLOUD_USER and not str(name).startswith(BRIDGE_USER_PREFIX)


@dataclass(frozen=True)
class Topic:
    """One concrete topic: what it is, for which site and node, and how it is published."""

    kind: Kind
    site: str
    node: str | None = None
    doc_type: str | None = None

    def __post_init__(self) -> None:
        if (self.kind, self.doc_type) not in POLICY:
            raise TopicError(f"no {self.kind} topic carries document type {self.doc_type!r}")
        needs_node = self.kind in (*_GATE_KINDS, Kind.DOWN_NODE)
        if not valid_name(self.site) or needs_node != (self.node is not None):
            raise TopicError(f"bad site or node for a {self.kind} topic: {self.site!r}")
        if self.node is not None and not valid_node(self.node):
            raise TopicError(f"bad node name for a topic: {self.node!r}")

    @property
    def name(self) -> str:
        return _levels(self.kind, self.site, self.node, self.doc_type)

    def __str__(self) -> str:
        return self.name

    @property
    def policy(self) -> Policy:
        return POLICY[(self.kind, self.doc_type)]


# -- builders ---------------------------------------------------------------------------------
def event(site: str, node: str) -> Topic:
    return Topic(Kind.EVENT, site, node)


def face(site: str, node: str) -> Topic:
    return Topic(Kind.FACE, site, node)


def state(site: str, node: str) -> Topic:
    return Topic(Kind.STATE, site, node)


def request(site: str, node: str) -> Topic:
    return Topic(Kind.REQUEST, site, node)


def uses(site: str) -> Topic:
    return Topic(Kind.USES, site)


def down(site: str, doc_type: str) -> Topic:
    return Topic(Kind.DOWN, site, doc_type=doc_type)


def down_node(site: str, node: str, doc_type: str) -> Topic:
    return Topic(Kind.DOWN_NODE, site, node, doc_type)


# -- subscription filters ---------------------------------------------------------------------
def filter_for(kind: Kind, site: str | None = None, node: str | None = None) -> str:
    """The filter for every topic of ``kind``; a site or node left None is ``+`` (any one).
    Document types are always ``+``: a subscriber takes every type its kind carries."""
    if (site is not None and not valid_name(site)) or (node is not None and not valid_node(node)):
        raise TopicError(f"bad site or node name for a filter: {site!r}, {node!r}")
    return _levels(kind, site or "+", node or "+", "+")


def shared(group: str, topic_filter: str) -> str:
    """MQTT 5 / Mosquitto shared subscription: the broker gives each message to one member."""
    if not valid_name(group):
        raise TopicError(f"bad shared subscription group: {group!r}")
    return f"$share/{group}/{topic_filter}"


def ingest_events() -> str:
    """What every ingest worker subscribes to: all sites' events, split among the workers."""
    return shared(INGEST_GROUP, filter_for(Kind.EVENT))


def ingest_faces() -> str:
    """All sites' face bindings, split among the same ingest workers (one group)."""
    return shared(INGEST_GROUP, filter_for(Kind.FACE))


def node_subscriptions(site: str, node: str) -> list[tuple[str, int]]:
    """(filter, QoS) a gate node subscribes to: its site's documents, its own, its peers'
    uses. Not ``down/#``: other nodes' acks are none of its business (the ACL agrees)."""
    return [
        (filter_for(Kind.DOWN, site), 1),
        (filter_for(Kind.DOWN_NODE, site, node), 1),
        (uses(site).name, 1),
    ]


def cloud_subscriptions(*kinds: Kind) -> list[tuple[str, int]]:
    """(filter, QoS) for a cloud service reading ``kinds`` from every site and node."""
    return [(filter_for(kind), 1) for kind in kinds]


# -- parser -----------------------------------------------------------------------------------
def parse(topic: str) -> Topic | None:
    """The ``Topic`` that ``topic`` names exactly, or None: wrong root, extra or missing levels,
    an empty level, a wildcard, a bad site or node name, an unknown document type."""
    if not isinstance(topic, str):
        return None
    levels = topic.split("/")
    if len(levels) < 3 or levels[0] != ROOT or not valid_name(levels[1]):
        return None
    site, rest = levels[1], levels[2:]
    match rest:
        case ["uses"]:
            kind, node, doc_type = Kind.USES, None, None
        case ["gate", node, tail] if tail in _GATE_KINDS:
            kind, doc_type = Kind(tail), None
        case ["down", "node", node, doc_type]:
            kind = Kind.DOWN_NODE
        case ["down", doc_type]:
            kind, node = Kind.DOWN, None
        case _:
            return None
    if (kind, doc_type) not in POLICY or (node is not None and not valid_node(node)):
        return None
    return Topic(kind, site, node, doc_type)


# -- publishing -------------------------------------------------------------------------------
_Sent = TypeVar("_Sent", covariant=True)


class Publisher(Protocol[_Sent]):
    """What ``publish`` needs of a client: paho-mqtt's ``Client.publish`` has this shape."""

    def publish(
        self, topic: str, payload: Any = ..., qos: int = ..., retain: bool = ...
    ) -> _Sent: ...


def publish(client: Publisher[_Sent], topic: Topic, payload: bytes | str) -> _Sent:
    """Publish with the QoS and retain the table gives ``topic``; returns the client's answer
    (paho: an ``MQTTMessageInfo``)."""
    return client.publish(topic.name, payload, qos=topic.policy.qos, retain=topic.policy.retain)


def _levels(kind: Kind, site: str, node: str | None, doc_type: str | None) -> str:
    if kind is Kind.USES:
        return f"{ROOT}/{site}/uses"
    if kind is Kind.DOWN:
        return f"{ROOT}/{site}/down/{doc_type}"
    if kind is Kind.DOWN_NODE:
        return f"{ROOT}/{site}/down/node/{node}/{doc_type}"
    return f"{ROOT}/{site}/gate/{node}/{kind}"
