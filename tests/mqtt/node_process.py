"""A gate node process for fault tests: visitors at a steady rate, and the real uplink.

usage: python -m tests.mqtt.node_process STATE_DIR VISITORS PER_SECOND

Each visitor is a use and its passage (two outbox events), recorded through the node's own
ledger, while the node loop (gate_node.service) pumps the uplink and applies the downlink. On
restart it carries on from the uses already in its ledger, as a real gate would after a power
cut, until VISITORS uses exist; then it keeps running (to drain its outbox) until killed.
Its clock is ``keys.clock.from_environment()``: the test pins the day with SCENIC_CLOCK_AT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gate_node.assembly import build
from gate_node.state import NodeState
from keys import keystore
from keys.clock import from_environment


def main() -> None:
    state_dir, visitors, rate = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    clock = from_environment()
    state = NodeState.open(state_dir, clock)
    key = state.identity(keystore.passphrase_from(None))
    node = build(state, with_camera=False, node_key=key, clock=clock)
    ledger = node.service.ledger
    made = ledger.counts()["uses"]
    started = clock.monotonic()
    already = made
    now_ms = 0
    while True:
        now_ms += 5
        due = already + int((clock.monotonic() - started) * rate)
        while made < min(due, visitors):
            made += 1
            seq = ledger.record_use(os.urandom(8), node.service.clock.now())
            ledger.record_passage(seq)
        node.service.step(now_ms)
        clock.sleep(0.002)  # the visitors' pace is real time in this process


if __name__ == "__main__":
    main()
