"""Unit files are valid for systemd and keep their promises (notify, watchdog, hardening)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_passes_systemd_analyze_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # ExecStart must exist for verify: point it at this checkout's virtual environment.
    local = Path(sys.executable).parent
    text = unit.read_text().replace("/opt/scenic-gates/.venv/bin", str(local))
    (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / unit.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_gate_node_unit_is_notify_with_watchdog_and_hardened():
    text = (ROOT / "systemd/gate-node.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DevicePolicy=closed",
        "DeviceAllow=char-gpiochip rw",
        "StateDirectory=",
        "LoadCredential=node-passphrase",
    ):
        assert line in text
