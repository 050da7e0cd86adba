"""gate-sim: a simulated gate (tripod, wing or swing) on shared pins, beside a real node process.

    gate-sim run --bank /tmp/lane1.pins --kind wing [--pin-map map.json] [--control lane1.sock]
    GPIOZERO_PIN_FACTORY=simpins SCENIC_SIM_PINS=/tmp/lane1.pins gate-node run --state-dir ...
    gate-sim send lane1.sock '{"arrive": "walk", "count": 3}'

``run`` makes the pin bank (simulators/shared_pins.py), runs the mechanism in real time
(simulators/mechanisms.py) and answers JSON-line commands on a Unix socket, one reply line each:

    {"arrive": BEHAVIOUR, "direction": "in", "count": 1}  people join the queue
    {"fire": true|false}                                   cut or restore the fire loop
    {"override": true|false}                               swing: the staff key switch
    {"status": true}                                       counters, lamps, flaps, queue

It never touches the node: only the pins, as the gate's own wiring would. Exit codes: 0 after
Ctrl-C or SIGTERM, 2 for bad arguments (unknown kind, unreadable pin map, busy socket), 1 when
``send`` cannot reach a simulator.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from gate_node.pin_map import DEFAULT_PIN_MAPS, PinMapError, parse_pin_map
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE, run_app
from keys.cli_exit import fail as fail_with
from simulators.mechanisms import (
    BankWires,
    FlapMechanism,
    Mechanism,
    MechanismThread,
    make_mechanism,
)
from simulators.shared_pins import PinBank, PinBankError

app = typer.Typer(
    help="A simulated gate on shared pins. 模拟闸机（共享引脚）。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("gate-sim", message, code, zh)


def load_pin_map(kind: str, path: Path | None) -> dict[str, Any]:
    if path is None:
        if kind not in DEFAULT_PIN_MAPS:
            raise PinMapError(f"kind must be one of {', '.join(DEFAULT_PIN_MAPS)}")
        return DEFAULT_PIN_MAPS[kind]
    doc = json.loads(path.read_text())
    parse_pin_map(doc)
    return dict(doc)


def status(mechanism: Mechanism) -> dict[str, Any]:
    wires = mechanism.wires
    report: dict[str, Any] = {
        "counts": dict(mechanism.counts),
        "queue": len(mechanism.queue),
        "green": wires.active("green"),
        "red": wires.active("red"),
        "buzzer": wires.active("buzzer"),
        "fire": mechanism.fire,
    }
    if isinstance(mechanism, FlapMechanism):
        report["flaps"] = round(mechanism.position, 2)
        report["struck"] = mechanism.struck
    return report


def command(mechanism: Mechanism, line: str) -> dict[str, Any]:
    """One control command; the answer is a JSON object (``error`` on a bad command)."""
    try:
        order = json.loads(line)
        if not isinstance(order, dict):
            raise ValueError("a command is a JSON object")
        if "arrive" in order:
            mechanism.arrive(
                str(order["arrive"]), str(order.get("direction", "in")), int(order.get("count", 1))
            )
        if "fire" in order:
            mechanism.set_fire(bool(order["fire"]))
        if "override" in order:
            if not isinstance(mechanism, FlapMechanism) or mechanism.kind != "swing":
                raise ValueError("only a swing gate has an override switch")
            mechanism.set_override(bool(order["override"]))
    except (ValueError, KeyError, TypeError) as exc:
        return {"error": str(exc)}
    return status(mechanism)


def _serve(mechanism: Mechanism, listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn, conn.makefile("rw", encoding="utf-8") as stream:
            for line in stream:
                stream.write(json.dumps(command(mechanism, line)) + "\n")
                stream.flush()


@app.command()
def run(
    bank: Annotated[Path, typer.Option(help="Pin bank file to create (SCENIC_SIM_PINS)")],
    kind: Annotated[str, typer.Option(help="tripod | wing | swing")],
    pin_map: Annotated[Path | None, typer.Option(help="The node's pin map (JSON)")] = None,
    control: Annotated[Path | None, typer.Option(help="Unix socket for commands")] = None,
    seed: Annotated[int, typer.Option(help="Seed for walking speeds")] = 1,
) -> None:
    """Run a simulated lane until Ctrl-C. 运行模拟闸机。"""
    try:
        wiring = load_pin_map(kind, pin_map)
    except (OSError, ValueError) as exc:
        fail(f"pin map: {exc}", zh="引脚映射有误")
    pins = PinBank.create(bank)

    mechanism = make_mechanism(kind, BankWires(pins, wiring), seed)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    listener = None
    if control is not None:
        control.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(control))
        except OSError as exc:
            fail(f"control socket {control}: {exc.strerror}", zh="控制套接字不可用")
        listener.listen(4)
        threading.Thread(target=_serve, args=(mechanism, listener, stop), daemon=True).start()
    lane = MechanismThread(mechanism).start()
    typer.echo(f"gate-sim: {kind} lane on {bank} ({'control ' + str(control) if control else ''})")
    stop.wait()
    lane.stop()
    if listener is not None:
        listener.close()
        if control is not None:
            control.unlink(missing_ok=True)
    pins.close()


@app.command()
def send(
    control: Annotated[Path, typer.Argument(help="The simulator's control socket")],
    order: Annotated[str, typer.Argument(help='A JSON command, e.g. {"arrive": "walk"}')],
) -> None:
    """Send one command to a running gate-sim and print its answer. 发送命令。"""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(control))
            conn.sendall(order.encode() + b"\n")
            answer = conn.makefile("r", encoding="utf-8").readline()
    except OSError as exc:
        fail(f"no simulator on {control}: {exc.strerror}", EXIT_FAILED, zh="无法连接模拟闸机")
    typer.echo(answer.rstrip("\n"))
    if "error" in json.loads(answer or "{}"):
        raise typer.Exit(EXIT_USAGE)


def main() -> None:
    run_app(app, "gate-sim", {PinBankError: (EXIT_USAGE, "引脚文件有误")})


if __name__ == "__main__":
    main()
