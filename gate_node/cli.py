"""gate-node: run a lane's node service, decide once, show status.

Setting a node up is provisioning's (``gatectl enrol`` from the cloud, ``gatectl init`` for a
standalone node): gate_node only opens, verifies and updates a state directory.

Thin typer commands over gate_node's library. Errors are one line on stderr (English / 中文,
keys/cli_exit.py), never a traceback; the exit codes are in EXIT_CODES (shown by --help).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from gate_node.assembly import make_engine
from gate_node.clock import ClockFloor
from gate_node.decision.engine import Decision, Engine
from gate_node.ledger import Ledger
from gate_node.readers.credentials import UnreadableCredential, parse_id_card, parse_rfid
from gate_node.readers.frames import FrameSourceError, ImageFiles
from gate_node.readers.qr import QrDecoder
from gate_node.state import NodeState, NodeStateError
from keys import keystore
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE, run_app
from keys.cli_exit import fail as fail_with
from keys.cli_options import passphrase_file_option
from keys.clock import from_environment
from keys.keystore import KeyStoreError
from keys.reasons import Reason

EXIT_DENIED = 3
EXIT_CODES = (
    "Exit codes / 退出码: 0 done (verify: every credential granted); 1 failed at run time "
    "(GPIO or reader unavailable, an unexpected error); 2 usage or configuration error (bad "
    "arguments, node state, keys, passphrase, camera); 3 verify: at least one credential denied."
)

app = typer.Typer(
    help="The gate node of a scenic-area lane. 景区闸机节点。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

StateDir = Annotated[Path, typer.Option("--state-dir", help="The node's state directory")]
PassphraseFile = Annotated[Path | None, passphrase_file_option("the passphrase for node.key")]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("gate-node", message, code, zh)


def _open(state_dir: Path) -> NodeState:
    try:
        return NodeState.open(state_dir, from_environment())
    except NodeStateError as exc:
        fail(str(exc), zh="节点状态目录有误")
    except ValueError as exc:  # TinyDB's JSONDecodeError: node.json edited by hand, or cut
        fail(f"{state_dir / 'node.json'} is not valid JSON ({exc})", zh="节点配置文件已损坏")


@app.command(
    hidden=True, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def init() -> None:
    """Moved: making a state directory is provisioning's (gatectl init / gatectl enrol)."""
    fail(
        "gate-node init moved to gatectl init (or gatectl enrol from the cloud)",
        zh="请改用 gatectl",
    )


@app.command()
def verify(
    state_dir: StateDir,
    payload: Annotated[str | None, typer.Option(help="Ticket text, or - for one per line")] = None,
    image: Annotated[Path | None, typer.Option(help="Photo of a ticket's QR code")] = None,
    id_card: Annotated[str | None, typer.Option(help="ID card number presented alone")] = None,
    rfid: Annotated[str | None, typer.Option(help="RFID card UID presented alone")] = None,
    at: Annotated[str | None, typer.Option(help="Decide as of this ISO date-time")] = None,
    commit: Annotated[bool, typer.Option(help="Record the use, as a real gate would")] = False,
) -> None:
    """Decide once and print JSON; records nothing without --commit. 单次验票。"""
    given = [x for x in (payload, image, id_card, rfid) if x is not None]
    if len(given) != 1:
        fail("give exactly one of --payload, --image, --id-card or --rfid", zh="请只给出一种凭证")
    state = _open(state_dir)
    when = _instant(at, state)
    engine = make_engine(state)
    all_granted = True
    for decision in _decisions(engine, when, payload, image, id_card, rfid):
        if commit:
            engine.admit(decision, when) if decision.grant else engine.refuse(decision, when)
        all_granted &= decision.grant
        typer.echo(json.dumps(_decision_json(decision, state), ensure_ascii=False))
    engine.ledger.close()
    if not all_granted:
        raise typer.Exit(EXIT_DENIED)


def _decisions(
    engine: Engine,
    when: datetime,
    payload: str | None,
    image: Path | None,
    id_card: str | None,
    rfid: str | None,
) -> Iterator[Decision]:
    """Decisions one at a time, so each sees the uses committed before it (a real queue)."""
    if id_card is not None or rfid is not None:
        parse, kind = (parse_id_card, "id_card") if id_card is not None else (parse_rfid, "rfid")
        try:
            credential = parse(id_card or rfid or "")
        except UnreadableCredential as exc:
            yield Decision(Reason.UNREADABLE_CARD, detail=str(exc))
            return
        yield engine.decide_card(kind, credential.value, when)
        return
    for text in _payloads(payload, image):
        yield engine.decide(text, when) if text is not None else Decision(Reason.EMPTY)


@app.command()
def run(
    state_dir: StateDir,
    verbose: Annotated[bool, typer.Option(help="Debug logging")] = False,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Run the lane: read, decide, open, record (systemd Type=notify). 运行闸机服务。

    Needs the node key's passphrase ($SCENIC_KEY_PASSPHRASE_FILE). A state directory
    rolled back or replaced (gate_node/trust_record.py) holds the lane closed, or, if no
    downlink can mend it, refuses to start with exit 2."""
    import logging

    import sdnotify
    import serial
    from gpiozero.exc import GPIOZeroError, PinFactoryFallback

    from gate_node.assembly import build
    from gate_node.service import run_forever
    from keys import logs

    logs.setup(logging.DEBUG if verbose else logging.INFO)
    state = _open(state_dir)
    try:
        # Always: the trust record is checked under the real key (gate_node/trust_record.py).
        node_key = state.identity(keystore.passphrase_from(passphrase_file))
        with warnings.catch_warnings():  # one line below says it all, not four fallbacks
            warnings.simplefilter("ignore", PinFactoryFallback)
            node = build(state, node_key=node_key, clock=from_environment())
    except (NodeStateError, KeyStoreError) as exc:
        fail(str(exc), zh="无法启动节点")
    except GPIOZeroError as exc:
        fail(
            f"GPIO unavailable ({exc}); off a Pi set GPIOZERO_PIN_FACTORY=mock / 无法访问GPIO",
            EXIT_FAILED,
        )
    except (FrameSourceError, serial.SerialException) as exc:
        fail(f"reader unavailable: {exc} / 读卡设备不可用", EXIT_FAILED)
    try:
        run_forever(node.service, node.ticks_ms, sdnotify.SystemdNotifier().notify)
    finally:
        node.close()


@app.command()
def status(
    state_dir: StateDir,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts")] = False,
) -> None:
    """Configuration, keys, revocations, clock and ledger at a glance. 节点状态。"""
    state = _open(state_dir)
    ledger = Ledger(state.ledger_path, state.config.node)
    counts = ledger.counts()
    last_ack = ledger.last_cloud_ack()
    ledger.close()
    report: dict[str, Any] = {
        "site": state.config.site,
        "node": state.config.node,
        "kind": state.config.kind,
        "zone": state.config.zone,
        "direction": state.config.direction,
        "timezone": state.config.timezone,
        "keyring": {"seq": state.keyring.seq, "kids": state.keyring.kids},
        "revocations": {"seq": state.revocations.seq, "entries": len(state.revocations)},
        "trust": {
            "ok": not state.problems,
            "problems": [{"code": p.code, "detail": p.detail} for p in state.problems],
        },
        "clock_floor": _clock_floor(state),
        "ledger": counts,
        "last_cloud_ack": last_ack,
    }
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    _print_status(report)


def _clock_floor(state: NodeState) -> str | None:
    """The persisted clock floor, or None on a node that has never kept one (ClockFloor then
    reads as 2000-01-01, a placeholder that holds nothing up, not a time worth showing)."""
    if not state.clock_path.exists():
        return None
    floor = ClockFloor(state.clock_path).floor
    return floor.isoformat() if floor.year > 2000 else None


def _print_status(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    none_yet = "none yet / 尚无"
    keyring, revocations = report["keyring"], report["revocations"]
    rows = [
        ("site / 景区", report["site"]),
        ("node / 节点", report["node"]),
        ("kind / 类型", report["kind"]),
        ("zone / 区域", str(report["zone"])),
        ("direction / 方向", report["direction"]),
        ("time zone / 时区", report["timezone"]),
        ("keyring / 公钥环", f"seq {keyring['seq']}: {', '.join(keyring['kids'])}"),
        (
            "revocations / 吊销",
            none_yet
            if revocations["seq"] is None
            else f"seq {revocations['seq']}: {revocations['entries']} ticket(s)",
        ),
        ("clock floor / 时钟下限", report["clock_floor"] or none_yet),
        ("ledger / 台账", ", ".join(f"{k} {v}" for k, v in report["ledger"].items())),
        ("last cloud ack / 云端确认", report["last_cloud_ack"] or none_yet),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


def _instant(at: str | None, state: NodeState) -> datetime:
    if at is None:
        return ClockFloor(state.clock_path, from_environment()).now()
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at {at!r} is not an ISO date-time", zh="时间格式应为 ISO 8601")
    if when.tzinfo is None:
        when = when.replace(tzinfo=state.config.rules().timezone)  # site-local by default
    return when


def _payloads(payload: str | None, image: Path | None) -> list[str | None]:
    if payload == "-":
        return [line for line in sys.stdin.read().splitlines()]
    if payload is not None:
        return [payload]
    assert image is not None
    try:
        frame = ImageFiles([image]).read()
    except FrameSourceError as exc:
        fail(str(exc), zh="无法读取图片")
    codes = QrDecoder().decode(frame) if frame is not None else []
    return [codes[0] if codes else None]


def _decision_json(decision: Decision, state: NodeState) -> dict[str, Any]:
    zh, en = decision.message(state.config.rules().timezone)
    return {
        "decision": "grant" if decision.grant else "deny",
        "reason": decision.reason.value,
        "message": en,
        "message_zh": zh,
        "ticket_id": decision.ticket_no,
        "passages": decision.passages,
    }


def main() -> None:
    run_app(
        app,
        "gate-node",
        {NodeStateError: (EXIT_USAGE, "节点状态有误"), KeyStoreError: (EXIT_USAGE, "密钥无法使用")},
    )


if __name__ == "__main__":
    main()
