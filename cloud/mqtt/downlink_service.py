"""The cloud's downlink service: answers gates, tracks their links, keeps their clocks honest.

- ``scenic/{site}/gate/{node}/request`` ``{"want": "revocations" | "cards", "from": n}``: the
  gate saw a gap in the deltas, or a time heartbeat naming a seq beyond its own; it gets a
  fresh signed snapshot on its own downlink topic.
- ``scenic/{site}/gate/{node}/state``: births and wills. A node is online after a birth,
  offline after a will of the *same or a newer* session; a will from an older session (the
  broker delivering it late, after the node already came back) changes nothing.
- every ``time_every_s``: a signed time document per site, retained (gates raise their clock
  floor to it; it names the current revocation and card index seq, so a quiet gate learns it
  is behind), and the node registry when devices changed.
- every step: the card index changes (paid real-name tickets, bound RFID cards, refunds and
  changes) signed as one delta per site and published (services/card_index.py); and, with
  the personal-data key, the faces of annual passes renewed or reverted since (one ``faces``
  delta per site, services/pass_faces.py).
- ``revoke``: record refunded or changed tickets and publish the signed delta at once.

State changes and documents are committed before anything is published, so what the gates are
told is always what the database holds.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.models import Device, NodeLink, SiteDocument
from cloud.mqtt.broker_client import BrokerClient
from cloud.mqtt.downlink import DownlinkPublisher
from cloud.services import card_index, face_enrolment, pass_faces
from cloud.services import downlink_documents as documents
from cloud.services.personal_data import PersonalData
from keys import topics
from keys.clock import SYSTEM, Clock
from keys.cose import Signer

log = logging.getLogger("cloud.downlink")
# Documents other parts of the cloud sign into site_documents (key rotation, device changes,
# a manager's gate settings: services/gate_settings.py, a config re-signed with the face key
# by ``keys face-init``); this service publishes each new one (time it makes itself,
# revocations go out as they happen).
FROM_DATABASE = ("keyring", "nodes", "config")


class DownlinkService(BrokerClient):
    """Answers gates' requests, tracks their links, and publishes signed time and documents.

    Never publishes what the database has not committed."""

    subscriptions = tuple(topics.cloud_subscriptions(topics.Kind.REQUEST, topics.Kind.STATE))

    def __init__(
        self,
        sessions: sessionmaker[Session],
        root: Signer,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        time_every_s: float = 60.0,
        clock: Clock = SYSTEM,
        pd: PersonalData | None = None,
    ) -> None:
        """``clock`` signs the time documents (its wall time) and paces them (its monotonic).
        ``pd`` (the personal-data key) decrypts face enrolments for a gate asking for a faces
        snapshot; without it such requests are logged and left unanswered."""
        self.pd = pd
        super().__init__("cloud-downlink", host, port, username, password)
        self.clock = clock
        self.sessions = sessions
        self.root = root
        self.time_every_s = time_every_s
        self._inbox: deque[tuple[str, bytes]] = deque()
        self.client.on_message = lambda c, u, m: self._inbox.append((m.topic, bytes(m.payload)))
        self.publisher = DownlinkPublisher(self.client, root, clock)
        self._next_time = 0.0
        self._published: dict[tuple[str, str], int] = {}

    def step(self, now: float | None = None) -> int:
        """Answer what arrived; publish time when due (``now``: monotonic seconds, default the
        clock's)."""
        handled = len(self._inbox)
        while self._inbox:
            topic, payload = self._inbox.popleft()
            try:
                self._handle(topic, payload)
            except Exception:  # boundary: one message; the service goes on
                log.exception("downlink request failed", extra={"fields": {"topic": topic}})
        current = now if now is not None else self.clock.monotonic()
        if self.connected.is_set() and current >= self._next_time:
            self._next_time = current + self.time_every_s
            self.publish_time()
        if self.connected.is_set():
            self.publish_new_documents()
            handled += self.publish_card_changes()
            handled += self.publish_pass_faces()
        return handled

    # -- what the rest of the cloud calls ------------------------------------------------------
    def revoke(self, site: str, tickets: dict[bytes, date]) -> bytes:
        with self.sessions.begin() as session:
            raw = documents.revoke(session, self.root, site, tickets, self.clock.now())
        self.publisher.site_document(site, "revocations", raw)
        return raw

    def publish_registry(self, site: str) -> None:
        with self.sessions.begin() as session:
            raw = documents.node_registry(session, self.root, site, self.clock.now())
        self.publisher.site_document(site, "nodes", raw)

    def publish_new_documents(self) -> int:
        """Keyrings, node registries and configs the rest of the cloud signed since the last
        look (``scenic-cloud keys rotate``, ``keys face-init``, the gate settings route and
        enrolment write them to the database): publish them."""
        with self.sessions() as session:
            rows = session.scalars(
                select(SiteDocument).where(
                    SiteDocument.doc_type.in_(FROM_DATABASE), SiteDocument.raw.is_not(None)
                )
            ).all()
        sent = 0
        for row in rows:
            key = (row.site, row.doc_type)
            if row.raw is not None and self._published.get(key, -1) < row.seq:
                self.publisher.site_document(row.site, row.doc_type, row.raw)
                self._published[key] = row.seq
                sent += 1
        return sent

    def publish_card_changes(self) -> int:
        """Sign and publish one card index delta per site that has changes; how many sent."""
        with self.sessions() as session:  # a read first: most steps have nothing to sign
            sites = card_index.sites_with_changes(session)
        if not sites:
            return 0
        with self.sessions.begin() as session:
            now = self.clock.now()
            signed = {
                site: card_index.next_document(session, self.root, site, now) for site in sites
            }
        for site, raw in signed.items():
            if raw is not None:
                self.publisher.site_document(site, "cards", raw)
        return len(signed)

    def publish_pass_faces(self) -> int:
        """Sign and publish the faces delta of each site with renewed passes' faces to carry
        over (services/pass_faces.py); without the data key they wait. How many sent."""
        if self.pd is None:
            return 0
        with self.sessions() as session:
            sites = pass_faces.sites_pending(session)
        if not sites:
            return 0
        with self.sessions.begin() as session:
            now = self.clock.now()
            signed = {
                site: pass_faces.sign_pending(session, self.root, self.pd, site, now)
                for site in sites
            }
        for site, raw in signed.items():
            if raw is not None:
                self.publisher.site_document(site, "faces", raw)
        return len(signed)

    def publish_time(self) -> None:
        with self.sessions.begin() as session:
            sites = sorted(set(session.scalars(select(Device.site))))
            now = self.clock.now()
            signed = {site: documents.signed_time(session, self.root, site, now) for site in sites}
        for site, raw in signed.items():
            self.publisher.site_document(site, "time", raw)

    # -- what the gates send -------------------------------------------------------------------
    def _handle(self, topic: str, payload: bytes) -> None:
        parsed = topics.parse(topic)
        if parsed is None or parsed.node is None:
            return
        message = json.loads(payload) if payload else {}
        if not isinstance(message, dict):
            return
        if parsed.kind is topics.Kind.REQUEST and message.get("want") == "revocations":
            self._send_snapshot(parsed.site, parsed.node)
        elif parsed.kind is topics.Kind.REQUEST and message.get("want") == "cards":
            self._send_cards(parsed.site, parsed.node)
        elif parsed.kind is topics.Kind.REQUEST and message.get("want") == "faces":
            self._send_faces(parsed.site, parsed.node)
        elif parsed.kind is topics.Kind.STATE:
            self._link(parsed.site, parsed.node, message)

    def _send_snapshot(self, site: str, node: str) -> None:
        with self.sessions.begin() as session:
            now = self.clock.now()
            raw = documents.revocation_snapshot(session, self.root, site, now.date(), now)
        if raw is not None:
            self.publisher.node_document(site, node, "revocations", raw)
            log.info("sent revocation snapshot", extra={"fields": {"site": site, "node": node}})

    def _send_cards(self, site: str, node: str) -> None:
        with self.sessions.begin() as session:
            now = self.clock.now()
            raw = card_index.snapshot(session, self.root, site, now.date(), now)
        if raw is not None:
            self.publisher.node_document(site, node, "cards", raw)
            log.info("sent card index snapshot", extra={"fields": {"site": site, "node": node}})

    def _send_faces(self, site: str, node: str) -> None:
        if self.pd is None:
            log.warning(
                "a gate asked for face enrolments: this service has no data key",
                extra={"fields": {"site": site, "node": node}},
            )
            return
        with self.sessions.begin() as session:
            now = self.clock.now()
            raw = face_enrolment.snapshot(session, self.root, self.pd, site, now, node)
        if raw is not None:
            self.publisher.node_document(site, node, "faces", raw)
            log.info("sent faces snapshot", extra={"fields": {"site": site, "node": node}})

    def _link(self, site: str, node: str, message: dict[str, Any]) -> None:
        state, session_no = message.get("state"), message.get("session")
        now = self.clock.now()
        if state not in ("online", "offline") or not isinstance(session_no, int):
            return
        with self.sessions.begin() as session:
            link = session.get(NodeLink, (site, node), with_for_update=True)
            if link is None:
                session.add(
                    NodeLink(
                        site=site,
                        node=node,
                        state=state,
                        session=session_no,
                        changed_at=now,
                    )
                )
                return
            if session_no < link.session:
                return  # a stale will (or birth) from an older session
            link.state, link.session, link.changed_at = state, session_no, now
