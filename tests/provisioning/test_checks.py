"""gatectl test: the wiring walk-through through a real pseudo-terminal (pexpect) on gpiozero
mock pins, the camera's decode rate and hints on real frames, a card read on a serial line."""

from __future__ import annotations

import json
import os
import sys
import threading
import tty
from pathlib import Path

import cv2
import numpy as np
import pexpect
import pytest
import segno
from typer.testing import CliRunner

from provisioning.cli import app
from tests.gate_node.conftest import make_state

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("unlock_in", "unlock_out", "green", "red", "buzzer")  # a tripod's, in order


def spawn_wiring(state_dir: Path, *extra: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "220", "PYTHONPATH": str(ROOT)}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    return pexpect.spawn(
        sys.executable,
        ["-m", "tests.provisioning.wiring_rig", str(state_dir), "--watch", "3", *extra],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 220),
    )


def test_wiring_walks_through_every_output_and_input_and_names_what_failed(
    tmp_path, root_key, issuer_key
):
    state = make_state(tmp_path / "node", root_key, issuer_key)
    child = spawn_wiring(state.directory, "--dead", "rotation_out")
    gpios = {"unlock_in": 17, "unlock_out": 27, "green": 22, "red": 23, "buzzer": 24}
    for name in OUTPUTS:
        child.expect(rf"GPIO {gpios[name]} is on \(line low\)\. Did you see or hear")
        child.expect(r"\[y/n\]: ")
        child.sendline("n" if name == "buzzer" else "y")
    child.expect(r"rotation_in \(GPIO 5\) reads")
    child.expect(r"seen: rotation_in")
    child.expect(r"rotation_out \(GPIO 6\) reads")
    child.expect(r"Now open the fire loop")
    child.expect(r"fire_loop \(GPIO 21\) reads intact now")
    child.expect(r"seen: fire_loop CUT")
    child.expect(pexpect.EOF)
    summary = child.before
    child.close()
    assert child.exitstatus == 1
    rows = {
        line.split("│")[1].strip(): line for line in summary.splitlines() if line.count("│") > 4
    }
    assert "FAIL" in rows["buzzer"] and "│ 24 " in rows["buzzer"]
    assert "FAIL" in rows["rotation_out"] and "no change in 3" in rows["rotation_out"]
    for name in ("unlock_in", "unlock_out", "green", "red", "rotation_in", "fire_loop"):
        assert "pass" in rows[name], rows[name]


def test_wiring_passes_when_every_part_is_seen(tmp_path, root_key, issuer_key):
    state = make_state(tmp_path / "node", root_key, issuer_key)
    child = spawn_wiring(state.directory)
    for _ in OUTPUTS:
        child.expect(r"\[y/n\]: ")
        child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_handheld_has_no_wiring_to_test(tmp_path, root_key, issuer_key):
    state = make_state(tmp_path / "node", root_key, issuer_key, kind="handheld")
    result = CliRunner().invoke(app, ["test", "wiring", "--state-dir", str(state.directory)])
    assert result.exit_code == 2 and "handheld" in result.output


# -- camera ------------------------------------------------------------------------------------
def qr_frame(text: str = "J1TESTCODE") -> np.ndarray:
    """A printed code as a 640x480 grey frame: black modules on a white card."""
    matrix = np.array(segno.make(text, error="m", micro=False).matrix, dtype=np.uint8)
    code = np.kron(1 - matrix, np.ones((8, 8), dtype=np.uint8)) * 255
    code = np.pad(code, 32, constant_values=255)
    frame = np.full((480, 640), 200, dtype=np.uint8)
    h, w = code.shape
    frame[100 : 100 + h, 200 : 200 + w] = code
    return frame


def camera_json(tmp_path: Path, frames: list[np.ndarray]) -> tuple[int, dict]:
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    result = CliRunner().invoke(
        app,
        ["test", "camera", "--state-dir", str(tmp_path), "--camera", f"dir:{folder}", "--json"],
    )
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def test_a_sharp_well_lit_code_is_decoded_with_no_hint(tmp_path):
    code, report = camera_json(tmp_path, [qr_frame()] * 5)
    assert code == 0 and report["decoded_frames"] == 5 and report["hints"] == []


def test_a_dark_frame_gets_the_hint_to_add_light(tmp_path):
    dark = (qr_frame().astype(np.float32) * 0.2).astype(np.uint8)
    _, report = camera_json(tmp_path, [dark] * 3)
    assert any(h.startswith("too dark") for h in report["hints"])


def test_a_blurred_frame_gets_the_hint_to_focus(tmp_path):
    blurred = cv2.GaussianBlur(qr_frame(), (0, 0), 6)
    code, report = camera_json(tmp_path, [blurred] * 3)
    assert any(h.startswith("blurred") for h in report["hints"])
    assert code == 1 and report["decoded_frames"] == 0


def test_a_missing_camera_is_named(tmp_path):
    result = CliRunner().invoke(
        app, ["test", "camera", "--state-dir", str(tmp_path), "--camera", "file:/nowhere.png"]
    )
    assert result.exit_code == 1 and "no camera" in result.output


# -- readers -----------------------------------------------------------------------------------
@pytest.fixture
def serial_line():
    """A pseudo-terminal pair: the reader opens the slave's path, the card is written to the
    master, as a USB-serial reader would send it."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_a_card_presented_to_the_reader_is_shown(tmp_path, root_key, issuer_key, serial_line):
    master, path = serial_line
    state = make_state(
        tmp_path / "node", root_key, issuer_key, readers=[{"url": path, "kind": "rfid"}]
    )
    held = threading.Event()

    def card_on_the_reader() -> None:  # a reader repeats the UID while the card lies on it
        while not held.wait(0.05):
            os.write(master, b"04:a1:b2:c3\r\n")

    threading.Thread(target=card_on_the_reader, daemon=True).start()
    try:
        result = CliRunner().invoke(
            app, ["test", "reader", "--state-dir", str(state.directory), "--wait", "5", "--json"]
        )
    finally:
        held.set()
    (read,) = json.loads(result.stdout)
    assert result.exit_code == 0, read
    assert read["result"] == "pass" and "04A1B2C3" in read["seen"]


def test_a_silent_reader_is_named_with_a_fix(tmp_path, root_key, issuer_key, serial_line):
    _, path = serial_line
    state = make_state(
        tmp_path / "node", root_key, issuer_key, readers=[{"url": path, "kind": "id_card"}]
    )
    result = CliRunner().invoke(
        app, ["test", "reader", "--state-dir", str(state.directory), "--wait", "0.3", "--json"]
    )
    (read,) = json.loads(result.stdout)
    assert result.exit_code == 1 and read["result"] == "fail" and "nothing read" in read["seen"]
    assert "baud rate" in read["fix"]


def test_no_gpio_is_one_line_and_exit_1(tmp_path, root_key, issuer_key):
    import subprocess

    state = make_state(tmp_path / "node", root_key, issuer_key)
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    directory = str(state.directory)
    done = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "test", "wiring", "--state-dir", directory],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "gatectl: no GPIO on this machine: Unable to load any default pin factory! / 无法访问GPIO"
    ]
