"""The HTTP API's own link to the broker: what a refund or change revokes goes out at once.

The API commits a revocation delta, then hands it here (CloudContext.publish); it is published
on ``scenic/{site}/down/{type}`` with the QoS and retain keys/topics.py gives it. paho queues
it in memory while the broker is away; a delta lost with the process is not lost to the gates:
the downlink service's signed time heartbeat names the current seq, or the next delta shows
them a gap, and they ask it for a snapshot (keys/revocation.py, gate_node/downlink.py).
"""

from __future__ import annotations

import logging
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.core.config import Settings
from keys import topics

log = logging.getLogger("cloud.api.publisher")


class ApiPublisher:
    """The API's ``CloudContext.publish``: sends a committed revocation delta to the gates.

    Never called before the commit; a delta it loses shows the gates a gap they ask to fill."""

    def __init__(self, settings: Settings, client_id: str = "cloud-api") -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if settings.broker_username:
            self._client.username_pw_set(settings.broker_username, settings.broker_password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_queued_messages_set(10_000)
        self._client.on_connect = self._on_connect
        self._client.connect_async(settings.broker_host, settings.broker_port, keepalive=30)
        self._client.loop_start()

    def __call__(self, site: str, doc_type: str, raw: bytes) -> None:
        topics.publish(self._client, topics.down(site, doc_type), raw)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused the API publisher: %s", reason)
