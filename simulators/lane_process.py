"""One lane on one machine: a real ``gate-node run`` process beside its simulated hardware.

The node is the product's own process, started as systemd would (``gate-node run``), with
``GPIOZERO_PIN_FACTORY=simpins``: its pins are a pin bank (shared_pins.py) that the simulated
mechanism (mechanisms.py), running in this process, moves. Its code scanner and ID-card reader
are serial devices on pseudo-terminals (``scanner``, ``id_reader``, ``rfid_reader``:
card_readers.py): a code is presented by
writing the line a serial scanner would send. Nothing reaches into the node: what it decided
is read from its ledger file (read-only, as a technician would) and its lamps from its pins.

Used by the HIL rig (hil_tests/rig.py) and the demo (site.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cbor2

from gate_node.pin_map import DEFAULT_PIN_MAPS
from keys import keystore
from keys.clock import SYSTEM
from keys.reasons import Reason
from simulators.card_readers import IdCardReader, Pty, RfidReader
from simulators.mechanisms import BankWires, Mechanism, MechanismThread, Wires, make_mechanism
from simulators.shared_pins import PinBank

BIN = Path(sys.executable).parent


class LaneError(RuntimeError):
    """The lane could not do what was asked (a node that never came up, a timeout)."""


def wait_until(check: Any, timeout_s: float = 10.0, what: str = "the condition") -> None:
    """Poll ``check()`` every 20 ms until it holds; ``LaneError`` after ``timeout_s``."""
    deadline = SYSTEM.monotonic() + timeout_s
    while not check():
        if SYSTEM.monotonic() > deadline:
            raise LaneError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        SYSTEM.sleep(0.02)


@dataclass
class Journal:
    """What the node recorded, as counts."""

    uses: int = 0
    passed: int = 0
    rolled_back: int = 0
    denials: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    outbox: int = 0

    @property
    def decisions(self) -> int:
        return self.uses + len(self.denials)


@dataclass(frozen=True)
class Shown:
    """The last decision as the lane display shows it."""

    grant: bool
    reason: str
    earlier_node: str | None = None
    earlier_at: datetime | None = None

    def message(self, timezone: ZoneInfo) -> tuple[str, str]:
        """zh-CN and English, as the lane display words it (gate_node's Decision.message)."""
        text = Reason(self.reason).text if self.reason in Reason._value2member_map_ else None
        zh, en = (text.zh, text.en) if text else (self.reason, self.reason)
        if self.earlier_node is None or self.earlier_at is None:
            return zh, en
        when = self.earlier_at.astimezone(timezone).strftime("%m-%d %H:%M")
        return f"{zh}（{when} 于 {self.earlier_node}）", f"{en} ({when} at {self.earlier_node})"


class LaneProcess:
    """``folder`` holds the pin bank and the node's log; ``state_dir`` the node's state."""

    def __init__(
        self,
        folder: Path,
        kind: str,
        state_dir: Path,
        passphrase_file: Path,
        node: str = "L1",
        seed: int = 1,
    ) -> None:
        self.kind = kind
        self.folder = folder
        self.node_id = node
        folder.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.passphrase_file = passphrase_file
        self.scanner = Pty()
        self.id_reader = IdCardReader()
        self.rfid_reader = RfidReader()
        self.pin_map: dict[str, Any] = DEFAULT_PIN_MAPS[kind]
        self.bank = PinBank.create(folder / "lane.pins")
        self.wires: Wires = BankWires(self.bank, self.pin_map)
        self.mechanism: Mechanism = make_mechanism(kind, self.wires, seed)
        self._lane = MechanismThread(self.mechanism).start()
        self.node: subprocess.Popen[bytes] | None = None
        self._log = folder / "node.log"

    def readers(self) -> list[dict[str, str]]:
        """The reader entries for the node's configuration."""
        return [
            {"url": self.scanner.path, "kind": "qr"},
            {"url": self.id_reader.path, "kind": "id_card"},
            {"url": self.rfid_reader.path, "kind": "rfid"},
        ]

    # -- the node's life --------------------------------------------------------------------------
    def power_on(self, clock_at: datetime | None = None, wait: bool = True) -> None:
        """Start ``gate-node run`` (as systemd would at boot); wait until it serves."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GPIOZERO_PIN_FACTORY": "simpins",
            "SCENIC_SIM_PINS": str(self.bank.path),
            keystore.PASSPHRASE_FILE_ENV: str(self.passphrase_file),
        }
        if clock_at is not None:
            env["SCENIC_CLOCK_AT"] = clock_at.isoformat()
        self._log.write_bytes(b"")
        with open(self._log, "ab") as log:
            self.node = subprocess.Popen(
                [str(BIN / "gate-node"), "run", "--state-dir", str(self.state_dir)],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops this in order
            )
        if wait:
            self.power_on_wait()

    def power_on_wait(self, timeout_s: float = 60) -> None:
        """Until the node serves (several booting at once on two cores take a while)."""
        wait_until(self._serving, timeout_s, f"node {self.node_id} to serve")

    def _serving(self) -> bool:
        if self.node is not None and self.node.poll() is not None:
            raise LaneError(
                f"gate-node run ({self.node_id}) exited {self.node.returncode}: "
                f"{self.log()[-2000:]}"
            )
        return "serving" in self.log()

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def power_cut(self) -> None:
        """The power goes: SIGKILL, no goodbye; the relays drop (de-energised coils)."""
        if self.node is not None and self.node.poll() is None:
            self.node.send_signal(signal.SIGKILL)
            self.node.wait()
        for gpio in range(64):
            if self.bank.function(gpio) == "output":
                self.bank.set_output(gpio, False)
                self.bank.set_function(gpio, "unused")

    def shut_down(self) -> int:
        """systemctl stop: SIGTERM; returns the node's exit code."""
        if self.node is None:
            return 0
        if self.node.poll() is not None:
            return self.node.returncode
        self.node.terminate()
        try:
            return self.node.wait(15)
        except subprocess.TimeoutExpired:
            self.node.kill()
            return self.node.wait()

    def close(self) -> None:
        self.shut_down()
        self._lane.stop()
        self.scanner.close()
        self.id_reader.close()
        self.rfid_reader.close()
        self.bank.close()

    # -- visitors ---------------------------------------------------------------------------------
    def present(self, text: str) -> None:
        """A code held to the scanner (a serial QR scanner sends one line per read)."""
        self.scanner.send(text)

    def output(self, part: str) -> bool:
        return self.wires.active(part)

    def visit(self, text: str, walkers: int = 1, timeout_s: float = 30) -> Shown:
        """A visitor shows a code; if the lane opens, ``walkers`` people walk through."""
        before = self.journal()
        self.present(text)
        after = self.wait_for_decisions(before.decisions + 1)
        if after.uses == before.uses:
            return self.last_refusal()
        if walkers:
            self.mechanism.arrive("walk", count=walkers)
            self.wait_idle(timeout_s)
        return Shown(True, "ok")

    # -- what the node recorded -------------------------------------------------------------------
    def _read(self, query: str, *args: Any) -> list[Any]:
        path = self.state_dir / "ledger.sqlite"
        if not path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute(query, args).fetchall()

    def journal(self) -> Journal:
        rows = self._read(
            "SELECT COUNT(*), COALESCE(SUM(passed), 0), COALESCE(SUM(rolled_back), 0)"
            " FROM uses WHERE node = ?",
            self.node_id,
        )
        if not rows:
            return Journal()
        uses, passed, rolled = rows[0]
        denials = [r for (r,) in self._read("SELECT reason FROM denials ORDER BY seq")]
        alarms = [
            cbor2.loads(body).get("alarm", "")
            for (body,) in self._read("SELECT body FROM outbox WHERE kind = 'alarm'")
        ]
        (outbox,) = self._read("SELECT COUNT(*) FROM outbox")[0]
        return Journal(uses, passed, rolled, denials, alarms, outbox)

    def last_refusal(self) -> Shown:
        """The latest refusal, with the earlier use an "already used" names (gate, time)."""
        denial = self._read("SELECT reason, ticket_id FROM denials ORDER BY seq DESC LIMIT 1")
        if not denial:
            return Shown(False, "unknown")
        reason, ticket_id = denial[0]
        earlier = self._read(
            "SELECT node, at_ms FROM uses WHERE ticket_id = ? ORDER BY at_ms LIMIT 1",
            ticket_id,
        )
        if reason == "already_used" and earlier:
            at = datetime.fromtimestamp(earlier[0][1] / 1000, UTC)
            return Shown(False, reason, earlier[0][0], at)
        return Shown(False, reason)

    def wait_for_decisions(self, count: int, timeout_s: float = 10) -> Journal:
        wait_until(lambda: self.journal().decisions >= count, timeout_s, f"{count} decision(s)")
        return self.journal()

    def wait_idle(self, timeout_s: float = 30) -> None:
        """Everyone in the queue has passed or left."""
        wait_until(self.mechanism.idle, timeout_s, "the lane to be empty")
