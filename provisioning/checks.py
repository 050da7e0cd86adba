"""gatectl test: the installer's hardware checks on the node's own configuration.

- ``wiring``: walks through each output of the pin map (unlock or open relays, green and red
  lamps, buzzer), switching it on and asking whether it was seen or heard, then through each
  input (rotation or passage sensors, anti-pinch beam, staff key, fire loop), watching it and
  showing every change seen. Interactive: meant for a terminal on the ladder.
- ``camera``: reads frames from the configured camera for a few seconds and shows the frame
  and decode rate, with focus and exposure hints measured on the frames themselves
  (sharpness: variance of a Laplacian; brightness: mean grey level).
- ``reader``: asks for a card on each serial reader of the configuration and shows what it
  read (an ID number masked: personal data).

Pins come from gate_node's board (gate_node/gpio_board.py, the pin map in
gate_node/pin_map.py) and frames and reads from gate_node's readers: what passes here is what
``gate-node run`` will use. Never writes the node's state and never opens the lane for a
visitor (an unlock relay is switched for as long as the installer looks, then released).

Exit codes (EXIT_CODES): 0 every part passed; 1 a part failed, or the hardware is missing
(no GPIO, no camera, a reader that cannot be opened); 2 usage or configuration error.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import typer
from gpiozero.exc import PinFactoryFallback
from rich.console import Console
from rich.table import Table

from gate_node.gpio_board import GpiozeroBoard
from gate_node.pin_map import DEFAULT_PIN_MAPS, INPUTS, OUTPUTS, PinSpec, parse_pin_map
from gate_node.readers.credentials import Credential, UnreadableCredential
from gate_node.readers.frames import FrameSourceError, open_source
from gate_node.readers.qr import QrDecoder
from gate_node.readers.serial_lines import SerialLineReader
from gate_node.state import NodeConfig, NodeState, NodeStateError
from keys.cli_exit import EXIT_FAILED, EXIT_USAGE
from keys.cli_exit import fail as fail_with
from keys.clock import SYSTEM, Clock

EXIT_CODES = (
    "Exit codes / 退出码: 0 every part passed; 1 a part failed or the hardware is missing "
    "(no GPIO, no camera, a reader that cannot be opened); 2 usage or configuration error."
)
POLL_S = 0.01  # input sampling: 10 ms sees a passage beam broken for 50 ms several times

# What the installer should see or hear for each output, and where to look when not.
OUTPUT_PROMPTS = {
    "unlock_in": ("the entry unlock relay click (the arm turns freely inward)", "解锁继电器（进）"),
    "unlock_out": (
        "the exit unlock relay click (the arm turns freely outward)",
        "解锁继电器（出）",
    ),
    "open_in": ("the gate open for entry", "开闸（进）"),
    "open_out": ("the gate open for exit", "开闸（出）"),
    "green": ("the green lamp light", "绿灯"),
    "red": ("the red lamp light", "红灯"),
    "buzzer": ("the buzzer sound", "蜂鸣器"),
}
INPUT_PROMPTS = {
    "rotation_in": "push the arm one turn inward (rotation sensor, entry)",
    "rotation_out": "push the arm one turn outward (rotation sensor, exit)",
    "sensor_a": "walk through the entry-side passage beam",
    "sensor_b": "walk through the exit-side passage beam",
    "pinch": "break the anti-pinch beam between the leaves",
    "override": "turn the staff key switch on and off",
    "fire_loop": "open the fire loop (break-glass or test switch), then close it again",
}


@dataclass(frozen=True)
class PartResult:
    """One part checked: ``result`` pass | fail; ``seen`` what the check saw; ``fix`` one line."""

    part: str
    gpio: int | None
    result: str
    seen: str
    fix: str = ""


test_app = typer.Typer(
    help="Check the gate's wiring, camera and card readers. 检查闸机接线、摄像头和读卡器。",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
StateDir = Annotated[Path, typer.Option("--state-dir", help="The node's state directory")]
JsonOut = Annotated[bool, typer.Option("--json", help="One JSON object instead of a table")]


def fail(message: str, code: int = EXIT_USAGE, zh: str = "") -> NoReturn:
    fail_with("gatectl", message, code, zh)


def node_config(state_dir: Path) -> NodeConfig:
    """The node's configuration, or one line and exit 2."""
    try:
        return NodeState.open(state_dir).config
    except NodeStateError as exc:
        fail(str(exc), zh="节点状态目录有误")
    except ValueError as exc:  # TinyDB's JSONDecodeError
        fail(f"{state_dir / 'node.json'} is not valid JSON ({exc})", zh="节点配置文件已损坏")


# -- wiring ------------------------------------------------------------------------------------
def check_output(
    board: GpiozeroBoard, name: str, spec: PinSpec, ask: Callable[[str], bool]
) -> PartResult:
    """Switch ``name`` on, ask whether it was seen or heard, switch it off."""
    what, zh = OUTPUT_PROMPTS.get(name, (name, name))
    pin = board.pin_out(name)
    pin.on()
    level = "low" if spec.active_low else "high"
    try:
        seen = ask(f"GPIO {spec.gpio} is on (line {level}). Did you see or hear {what}? / {zh}")
    finally:
        pin.off()
    if seen:
        return PartResult(name, spec.gpio, "pass", "confirmed by the installer")
    polarity = "active_low false" if spec.active_low else "active_low true"
    return PartResult(
        name,
        spec.gpio,
        "fail",
        "not seen or heard",
        f"check the wire from GPIO {spec.gpio} to the {name} relay channel and its supply; "
        f"if it is on when it should be off, the pin map needs {polarity}",
    )


def watch_input(
    board: GpiozeroBoard,
    name: str,
    spec: PinSpec,
    clock: Clock,
    watch_s: float,
    show: Callable[[str], None],
) -> PartResult:
    """Watch ``name`` for up to ``watch_s`` seconds; pass once it went active and back."""
    pin = board.pin_in(name)
    first = last = pin.value()
    show(f"  {name} (GPIO {spec.gpio}) reads {_state(name, first)} now")
    changes = 0
    deadline = clock.monotonic() + watch_s
    while clock.monotonic() < deadline and changes < 2:
        clock.sleep(POLL_S)
        value = pin.value()
        if value != last:
            changes += 1
            last = value
            show(f"  seen: {name} {_state(name, value)}")
    if changes >= 2:
        return PartResult(name, spec.gpio, "pass", f"changed {changes} times")
    if changes == 1:
        return PartResult(
            name,
            spec.gpio,
            "fail",
            f"went {_state(name, last)} and stayed",
            f"{name} changed once only: release it and try again, or check it is not "
            f"stuck (GPIO {spec.gpio})",
        )
    return PartResult(
        name,
        spec.gpio,
        "fail",
        f"no change in {watch_s:g} s (stayed {_state(name, first)})",
        f"check the {name} wire to GPIO {spec.gpio}, the sensor's supply and the pin map's "
        f"active_low ({str(spec.active_low).lower()})",
    )


def _state(name: str, value: int) -> str:
    if name == "fire_loop":
        return "intact" if value else "CUT (every lane opens: fail-safe)"
    return "active" if value else "inactive"


def pin_plan(config: NodeConfig) -> tuple[str, dict[str, PinSpec]]:
    """The gate kind and its pins, from the node's pin map (or the reference harness)."""
    if config.kind == "handheld":
        fail("a handheld checker has no gate wiring to test", zh="手持检票机没有闸机接线")
    return parse_pin_map(config.pin_map or DEFAULT_PIN_MAPS[config.kind])


@test_app.command()
def wiring(
    state_dir: StateDir,
    watch: Annotated[
        float, typer.Option(help="Seconds to watch each input for a change", min=0.1)
    ] = 15.0,
) -> None:
    """Walk through every output and input of the gate's pin map. 逐项检查输出和输入接线。"""
    config = node_config(state_dir)
    kind, specs = pin_plan(config)
    console = Console(highlight=False)
    board = GpiozeroBoard(config.pin_map or DEFAULT_PIN_MAPS[kind])  # opens no pin yet
    try:
        with warnings.catch_warnings():  # one line below says it all, not four fallbacks
            warnings.simplefilter("ignore", PinFactoryFallback)
            results = run_wiring(board, kind, specs, console, watch, SYSTEM)
    except (OSError, RuntimeError, ImportError) as exc:  # gpiozero: no pin factory, no gpiochip
        fail(f"no GPIO on this machine: {exc}", EXIT_FAILED, zh="无法访问GPIO")
    finally:
        board.close()
    print_results(console, f"Wiring of the {kind} / {kind}接线", results)
    raise typer.Exit(0 if all(r.result == "pass" for r in results) else EXIT_FAILED)


def run_wiring(
    board: GpiozeroBoard,
    kind: str,
    specs: dict[str, PinSpec],
    console: Console,
    watch_s: float,
    clock: Clock,
) -> list[PartResult]:
    results = []
    console.print(f"[bold]Outputs / 输出[/bold] ({len(OUTPUTS[kind])})")
    for name in OUTPUTS[kind]:
        results.append(check_output(board, name, specs[name], _confirm))
    console.print(f"[bold]Inputs / 输入[/bold] ({len(INPUTS[kind])})")
    for name in INPUTS[kind]:
        console.print(
            f"Now {INPUT_PROMPTS.get(name, name)} (GPIO {specs[name].gpio}), "
            f"within {watch_s:g} s. / 请操作{name}"
        )
        results.append(watch_input(board, name, specs[name], clock, watch_s, console.print))
    return results


def _confirm(question: str) -> bool:
    return typer.confirm(question, default=None)


def print_results(console: Console, title: str, results: list[PartResult]) -> None:
    table = Table(title=title)
    for column in ("part", "GPIO", "result", "seen", "fix"):
        table.add_column(column)
    for r in results:
        mark = "[green]pass[/green]" if r.result == "pass" else "[red]FAIL[/red]"
        table.add_row(r.part, "" if r.gpio is None else str(r.gpio), mark, r.seen, r.fix)
    console.print(table)


# -- camera ------------------------------------------------------------------------------------
# Laplacian variance of a 640x480 frame: a printed code in focus scores about 1,700; the same
# blurred by a Gaussian of 1 px about 100, of 2 px about 16 (tests/provisioning/test_checks.py
# frames). Below 100 the edges a decoder needs are going.
SHARP_ENOUGH = 100.0
# Mean grey (0-255) of a usable frame: a white ticket card fills much of it, so only a mean
# near saturation is overexposure; under 60 the modules' contrast drowns in sensor noise.
DARK, BRIGHT = 60.0, 225.0


@dataclass(frozen=True)
class CameraReport:
    source: str
    frames: int
    seconds: float
    decoded_frames: int
    frames_per_s: float
    decodes_per_s: float
    sharpness: float  # median Laplacian variance
    brightness: float  # median mean grey level
    hints: list[str]

    @property
    def ok(self) -> bool:
        return self.decoded_frames > 0


def sharpness(frame: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: low means blurred (focus), high means crisp."""
    grey = frame.astype(np.float32)
    laplacian = (
        -4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
    )
    return float(laplacian.var())


def hints_for(sharp: float, bright: float, decoded: int) -> list[str]:
    hints = []
    if bright < DARK:
        hints.append("too dark: add light or lengthen the exposure / 画面过暗")
    elif bright > BRIGHT:
        hints.append("overexposed: shade the lens or shorten the exposure / 画面过曝")
    if sharp < SHARP_ENOUGH:
        hints.append("blurred: turn the focus ring until edges are crisp / 画面模糊，请调焦")
    if decoded == 0:
        hints.append("no code read: hold a ticket 20-40 cm from the lens / 未识别到二维码")
    return hints


def measure_camera(source_spec: str, seconds: float, max_frames: int, clock: Clock) -> CameraReport:
    """Read frames for ``seconds`` (or ``max_frames``, or until the source ends)."""
    source = open_source(source_spec)
    decoder = QrDecoder()
    sharp_values, bright_values = [], []
    frames = decoded = 0
    started = clock.monotonic()
    try:
        while frames < max_frames and clock.monotonic() - started < seconds:
            frame = source.read()
            if frame is None:
                break
            frames += 1
            if decoder.decode(frame):
                decoded += 1
            sharp_values.append(sharpness(frame))
            bright_values.append(float(frame.mean()))
    finally:
        source.close()
    elapsed = max(clock.monotonic() - started, 1e-6)
    if frames == 0:
        raise FrameSourceError(f"camera {source_spec!r} gave no frame / 摄像头没有画面")
    sharp, bright = float(np.median(sharp_values)), float(np.median(bright_values))
    return CameraReport(
        source_spec,
        frames,
        round(elapsed, 3),
        decoded,
        round(frames / elapsed, 1),
        round(decoded / elapsed, 1),
        round(sharp, 1),
        round(bright, 1),
        hints_for(sharp, bright, decoded),
    )


@test_app.command()
def camera(
    state_dir: StateDir,
    source: Annotated[
        str | None, typer.Option("--camera", help="Camera spec (default: the node's)")
    ] = None,
    seconds: Annotated[float, typer.Option(help="How long to read", min=0.1)] = 10.0,
    frames: Annotated[int, typer.Option(help="Stop after this many frames", min=1)] = 100_000,
    as_json: JsonOut = False,
) -> None:
    """Decode rate with focus and exposure hints. 摄像头识读速率、对焦和曝光提示。"""
    spec = source or node_config(state_dir).camera
    if not spec:
        fail("this node has no camera configured (--camera SPEC)", zh="未配置摄像头")
    try:
        report = measure_camera(spec, seconds, frames, SYSTEM)
    except FrameSourceError as exc:
        fail(f"no camera: {exc}", EXIT_FAILED, zh="摄像头不可用")
    if as_json:
        typer.echo(json.dumps({**asdict(report), "ok": report.ok}))
    else:
        table = Table(title=f"Camera {spec} / 摄像头")
        table.add_column("measure")
        table.add_column("value")
        for label, value in (
            ("frames / 帧数", report.frames),
            ("frames per second / 帧率", report.frames_per_s),
            ("frames decoded / 识读帧数", report.decoded_frames),
            ("decodes per second / 识读速率", report.decodes_per_s),
            (f"sharpness (>= {SHARP_ENOUGH:g}) / 清晰度", report.sharpness),
            (f"brightness ({DARK:g}-{BRIGHT:g}) / 亮度", report.brightness),
        ):
            table.add_row(label, str(value))
        console = Console(highlight=False)
        console.print(table)
        for hint in report.hints:
            console.print(f"hint: {hint}")
    raise typer.Exit(0 if report.ok else EXIT_FAILED)


# -- readers -----------------------------------------------------------------------------------
def read_one(reader: Any, clock: Clock, wait_s: float) -> Credential | UnreadableCredential | None:
    """The first read of ``reader`` within ``wait_s`` seconds (None: nothing came)."""
    deadline = clock.monotonic() + wait_s
    while clock.monotonic() < deadline:
        reads = reader.poll()
        if reads:
            return reads[0]  # type: ignore[no-any-return]
        clock.sleep(POLL_S)
    return None


def check_reader(
    entry: dict[str, Any], clock: Clock, wait_s: float, show: Callable[[str], None]
) -> PartResult:
    url, kind = entry["url"], entry["kind"]
    try:
        reader = SerialLineReader(url, kind, entry.get("baudrate", 9600))
    except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
        return PartResult(f"{kind} {url}", None, "fail", f"cannot open: {exc}", _reader_fix(url))
    show(f"Present a {kind.replace('_', ' ')} to the reader on {url} within {wait_s:g} s")
    try:
        read = read_one(reader, clock, wait_s)
    finally:
        reader.close()
    part = f"{kind} {url}"
    if isinstance(read, Credential):
        return PartResult(part, None, "pass", f"read {read!r}")
    if isinstance(read, UnreadableCredential):
        return PartResult(
            part, None, "fail", f"read something unusable: {read}", "check the reader's mode"
        )
    return PartResult(part, None, "fail", f"nothing read in {wait_s:g} s", _reader_fix(url))


def _reader_fix(url: str) -> str:
    return f"check the cable and power of {url}, its baud rate, and that it sends one line per read"


@test_app.command()
def reader(
    state_dir: StateDir,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a card", min=0.1)] = 20.0,
    as_json: JsonOut = False,
) -> None:
    """Read one card on each serial reader of the node. 每个读卡器读一张卡。"""
    config = node_config(state_dir)
    if not config.readers:
        fail("this node has no serial readers configured", zh="未配置读卡器")
    console = Console(highlight=False, stderr=as_json)
    results = [check_reader(entry, SYSTEM, wait, console.print) for entry in config.readers]
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results]))
    else:
        print_results(console, "Readers / 读卡器", results)
    raise typer.Exit(0 if all(r.result == "pass" for r in results) else EXIT_FAILED)
