"""Reporting a first-entry face binding to the cloud: sealed to its face key, into the outbox.

``Engine.when_face_bound`` is set to a ``BindingReport`` (gate_node/assembly.py). The binding
(holder, embedding, ticket, node, instant) is sealed to the cloud's X25519 face key, the one
the root-signed site config publishes (``NodeState.cloud_face_key``; keys/face_binding.py),
and queued as a ``face_bind`` event; the uplink sends it on the node's ``face`` topic, signed
by the node key like every event, and it leaves the outbox only on the cloud's ack. The cloud
keeps the site's *first* binding and sends it to every gate as an enrolment
(cloud/services/face_binding.py), which replaces whatever a gate bound locally.

Never: put an embedding in the outbox unsealed, or raise into the lane (a failure is logged and
the binding stays local, as it was before there was a cloud to tell). Without a face key in the
config (a cloud that has not run ``scenic-cloud keys face-init``) the binding stays on this
gate and that is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import numpy as np

from gate_node.ledger import Ledger
from keys.claims import TicketClaims
from keys.face_binding import FaceBinding, seal_binding
from keys.logs import event
from keys.sealed_box import public_from

log = logging.getLogger("gate_node.face")


class BindingReport:
    """Seal each first-entry binding to the cloud's face key and queue it (module docstring).

    ``face_key`` is read at each binding (a config from the downlink may bring or change it)."""

    def __init__(
        self, ledger: Ledger, site: str, node: str, face_key: Callable[[], bytes | None]
    ) -> None:
        self.ledger = ledger
        self.site, self.node = site, node
        self._face_key = face_key
        self._told_no_key = False

    def __call__(
        self, holder: bytes, embedding: np.ndarray, claims: TicketClaims, now: datetime
    ) -> None:
        raw = self._face_key()
        if raw is None:
            if not self._told_no_key:
                self._told_no_key = True
                event(log, "no cloud face key in the site config: face bindings stay local")
            return
        binding = FaceBinding(holder, embedding, claims.ticket_id, self.node, _ms(now))
        try:
            sealed = seal_binding(public_from(raw), self.site, binding)
            self.ledger.record_face_bind(now, sealed)
        except Exception:  # boundary: the lane decides on; the binding stays local
            log.exception("face binding not reported to the cloud")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
