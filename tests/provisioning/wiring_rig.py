"""A gate harness on gpiozero mock pins for ``gatectl test wiring`` under a real terminal.

Run as ``python -m tests.provisioning.wiring_rig STATE_DIR [--watch S] [--dead PART]``: it
puts a MockFactory behind gpiozero, plays the installer working every sensor (each input of the
node's pin map toggles every 50 ms, except a ``--dead`` one, as if its wire were cut), and runs
gatectl's own entry point, so the pexpect test talks to the real command through a pty.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gate_node.pin_map import DEFAULT_PIN_MAPS, INPUTS, parse_pin_map
from gate_node.state import NodeState
from provisioning import cli


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--watch", default="3")
    parser.add_argument("--dead", default=None)
    args = parser.parse_args()
    factory = MockFactory()
    Device.pin_factory = factory
    config = NodeState.open(args.state_dir).config
    kind, specs = parse_pin_map(config.pin_map or DEFAULT_PIN_MAPS[config.kind])
    working = [specs[name].gpio for name in INPUTS[kind] if name != args.dead]
    stop = threading.Event()

    def installer() -> None:
        level = False
        while not stop.wait(0.05):
            level = not level
            for gpio in working:
                pin = factory.pin(gpio)
                pin.drive_high() if level else pin.drive_low()

    threading.Thread(target=installer, daemon=True).start()
    sys.argv = ["gatectl", "test", "wiring", "--state-dir", str(args.state_dir)]
    sys.argv += ["--watch", args.watch]
    try:
        cli.main()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
