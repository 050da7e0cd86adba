"""The node's MQTT link: outbox up, signed documents and peer uses down. paho-mqtt 2.x.

Topics, their QoS and retain come from keys/topics.py: up go events (from the outbox; a sealed
``face_bind`` on the node's ``face`` topic, every other kind on ``event``), the
retained birth ``{"state": "online", "session": n}`` (the last will says "offline" with the same
session) and requests ("I miss revocations from seq n"); down come the site's root-signed
documents and this node's own (acks, snapshots); peer gossip of uses and rollbacks goes both
ways.

**Batches.** Each pump signs the events pending for the event topic together, as one
``gate_event_batch`` of up to 64 (keys/gate_event_batch.py): one signature where the cloud
checks one, instead of one per event (which capped the cloud's ingest). Nothing waits for a
batch to fill: an event alone in the outbox at a pump goes out at once, as today's single
``gate_event``; batches form only when events are already waiting (a busy lane between two
pumps, the drain after an outage, a resend). ``face_bind`` events go one by one on the face
topic. Peer gossip stays one signed ``gate_event`` per use or rollback (the same bytes as the
uplink when the event went alone), so peers verify what they always did and a peer not yet
upgraded still merges every use.

**Exactly once in effect.** paho's own queue lives in memory and dies with the process; the
outbox (ledger.py) does not. A PUBACK only means the broker has the event, and a broker killed
before it saves or forwards loses it, so an event leaves the outbox only when the cloud's
root-signed acknowledgement (``down/node/{node}/ack``, sent after its database commit) names
it. Events PUBACKed but not acknowledged within ``RESEND_MS`` are published again, and after
any (re)connect everything still in the outbox is; an event may reach the cloud twice but is
stored once (idempotent on node and seq).

**Threads.** paho's network thread runs the callbacks; they only append to deques. Everything
else (publishing, acknowledging in SQLite, handing received documents to the node) happens in
``pump()``, called from the node's loop. paho calls ``on_publish`` while holding its own lock,
so no lock of ours is ever held across ``publish()``.

``session`` counts process starts (persisted by the caller): a will from an older session that
arrives after a newer birth is recognisably stale.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gate_node.ledger import Ledger, OutboxEvent
from keys import topics
from keys.cose import Signer
from keys.gate_event import sign_event, topic_kind
from keys.gate_event_batch import Entry, pack, sign_batch

log = logging.getLogger("gate_node.uplink")

WINDOW = 64  # events awaiting PUBACK at once (a full window is one batch), cheap to resend
AWAITING_CLOUD = 5_000  # events PUBACKed but not yet acknowledged by the cloud, at most
RESEND_MS = 30_000  # a PUBACKed event the cloud has not acknowledged by then is sent again
GOSSIP_KINDS = ("use", "rollback")


@dataclass(frozen=True)
class BrokerConfig:
    """How to reach the site broker: address, this node's credentials, TLS, timings."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None  # CA file: TLS when the broker is off the device's LAN
    tls_cert: str | None = None  # this node's client certificate (PEM), if the broker asks
    tls_key: str | None = None  # its private key (PEM, 0600)
    keepalive: int = 15
    resend_ms: int = RESEND_MS


class Uplink:
    """The node's MQTT client: publishes the outbox in order and hands down what arrives.

    Never drops an event on a broker's word (only the cloud's signed ack removes it), never
    publishes from paho's thread nor holds a lock of ours across ``publish()``: everything but
    the callbacks runs in ``pump()``, from the node's loop (module docstring)."""

    def __init__(
        self,
        ledger: Ledger,
        node_key: Signer,
        site: str,
        node: str,
        broker: BrokerConfig,
        session: int,
        client_factory: Callable[..., mqtt.Client] = mqtt.Client,
    ) -> None:
        self.ledger = ledger
        self.node_key = node_key
        self.site, self.node = site, node
        self._event_topic, self._state_topic = topics.event(site, node), topics.state(site, node)
        self._request_topic, self._uses_topic = topics.request(site, node), topics.uses(site)
        self._face_topic = topics.face(site, node)  # face_bind events (sealed), not with events
        self.session = session
        self.connected = False
        self.received: deque[tuple[str, bytes]] = deque(maxlen=10_000)
        self._acked_mids: deque[int] = deque()
        self._connects: deque[bool] = deque()
        self._inflight: dict[int, tuple[int, ...]] = {}  # paho mid -> seqs (main thread only)
        self._awaiting: dict[int, int] = {}  # outbox seq -> ms PUBACKed, until the cloud acks
        self._sent_upto = 0
        self.last_ack_ms: int | None = None
        self._client = client_factory(
            CallbackAPIVersion.VERSION2, client_id=f"gate-{site}-{node}", clean_session=False
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls_ca:
            # PROTOCOL_TLS_CLIENT checks the chain to tls_ca (the pinned CA, nothing of the
            # system's store) and the host name against the certificate's SAN.
            self._client.tls_set(
                ca_certs=broker.tls_ca,
                certfile=broker.tls_cert,
                keyfile=broker.tls_key,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._client.will_set(
            self._state_topic.name,
            self._state_payload("offline"),
            qos=self._state_topic.policy.qos,
            retain=self._state_topic.policy.retain,
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_inflight_messages_set(WINDOW * 2)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self.fault: tuple[str, str] | None = None  # why the last connect failed (code, text)
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._broker = broker

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port, self._broker.keepalive)
        self._client.loop_start()

    def stop(self) -> None:
        if self.connected:
            topics.publish(
                self._client, self._state_topic, self._state_payload("offline")
            ).wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    # -- the node loop's side ---------------------------------------------------------------------
    def pump(self, now_ms: int) -> int:
        """Settle PUBACKs, resend what the cloud has not acknowledged in time, publish new
        events from the outbox (those pending together signed as batches); returns how many
        events were published."""
        while self._connects:
            if self._connects.popleft():
                self._inflight.clear()  # whatever was in flight or unacknowledged goes again
                self._awaiting.clear()
                self._sent_upto = 0
        self._settle_pubacks(now_ms)
        if not self.connected:
            return 0
        sent = self._resend_overdue(now_ms)
        while self._inflight_events < WINDOW and len(self._awaiting) < AWAITING_CLOUD:
            room = min(WINDOW - self._inflight_events, AWAITING_CLOUD - len(self._awaiting))
            pending = self.ledger.pending_events(self._sent_upto, room)
            if not pending:
                break
            for group, entries in self._messages(pending):
                if not self._publish(group, entries):
                    return sent  # link went down mid-way: the next connect resends
                self._sent_upto = group[-1].seq
                sent += len(group)
        return sent

    def cloud_acknowledged(self, seqs: list[int]) -> None:
        """The cloud's signed ack (downlink.py verified it): these events are stored."""
        for seq in seqs:
            self._awaiting.pop(seq, None)
        self.ledger.acknowledge(seqs)

    @property
    def awaiting_cloud(self) -> int:
        return len(self._awaiting) + self._inflight_events

    @property
    def _inflight_events(self) -> int:
        """How many events the messages awaiting PUBACK hold (at most ``WINDOW``)."""
        return sum(map(len, self._inflight.values()))

    @staticmethod
    def _messages(events: list[OutboxEvent]) -> list[tuple[list[OutboxEvent], list[Entry]]]:
        """``events`` (in seq order) as messages, in seq order: each run of event-topic events
        packed into batches within the caps (with their encoded entries, so a batch is
        encoded once), each face binding alone (no entries: it is signed alone)."""
        messages: list[tuple[list[OutboxEvent], list[Entry]]] = []
        run: list[OutboxEvent] = []

        def flush() -> None:
            by_seq = {event.seq: event for event in run}
            for batch in pack(Entry.of(e.seq, e.kind, e.at_ms, e.data) for e in run):
                messages.append(([by_seq[entry.seq] for entry in batch], batch))
            run.clear()

        for event in events:
            if topic_kind(event.kind) == topics.Kind.FACE:
                flush()
                messages.append(([event], []))
            else:
                run.append(event)
        flush()
        return messages

    def _publish(self, events: list[OutboxEvent], entries: list[Entry]) -> bool:
        """Sign and publish one message: a single event, or several (``entries``, encoded) as
        one batch; then gossip the uses and rollbacks among them to peers, each signed alone."""
        singles: dict[int, bytes] = {}
        if len(events) == 1:
            event = events[0]
            payload = singles[event.seq] = self._sign(event)
            to = self._face_topic if topic_kind(event.kind) == topics.Kind.FACE else None
        else:
            payload = sign_batch(self.node_key, site=self.site, node=self.node, entries=entries)
            to = None
        info = topics.publish(self._client, to or self._event_topic, payload)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        self._inflight[info.mid] = tuple(e.seq for e in events)
        for event in events:
            if event.kind in GOSSIP_KINDS:
                gossip = singles.get(event.seq) or self._sign(event)
                topics.publish(self._client, self._uses_topic, gossip)
        return True

    def _sign(self, event: OutboxEvent) -> bytes:
        return sign_event(
            self.node_key,
            site=self.site,
            node=self.node,
            seq=event.seq,
            kind=event.kind,
            at_ms=event.at_ms,
            data=event.data,
        )

    def _resend_overdue(self, now_ms: int) -> int:
        overdue = [s for s, at in self._awaiting.items() if now_ms - at >= self._broker.resend_ms]
        overdue = sorted(overdue[: max(0, WINDOW - self._inflight_events)])
        for seq in overdue:
            del self._awaiting[seq]
        events = [e for e in map(self.ledger.event, overdue) if e is not None]
        for group, entries in self._messages(events):
            if not self._publish(group, entries):
                break  # link down: the next connect resends everything still in the outbox
        return len(overdue)

    def request(self, what: dict[str, Any]) -> None:
        """Ask the cloud for something the node misses (e.g. revocations from a seq)."""
        if self.connected:
            topics.publish(self._client, self._request_topic, json.dumps(what))

    def _settle_pubacks(self, now_ms: int) -> None:
        while self._acked_mids:
            seqs = self._inflight.pop(self._acked_mids.popleft(), ())
            for seq in seqs:
                self._awaiting[seq] = now_ms
            if seqs:
                self.last_ack_ms = now_ms

    def _state_payload(self, state: str) -> str:
        return json.dumps({"node": self.node, "state": state, "session": self.session})

    # -- paho's network thread: append only -------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._fault(refusal_fault(str(reason)))
            return
        self.fault = None
        client.subscribe(topics.node_subscriptions(self.site, self.node))
        topics.publish(client, self._state_topic, self._state_payload("online"))
        self.connected = True
        self._connects.append(True)
        log.info("connected to broker", extra={"fields": {"session": self.session}})

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its ``except OSError``: the exception is the current one
        self._fault(link_fault(sys.exc_info()[1]))

    def _fault(self, fault: tuple[str, str]) -> None:
        """Log why the link is down, once per reason (paho retries every 1-30 s)."""
        if fault != self.fault:
            log.warning(
                "cannot connect to broker: %s",
                fault[1],
                extra={"fields": {"code": fault[0], "host": self._broker.host}},
            )
        self.fault = fault

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected = False
        if reason.is_failure:
            log.warning("disconnected from broker: %s", reason)
        else:
            log.info("disconnected from broker")

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        self._acked_mids.append(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received.append((message.topic, bytes(message.payload)))


def link_fault(exc: BaseException | None) -> tuple[str, str]:
    """(code, one line) for an exception raised while connecting to the broker.

    ``tls_untrusted_broker``: the broker's certificate does not chain to the pinned CA (or
    names another host): someone else's broker, or the broker's certificate was replaced
    without the CA the node pins. ``tls_failed``: any other TLS failure. ``broker_unreachable``:
    nothing answers (refused, no route, DNS, timeout)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "tls_untrusted_broker",
            f"the broker's certificate does not chain to the pinned CA ({exc.verify_message})",
        )
    if isinstance(exc, ssl.SSLError):
        return "tls_failed", f"TLS with the broker failed: {exc.reason or exc}"
    return "broker_unreachable", f"the broker does not answer: {exc}"


def refusal_fault(reason: str) -> tuple[str, str]:
    """(code, one line) for a CONNACK refusal (paho's reason text)."""
    if "user name or password" in reason.lower() or "not authorized" in reason.lower():
        return "bad_credentials", f"the broker refused this node's login: {reason}"
    return "broker_refused", f"the broker refused the connection: {reason}"
