"""An ingest worker: gate events from the broker into the database, each stored once.

Several workers share the load through an MQTT shared subscription
(``$share/ingest/scenic/+/gate/+/event``, and ``.../face`` for sealed face bindings): the
broker hands each message to one of them. A message is one signed event or a signed batch of
up to 64 (keys/gate_event_batch.py: what a gate's uplink sends when events wait in its outbox).
A worker collects what arrives for up to ``batch_ms`` (or ``batch_max`` messages), stores it
in one transaction (cloud/services/ingest.py), and only after the commit acknowledges the
messages to the broker (paho ``manual_ack``: a worker killed before that gets them redelivered,
to itself or a sibling) and the events to their nodes (root-signed acks; only then do nodes
drop them); a site's first face binding goes out to every gate of the site as a signed
``faces`` delta.
Both kinds of redelivery are harmless: storage is idempotent on (site, node, seq).

The session is persistent (clean_session false, fixed client id), so events published while a
worker is down wait for it at the broker.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt

from cloud.mqtt.broker_client import BrokerClient
from cloud.mqtt.downlink import DownlinkPublisher
from cloud.services.ingest import BatchResult, Ingest
from keys import topics
from keys.clock import SYSTEM, Clock
from keys.cose import Signer

log = logging.getLogger("cloud.ingest")


class IngestWorker(BrokerClient):
    """Gate events from a shared subscription into the database, in batches.

    Never acknowledges a message, to the broker or to its node, before its batch is committed."""

    subscriptions = ((topics.ingest_events(), 1), (topics.ingest_faces(), 1))

    def __init__(
        self,
        ingest: Ingest,
        root: Signer,
        host: str,
        port: int,
        worker_id: str,
        username: str | None = None,
        password: str | None = None,
        batch_max: int = 500,
        batch_ms: int = 20,
        batch_bytes: int = 128 * 1024,
        clock: Clock = SYSTEM,
    ) -> None:
        super().__init__(f"ingest-{worker_id}", host, port, username, password, manual_ack=True)
        self.ingest = ingest
        self.clock = clock  # times the batch window and the pause after a database failure
        self.batch_max = batch_max
        # Messages are single events or batches of up to 64: a cap on bytes too keeps a
        # transaction near a few thousand events (~50 full batches of passages), so two
        # workers take turns (one verifies while the other's insert runs) instead of each
        # holding tens of thousands of events in one transaction.
        self.batch_bytes = batch_bytes
        self.batch_ms = batch_ms
        self.idle_s = batch_ms / 1000
        self.totals = BatchResult()
        self._messages: deque[tuple[int, int, str, bytes]] = deque()  # mid, qos, topic, payload
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(1000)
        self.publisher = DownlinkPublisher(self.client, root, clock)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def step(self) -> int:
        """Store one batch if any is waiting; returns how many messages it took."""
        if not self._messages:
            return 0
        # Gather a batch while events keep arriving (one commit for many under load), but do
        # not hold a lone event: stop as soon as 2 ms pass with nothing new.
        deadline = self.clock.monotonic() + self.batch_ms / 1000
        seen = len(self._messages)
        while len(self._messages) < self.batch_max and self.clock.monotonic() < deadline:
            self.clock.sleep(0.002)
            if len(self._messages) == seen:
                break
            seen = len(self._messages)
        batch: list[tuple[int, int, str, bytes]] = []
        size = 0
        while self._messages and len(batch) < self.batch_max and size < self.batch_bytes:
            batch.append(self._messages.popleft())
            size += len(batch[-1][3])
        try:
            result = self.ingest.process([(topic, payload) for _, _, topic, payload in batch])
        except Exception:  # boundary: the database failed; nothing acked, all redelivered
            log.exception("storing a batch failed; it will be redelivered")
            self._messages.extendleft(reversed(batch))
            self.clock.sleep(1)
            return 0
        for mid, qos, _, _ in batch:
            if qos:
                self.client.ack(mid, qos)
        for (site, node), seqs in result.acks.items():
            self.publisher.acknowledge(site, node, seqs)
        for published in result.published:  # a site's first face binding, to all its gates
            self.publisher.site_document(published.site, "faces", published.document)
        self._add(result)
        return len(batch)

    def _add(self, result: BatchResult) -> None:
        self.totals.stored += result.stored
        self.totals.duplicates += result.duplicates
        self.totals.refused.update(result.refused)
        self.totals.faces.update(result.faces)
        if result.refused:
            log.warning("refused events", extra={"fields": dict(result.refused)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._messages.append((message.mid, message.qos, message.topic, bytes(message.payload)))
