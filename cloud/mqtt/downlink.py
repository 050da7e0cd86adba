"""Signed documents from the cloud to the gates: keyrings, revocations, nodes, config, time, acks.

Everything published here is a root-signed document (keys/signed_document.py); the broker only
carries it. Site-wide documents go to ``scenic/{site}/down/{type}``, per-node ones (acks, a
revocation snapshot asked for after a gap) to ``scenic/{site}/down/node/{node}/{type}``; which
are retained (whole documents a gate connecting later needs at once) is keys/topics.py's table.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

from keys import topics
from keys.clock import SYSTEM, Clock
from keys.cose import Signer
from keys.signed_document import sign_document


class DownlinkPublisher:
    """Publishes root-signed documents to a site's gates, or one node's, as keys/topics.py says.

    Never publishes anything unsigned: documents come to it signed, and the acks it makes
    it signs with the root key."""

    def __init__(self, client: mqtt.Client, root: Signer, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.root = root
        self.clock = clock
        # Acks need no order, unique is enough: microseconds of wall time at start, then +1.
        self._ack_seq = int(clock.now().timestamp() * 1_000_000)

    def site_document(self, site: str, doc_type: str, raw: bytes) -> mqtt.MQTTMessageInfo:
        return topics.publish(self.client, topics.down(site, doc_type), raw)

    def node_document(
        self, site: str, node: str, doc_type: str, raw: bytes
    ) -> mqtt.MQTTMessageInfo:
        return topics.publish(self.client, topics.down_node(site, node, doc_type), raw)

    def acknowledge(self, site: str, node: str, seqs: list[int]) -> None:
        """Tell a node which of its events are stored, so it may drop them from its outbox."""
        self._ack_seq += 1
        body: dict[str, Any] = {"node": node, "seqs": sorted(set(seqs))}
        raw = sign_document(self.root, "ack", site, self._ack_seq, body, self.clock.now())
        self.node_document(site, node, "ack", raw)
