"""Per-node broker logins, made and removed at run time through Mosquitto's dynamic security.

Never: grant a node anything beyond ``node_grants`` (keys/topics.py's contract: write its own
uplink, read its own site's downlink and its own, exchange its site's use gossip), or keep a
node's password: it is made here, handed to the node once in its enrolment bundle, and only
Mosquitto keeps it (hashed, in its dynamic-security.json).

The site broker loads ``mosquitto_dynamic_security.so`` beside its password and ACL files
(broker/dynsec.conf): the cloud, bridge and admin users stay in those files, and each gate node
is a dynsec client named after its node id, bound to its client id ``gate-{site}-{node}``
(gate_node/uplink.py), with a role of its own. Requests go over the ``$CONTROL`` topic as the
dynsec admin (``mosquitto_ctrl dynsec init`` makes that user at installation); each call
connects, sends one batch of commands, waits for the answer and disconnects: enrolments are
rare, and a short connection holds no state to go stale.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from keys import topics

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = f"{CONTROL}/response"


class BrokerLoginError(Exception):
    """The broker could not be reached or refused a command; the message says which."""


def client_id(site: str, node: str) -> str:
    """The MQTT client id a gate node connects with (gate_node/uplink.py)."""
    return f"gate-{site}-{node}"


def role_name(site: str, node: str) -> str:
    return f"node-{site}-{node}"


def node_grants(site: str, node: str) -> list[dict[str, Any]]:
    """The dynsec ACL entries of one node: its uplink, its site's downlink, its own downlink
    and the site's gossip. Everything else falls to the default: denied."""
    send = [
        topics.event(site, node).name,
        topics.state(site, node).name,
        topics.request(site, node).name,
        topics.face(site, node).name,
        topics.uses(site).name,
    ]
    read = [
        topics.filter_for(topics.Kind.DOWN, site),
        topics.filter_for(topics.Kind.DOWN_NODE, site, node),
        topics.uses(site).name,
    ]
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in send]
    acls += [{"acltype": "subscribePattern", "topic": t, "allow": True} for t in read]
    acls += [{"acltype": "publishClientReceive", "topic": t, "allow": True} for t in read]
    # Below them (priority -1), everything else denied, whatever the broker's defaults say.
    acls += [
        {"acltype": kind, "topic": "#", "allow": False, "priority": -1}
        for kind in ("publishClientSend", "subscribePattern", "publishClientReceive")
    ]
    return acls


class BrokerLogins:
    """The dynsec admin's connection details; ``create`` and ``remove`` do one batch each."""

    def __init__(
        self, host: str, port: int, username: str, password: str, timeout_s: float = 10.0
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.timeout_s = timeout_s

    def create(self, site: str, node: str, password: str) -> None:
        """Make (or make again, for a replaced Pi) the login of ``node`` with ``password``."""
        self.remove(site, node)
        role = role_name(site, node)
        self._run(
            [
                {"command": "createRole", "rolename": role, "acls": node_grants(site, node)},
                {
                    "command": "createClient",
                    "username": node,
                    "password": password,
                    "clientid": client_id(site, node),
                    "roles": [{"rolename": role}],
                },
            ]
        )

    def remove(self, site: str, node: str) -> None:
        """Delete the login and role of ``node`` (none there is fine): connected sessions of
        that client are disconnected by the broker at once."""
        self._run(
            [
                {"command": "deleteClient", "username": node},
                {"command": "deleteRole", "rolename": role_name(site, node)},
            ],
            missing_ok=True,
        )

    def _run(self, commands: list[dict[str, Any]], missing_ok: bool = False) -> None:
        answers = self._send(commands)
        for command, answer in zip(commands, answers, strict=False):
            error = answer.get("error")
            if error and not (missing_ok and "not found" in str(error).lower()):
                raise BrokerLoginError(f"{command['command']}: {error}")

    def _send(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = threading.Event()
        answers: list[dict[str, Any]] = []
        failure: list[str] = []
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"cloud-provisioning-{uuid.uuid4().hex[:8]}"
        )
        client.username_pw_set(self.username, self.password)

        def connected(c: mqtt.Client, u: Any, f: Any, reason: Any, p: Any) -> None:
            if reason.is_failure:
                failure.append(f"broker refused the provisioning login: {reason}")
                done.set()
                return
            c.subscribe(RESPONSE, qos=1)

        def subscribed(c: mqtt.Client, u: Any, mid: int, codes: Any, p: Any) -> None:
            c.publish(CONTROL, json.dumps({"commands": commands}), qos=1)

        def message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                answers.extend(json.loads(msg.payload)["responses"])
            except (ValueError, KeyError, TypeError):
                failure.append("the broker's answer was not dynamic-security JSON")
            done.set()

        client.on_connect = connected
        client.on_subscribe = subscribed
        client.on_message = message
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BrokerLoginError(f"broker {self.host}:{self.port} unreachable: {exc}") from None
        client.loop_start()
        try:
            if not done.wait(self.timeout_s):
                raise BrokerLoginError(f"no answer from the broker in {self.timeout_s:.0f} s")
        finally:
            client.disconnect()
            client.loop_stop()
        if failure:
            raise BrokerLoginError(failure[0])
        return answers
