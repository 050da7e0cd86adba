"""gatectl doctor: what is wrong with this gate node, each finding with a one-line fix.

Checks, in order (each ``pass``, ``warn`` or ``fail``):

| check | fails when | warns when |
| --- | --- | --- |
| clock | the system clock is behind the node's clock floor (gate_node/clock.py) | no floor yet |
| broker | nothing answers, TLS refuses the broker, or the login is refused | no broker configured |
| tls | the pinned CA file cannot be read | a broker off the LAN without TLS |
| keyring | the broker's retained root-signed keyring is newer | broker not reached |
| revocations | the signed heartbeat names a newer revocation/card seq | offline, 7+ days old |
| disk | under 200 MB or 2 % free | under 1 GB or 10 % free |
| backlog | over 5,000 events wait in the outbox | over 1,000 |
| service | gate-node.service is not active | no systemd here, or the watchdog is off |
| camera | the configured camera gives no frame | |

Everything the node holds is read, nothing is written, and the broker is visited with the
node's own login under another client id (``gatectl-doctor-NODE``), so a running node is not
disconnected. The I/O edges (clock, disk usage, ``systemctl``, the camera opener) are passed
in through ``Probes``, so each fault can be seeded in a test.

Exit codes (EXIT_CODES): 0 every check passed; 1 at least one failed; 2 usage or configuration
error (no node state directory); 3 warnings only.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from gate_node.clock import ClockFloor
from gate_node.ledger import Ledger
from gate_node.readers.frames import FrameSourceError, open_source
from gate_node.state import NodeState, NodeStateError
from gate_node.uplink import AWAITING_CLOUD, link_fault, refusal_fault
from keys import topics
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE
from keys.cli_exit import fail as fail_with
from keys.clock import SYSTEM, Clock
from keys.signed_document import DocumentError, verify_document

EXIT_WARNINGS = 3
EXIT_CODES = (
    "Exit codes / 退出码: 0 every check passed; 1 at least one check failed; 2 usage or "
    "configuration error (no node state directory); 3 warnings only."
)
SERVICE = "gate-node.service"
DISK_FAIL_BYTES, DISK_FAIL_SHARE = 200 * 2**20, 0.02
DISK_WARN_BYTES, DISK_WARN_SHARE = 2**30, 0.10
BACKLOG_WARN = 1_000
CLOCK_SLACK = timedelta(minutes=1)  # the floor is saved once a minute (gate_node/clock.py)
REVOCATIONS_OLD = timedelta(days=7)
RANK = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except FileNotFoundError:
        return 127, ""
    return done.returncode, done.stdout


@dataclass
class Probes:
    """The I/O edges of the doctor; tests replace one to seed a fault."""

    clock: Clock = SYSTEM
    disk_usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage  # total, used, free
    run: Callable[[list[str]], tuple[int, str]] = _run  # argv -> (exit code, stdout)
    open_camera: Callable[[str], Any] = open_source
    broker_timeout_s: float = 5.0


@dataclass
class BrokerVisit:
    fault: tuple[str, str] | None = None
    retained: dict[str, bytes] = field(default_factory=dict)  # doc type -> signed bytes


# -- the checks --------------------------------------------------------------------------------
def check_clock(state: NodeState, probes: Probes) -> Finding:
    floor = ClockFloor(state.clock_path, probes.clock).floor
    now = probes.clock.now()
    if not state.clock_path.exists():
        return Finding(
            "clock",
            "warn",
            f"no clock floor yet; system clock {now:%Y-%m-%d %H:%M} UTC",
            "let the node run connected once: the cloud's signed time sets the floor",
        )
    if now < floor - CLOCK_SLACK:
        behind = floor - now
        return Finding(
            "clock",
            "fail",
            f"system clock {now:%Y-%m-%d %H:%M} is {_span(behind)} behind the floor "
            f"{floor:%Y-%m-%d %H:%M} UTC",
            "set the time (timedatectl set-ntp true) or connect the node: the cloud's signed "
            "time raises it; the lane decides by the floor meanwhile",
        )
    return Finding("clock", "pass", f"{now:%Y-%m-%d %H:%M} UTC, floor {floor:%Y-%m-%d %H:%M}")


def visit_broker(state: NodeState, probes: Probes) -> BrokerVisit:
    """Connect as the node (another client id), read the site's retained keyring and time."""
    broker = state.config.broker or {}
    site, node = state.config.site, state.config.node
    visit = BrokerVisit()
    connected: list[Any] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gatectl-doctor-{node}")
    if broker.get("username"):
        client.username_pw_set(broker["username"], state.broker_password())
    if broker.get("tls_ca"):
        client.tls_set(
            ca_certs=broker["tls_ca"],
            certfile=broker.get("tls_cert"),
            keyfile=broker.get("tls_key"),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.on_connect = lambda c, u, f, reason, p: connected.append(reason)
    client.on_message = lambda c, u, m: visit.retained.__setitem__(
        m.topic.rsplit("/", 1)[-1], bytes(m.payload)
    )
    try:
        client.connect(broker["host"], int(broker.get("port", 1883)), keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        visit.fault = link_fault(exc)
        return visit
    try:
        deadline = probes.clock.monotonic() + probes.broker_timeout_s
        while not connected and probes.clock.monotonic() < deadline:
            client.loop(timeout=0.05)
        if not connected:
            visit.fault = ("broker_unreachable", "the broker accepted TCP but never answered")
            return visit
        if connected[0].is_failure:
            visit.fault = refusal_fault(str(connected[0]))
            return visit
        client.subscribe(
            [(topics.down(site, "keyring").name, 1), (topics.down(site, "time").name, 1)]
        )
        # Retained messages follow the SUBACK at once; a short look is enough.
        settle = probes.clock.monotonic() + min(1.0, probes.broker_timeout_s)
        while len(visit.retained) < 2 and probes.clock.monotonic() < settle:
            client.loop(timeout=0.05)
    finally:
        client.disconnect()
    return visit


def check_broker(state: NodeState, visit: BrokerVisit | None) -> Finding:
    broker = state.config.broker
    if broker is None or visit is None:
        return Finding(
            "broker",
            "warn",
            "no broker configured: the node runs alone",
            "enrol the node (gatectl enrol) to link it to the cloud",
        )
    where = f"{broker['host']}:{broker.get('port', 1883)}"
    if visit.fault is None:
        return Finding("broker", "pass", f"{where}: logged in as {broker.get('username')}")
    code, text = visit.fault
    fixes = {
        "broker_unreachable": f"check the network to {where} and that Mosquitto runs there",
        "bad_credentials": "the broker refused this node's login: re-enrol, or ask the cloud "
        "operator whether the node was decommissioned",
        "tls_untrusted_broker": "the broker is not the one this node pins: check the broker's "
        "address, or re-enrol to pin the site's current CA",
        "tls_failed": "check the broker's TLS listener (port, certificate, TLS 1.2+)",
    }
    return Finding("broker", "fail", f"{where}: {code}: {text}", fixes.get(code, ""))


def check_tls(state: NodeState) -> Finding:
    broker = state.config.broker
    if broker is None:
        return Finding("tls", "pass", "no broker: nothing to protect")
    ca = broker.get("tls_ca")
    if ca:
        try:
            ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            return Finding(
                "tls",
                "fail",
                f"the pinned CA {ca} cannot be read: {exc}",
                "put the site's CA certificate back (gatectl enrol writes it)",
            )
        return Finding("tls", "pass", f"TLS, CA pinned: {ca}")
    if _on_lan(str(broker["host"])):
        return Finding("tls", "pass", f"plain MQTT on the gate LAN ({broker['host']})")
    return Finding(
        "tls",
        "warn",
        f"broker {broker['host']} is off the LAN and the link is not encrypted",
        "use the broker's TLS listener (broker/tls.conf) and set broker.tls_ca",
    )


def check_keyring(state: NodeState, visit: BrokerVisit | None) -> Finding:
    held = state.keyring.seq
    raw = visit.retained.get("keyring") if visit and visit.fault is None else None
    if raw is None:
        status = "pass" if visit is None else "warn"
        return Finding(
            "keyring",
            status,
            f"seq {held}, {len(state.keyring.kids)} keys; the cloud's not seen (offline)",
            "" if visit is None else "check again once the broker answers",
        )
    try:
        cloud = verify_document(raw, state.root, doc_type="keyring", site=state.config.site)
    except DocumentError as exc:
        return Finding(
            "keyring",
            "fail",
            f"the broker's keyring is not signed by the pinned root: {exc}",
            "someone else's cloud or a tampered broker: check the broker address and the pin",
        )
    if held is None or cloud.seq > held:
        return Finding(
            "keyring",
            "fail",
            f"stale: the node holds seq {held}, the cloud signed {cloud.seq}",
            "restart gate-node so it takes the retained keyring; if it refuses it, see its log",
        )
    return Finding("keyring", "pass", f"seq {held}: the cloud's current one")


def check_revocations(state: NodeState, visit: BrokerVisit | None, probes: Probes) -> Finding:
    held = {"revocations": state.revocations.seq, "cards": state.cards.seq}
    raw = visit.retained.get("time") if visit and visit.fault is None else None
    if raw is not None:
        try:
            beat = verify_document(raw, state.root, doc_type="time", site=state.config.site)
        except DocumentError as exc:
            return Finding(
                "revocations",
                "fail",
                f"the broker's signed time is not the root's: {exc}",
                "someone else's cloud or a tampered broker: check the broker address",
            )
        heads = beat.body.get("heads", {}) if isinstance(beat.body, dict) else {}
        behind = [
            f"{kind} {held[kind]} < {head}"
            for kind, head in heads.items()
            if kind in held and isinstance(head, int) and head > (held[kind] or 0)
        ]
        if behind:
            return Finding(
                "revocations",
                "fail",
                "behind the cloud: " + ", ".join(behind),
                "the running node asks for a snapshot at the next heartbeat; if this stays, "
                "check that scenic-cloud downlink runs",
            )
        return Finding(
            "revocations",
            "pass",
            f"up to date (revocations {held['revocations']}, cards {held['cards']})",
        )
    applied = state.documents.get("revocations", {}).get("issued_at")
    if applied is not None:
        age = probes.clock.now() - datetime.fromisoformat(applied)
        if age > REVOCATIONS_OLD:
            return Finding(
                "revocations",
                "warn",
                f"last list signed {_span(age)} ago, cloud not reachable",
                "connect the node: refunds since then are not known to this gate",
            )
    return Finding("revocations", "pass", f"seq {held['revocations']} (cloud not checked)")


def check_disk(state: NodeState, probes: Probes) -> Finding:
    total, _, free = probes.disk_usage(state.directory)
    share = free / total if total else 0.0
    detail = f"{free / 2**20:,.0f} MB free ({share:.0%}) on {state.directory}"
    if free < DISK_FAIL_BYTES or share < DISK_FAIL_SHARE:
        return Finding(
            "disk",
            "fail",
            detail,
            "free space now (journalctl --vacuum-size=50M, old backups): a full card stops "
            "the ledger, and the lane with it",
        )
    if free < DISK_WARN_BYTES or share < DISK_WARN_SHARE:
        return Finding("disk", "warn", detail, "free some space before the season")
    return Finding("disk", "pass", detail)


def check_backlog(state: NodeState, probes: Probes) -> Finding:
    ledger = Ledger(state.ledger_path, state.config.node, probes.clock)
    try:
        counts = ledger.counts()
    finally:
        ledger.close()
    waiting = counts["outbox"]
    detail = f"{waiting} events wait for the cloud; {counts['uses']} uses in the ledger"
    if waiting > AWAITING_CLOUD:
        return Finding(
            "backlog",
            "fail",
            detail,
            "the cloud has not acknowledged events for long: check the broker and the ingest "
            "workers (scenic-cloud ingest)",
        )
    if waiting > BACKLOG_WARN:
        return Finding("backlog", "warn", detail, "check the link to the cloud")
    return Finding("backlog", "pass", detail)


def check_service(probes: Probes) -> Finding:
    code, out = probes.run(
        ["systemctl", "show", SERVICE, "--property=ActiveState,WatchdogUSec,NRestarts"]
    )
    if code == 127:
        return Finding(
            "service",
            "warn",
            "no systemd here (systemctl not found)",
            "on the Pi, install systemd/gate-node.service and enable it",
        )
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    state = values.get("ActiveState", "unknown")
    if code != 0 or state != "active":
        return Finding(
            "service",
            "fail",
            f"{SERVICE} is {state}",
            f"systemctl enable --now {SERVICE}; journalctl -u {SERVICE} says why it stopped",
        )
    watchdog = values.get("WatchdogUSec", "0")
    if watchdog in ("0", "infinity", ""):
        return Finding(
            "service",
            "warn",
            f"{SERVICE} active, watchdog off",
            "keep WatchdogSec=10 in the unit (systemd/gate-node.service)",
        )
    return Finding(
        "service",
        "pass",
        f"{SERVICE} active, watchdog {watchdog}, restarts {values.get('NRestarts', '?')}",
    )


def check_camera(state: NodeState, probes: Probes) -> Finding | None:
    spec = state.config.camera
    if not spec:
        return None
    try:
        source = probes.open_camera(spec)
        try:
            frame = source.read()
        finally:
            source.close()
    except (FrameSourceError, OSError) as exc:
        return Finding(
            "camera",
            "fail",
            f"camera missing: {exc}",
            "check the camera cable and `camera` in the node's configuration",
        )
    if frame is None:
        return Finding(
            "camera",
            "fail",
            f"camera missing: {spec} gave no frame",
            "check the camera cable and `camera` in the node's configuration",
        )
    return Finding("camera", "pass", f"{spec}: {frame.shape[1]}x{frame.shape[0]} frames")


def diagnose(state: NodeState, probes: Probes) -> list[Finding]:
    visit = visit_broker(state, probes) if state.config.broker else None
    findings = [
        check_clock(state, probes),
        check_broker(state, visit),
        check_tls(state),
        check_keyring(state, visit),
        check_revocations(state, visit, probes),
        check_disk(state, probes),
        check_backlog(state, probes),
        check_service(probes),
    ]
    camera = check_camera(state, probes)
    return findings + ([camera] if camera else [])


def worst(findings: list[Finding]) -> str:
    return max((f.status for f in findings), key=RANK.__getitem__, default="pass")


def exit_code(findings: list[Finding]) -> int:
    return {"pass": 0, "warn": EXIT_WARNINGS, "fail": EXIT_FAILED}[worst(findings)]


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _on_lan(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith(".local") or "." not in host
    return address.is_private or address.is_loopback


# -- the command -------------------------------------------------------------------------------
def doctor(
    state_dir: Annotated[Path, typer.Option("--state-dir", help="The node's state directory")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Diagnose this gate node: each check pass/warn/fail with a fix. 诊断闸机节点。"""
    run_doctor(state_dir, as_json, Probes())


def run_doctor(state_dir: Path, as_json: bool, probes: Probes) -> None:
    try:
        state = NodeState.open(state_dir, probes.clock)
    except NodeStateError as exc:
        fail_with("gatectl", str(exc), EXIT_USAGE, zh="节点状态目录有误")
    except ValueError as exc:
        fail_with("gatectl", f"{state_dir / 'node.json'} is not valid JSON ({exc})", EXIT_USAGE)
    findings = diagnose(state, probes)
    if as_json:
        typer.echo(json.dumps({"worst": worst(findings), "checks": [asdict(f) for f in findings]}))
    else:
        console = Console(highlight=False)
        table = Table(title=f"gatectl doctor: {state.config.site}/{state.config.node}")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column)
        colours = {"pass": "green", "warn": "yellow", "fail": "red"}
        for f in findings:
            table.add_row(f.check, f"[{colours[f.status]}]{f.status}[/]", f.detail, f.fix)
        console.print(table)
    raise typer.Exit(exit_code(findings))
