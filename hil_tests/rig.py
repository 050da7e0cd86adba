"""The rig: what a hardware-in-the-loop scenario may do to a gate, and two ways of doing it.

A scenario acts only as the world outside the gate does: people walk through the mechanism
(simulated mechanisms, simulators/mechanisms.py, moving the gate's own sensors), a code is
presented to the scanner, the fire loop is cut, the power or the network goes. It observes
what the gate shows (lamps, relays) and what it recorded and reported (the journal).

``SimRig``: a real ``gate-node run`` process on shared simulated pins
(simulators/shared_pins.py), its scanner and card readers on pseudo-terminals, the mechanism
in this process. Power cut = SIGKILL, reboot with a wrong clock = ``$SCENIC_CLOCK_AT``, SD card
full = a size-limited state directory (a loop-mounted file system when run as root, else
skipped).

``RealRig``: a Raspberry Pi running the node under systemd with its gate I/O wired to a second
board, whose gpiozero pins play the mechanism's part (the same simulated people, moving real
wires), whose serial port feeds the Pi's scanner input, and which reads the node's events from
MQTT. Set by a rig file (``--rig FILE``, hil_tests/README.md has the wiring); a capability the
rig file does not give (a power relay, ssh) skips the scenarios that need it.

The journal is read as an operator would read a node: its ledger file (SimRig, read-only) or
its signed events over MQTT (RealRig).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from gate_node.pin_map import DEFAULT_PIN_MAPS
from keys import keystore
from keys.claims import PriceType, TicketClaims
from keys.clock import SYSTEM
from keys.keyring import IssuerKey, sign_keyring
from keys.ticket import issue_ticket
from provisioning.node_init import initialise
from simulators.lane_process import Journal, LaneError, LaneProcess, wait_until
from simulators.mechanisms import Mechanism, MechanismThread, Wires, make_mechanism

RigError = LaneError
SITE = "HIL"
TIMEZONE = "Asia/Shanghai"
# The rig's day: an instant every node process is started at ($SCENIC_CLOCK_AT), so tickets
# are valid whatever the machine's date. 10:00 in the site's zone.
RIG_AT = datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("UTC"))
PASSPHRASE = b"hil rig passphrase, not a secret"


class Rig(Protocol):
    kind: str
    mechanism: Mechanism

    def ticket(self, number: int, **claims: Any) -> str: ...

    def present(self, text: str) -> None: ...

    def journal(self) -> Journal: ...

    def output(self, part: str) -> bool: ...


def rig_day() -> date:
    return RIG_AT.astimezone(ZoneInfo(TIMEZONE)).date()


class SimRig(LaneProcess):
    """One lane: a ``gate-node run`` process beside its simulated mechanism, with its own root
    and issuer keys (simulators/lane_process.py does the process and the hardware)."""

    def __init__(self, folder: Path, kind: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.root = keystore.generate("root", "R1")
        self.issuer = keystore.generate("issuer", "I1")
        (folder / "root.pem").write_text(keystore.public_pem(self.root.public_key))
        (folder / "keyring.cose").write_bytes(
            sign_keyring(
                self.root, [IssuerKey(self.issuer.kid, self.issuer.public_key)], site=SITE, seq=1
            )
        )
        passphrase_file = folder / "passphrase"
        passphrase_file.write_bytes(PASSPHRASE)
        passphrase_file.chmod(0o600)
        super().__init__(folder, kind, folder / "state", passphrase_file)

    def install(self, state_dir: Path | None = None, **config: Any) -> None:
        """What an installer does once: the state directory (gatectl init's code path)."""
        if state_dir is not None:
            self.state_dir = state_dir
        doc: dict[str, Any] = {
            "site": SITE,
            "node": self.node_id,
            "kind": self.kind,
            "zone": 1,
            "timezone": TIMEZONE,
            "readers": self.readers(),
            **config,
        }
        initialise(
            self.state_dir,
            doc,
            self.folder / "root.pem",
            self.folder / "keyring.cose",
            None,
            PASSPHRASE,
        )

    def power_on(self, clock_at: datetime | None = RIG_AT, wait: bool = True) -> None:
        """Boot the node (installing it first if need be) at ``clock_at`` (the rig's day)."""
        if not (self.state_dir / "node.json").exists():
            self.install()
        super().power_on(clock_at, wait)

    def node_public_key(self) -> Any:
        """The node's identity public key, as the installer registers it with the cloud."""
        from gate_node.state import NodeState

        return NodeState.open(self.state_dir).identity(PASSPHRASE).public_key

    def ticket(self, number: int, **claims: Any) -> str:
        fields: dict[str, Any] = {"valid_from": rig_day(), "valid_until": rig_day(), **claims}
        if fields.get("group_size", 1) > 1:
            fields.setdefault("price_type", PriceType.GROUP)
        ticket_id = number.to_bytes(8, "big")
        return issue_ticket(self.issuer, TicketClaims(ticket_id=ticket_id, product=1, **fields))


class EventTap:
    """Reads a node's signed events off the broker, as the cloud would, checking each
    signature against the node's public key; a resent event (same seq) counts once."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        site: str,
        node: str,
        node_key: Any,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from keys import topics
        from keys.gate_event_batch import verify_report

        self.events: dict[int, tuple[str, dict[str, Any]]] = {}
        self.received = 0
        self._lock = threading.Lock()

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            report = verify_report(message.payload, node_key, site)  # one event or a batch
            with self._lock:
                for event in report.events:
                    self.received += 1
                    self.events.setdefault(event.seq, (event.kind, event.data))

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            client.subscribe(str(topics.event(site, node)), qos=1)

        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tap-{node}")
        self._client.username_pw_set(username, password)
        self._client.on_message = on_message
        self._client.on_connect = on_connect
        self._client.reconnect_delay_set(1, 2)
        self._client.connect(host, port)
        self._client.loop_start()

    def kinds(self) -> Counter[str]:
        with self._lock:
            return Counter(kind for kind, _ in self.events.values())

    def journal(self) -> Journal:
        journal = Journal()
        with self._lock:
            for kind, data in self.events.values():
                if kind == "use":
                    journal.uses += 1
                elif kind == "passage":
                    journal.passed += 1
                elif kind == "rollback":
                    journal.rolled_back += int(data.get("unused", 0))
                elif kind == "denial":
                    journal.denials.append(str(data.get("reason")))
                elif kind == "alarm":
                    journal.alarms.append(str(data.get("alarm")))
        return journal

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class GpiozeroWires:
    """The second board's side of the harness: its outputs drive the gate's inputs, its inputs
    read the gate's outputs, wire for wire (hil_tests/README.md, Wiring). Logical levels follow
    the gate's pin map (what the node calls active)."""

    def __init__(self, rig_pins: dict[str, int], gate_pin_map: dict[str, Any]) -> None:
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        from gate_node.pin_map import INPUTS, parse_pin_map

        kind, specs = parse_pin_map(gate_pin_map)
        self._in: dict[str, Any] = {}
        self._out: dict[str, Any] = {}
        for part, spec in specs.items():
            gpio = rig_pins[part]
            if part in INPUTS[kind]:  # the gate reads it: we drive it, with its polarity
                self._out[part] = DigitalOutputDevice(gpio, active_high=not spec.active_low)
            else:  # the gate drives it: we read it
                self._in[part] = DigitalInputDevice(
                    gpio, pull_up=None, active_state=not spec.active_low
                )

    def active(self, part: str) -> bool:
        return bool(self._in[part].value)

    def set(self, part: str, active: bool) -> None:
        self._out[part].value = active

    def close(self) -> None:
        for device in (*self._in.values(), *self._out.values()):
            device.close()


class RealRig:
    """A Pi and its gate, driven by a second board (module docstring; README for the file)."""

    def __init__(self, rig_file: Path) -> None:
        import serial

        spec = json.loads(rig_file.read_text())
        self.spec = spec
        self.kind = str(spec["kind"])
        gate_map = spec.get("gate_pin_map") or DEFAULT_PIN_MAPS[self.kind]
        self.wires_hw = GpiozeroWires(spec["rig_pins"], gate_map)
        self.wires: Wires = self.wires_hw
        self.mechanism = make_mechanism(self.kind, self.wires)
        self._lane = MechanismThread(self.mechanism).start()
        self._scanner = serial.Serial(spec["scanner_port"], spec.get("scanner_baud", 9600))
        passphrase = keystore.passphrase_from(Path(spec["issuer_passphrase_file"]))
        self.issuer = keystore.load(Path(spec["issuer_key"]), passphrase)
        mqtt_spec = spec["mqtt"]
        self.tap = EventTap(
            mqtt_spec["host"],
            int(mqtt_spec.get("port", 1883)),
            mqtt_spec.get("username"),
            mqtt_spec.get("password"),
            mqtt_spec["site"],
            mqtt_spec["node"],
            keystore.load_public_pem(Path(mqtt_spec["node_public_key"])),
        )

    def ticket(self, number: int, **claims: Any) -> str:
        day = SYSTEM.now().astimezone(ZoneInfo(self.spec.get("timezone", TIMEZONE))).date()
        fields: dict[str, Any] = {"valid_from": day, "valid_until": day, **claims}
        if fields.get("group_size", 1) > 1:
            fields.setdefault("price_type", PriceType.GROUP)
        # A fresh id range per run, so a ticket of an earlier run is not "already used".
        base = int(SYSTEM.now().timestamp()) << 16
        ticket_id = (base + number).to_bytes(8, "big")
        return issue_ticket(self.issuer, TicketClaims(ticket_id=ticket_id, product=1, **fields))

    def present(self, text: str) -> None:
        self._scanner.write(text.encode("ascii") + b"\r\n")

    def output(self, part: str) -> bool:
        return self.wires.active(part)

    def journal(self) -> Journal:
        return self.tap.journal()

    def wait_for_decisions(self, count: int, timeout_s: float = 10) -> Journal:
        wait_until(lambda: self.journal().decisions >= count, timeout_s, f"{count} decision(s)")
        return self.journal()

    def wait_idle(self, timeout_s: float = 30) -> None:
        wait_until(self.mechanism.idle, timeout_s, "the lane to be empty")

    def close(self) -> None:
        self._lane.stop()
        self.tap.close()
        self._scanner.close()
        self.wires_hw.close()


__all__ = ["EventTap", "Journal", "RealRig", "RigError", "SimRig", "wait_until"]
