"""What every cloud MQTT service shares: a persistent session, credentials, subscriptions
renewed on each connect, and a loop that steps the service until told to stop.

A subclass gives its ``subscriptions`` and implements ``step()`` (returning whether it did
work, so an idle loop sleeps ``idle_s``) and may set ``manual_ack``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("cloud.mqtt")


class BrokerClient:
    """The MQTT session every cloud service runs on; a subclass gives ``subscriptions`` and
    ``step()``. Never loses a subscription on a reconnect: they are renewed on each connect."""

    subscriptions: tuple[tuple[str, int], ...] = ()
    idle_s = 0.01

    def __init__(
        self,
        client_id: str,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=manual_ack,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._host, self._port = host, port

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; sleep ``idle_s`` whenever a step found nothing to do."""
        self.start()
        try:
            while not stop.is_set():
                if not self.step():
                    stop.wait(self.idle_s)
        finally:
            self.stop()

    def step(self) -> int:
        return 0

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused %s: %s", type(self).__name__, reason)
            return
        if self.subscriptions:
            client.subscribe(list(self.subscriptions))
        self.connected.set()
