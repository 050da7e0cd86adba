"""Fresh state directory to first admitted ticket, in seconds: what an installer waits for.

A cloud (``scenic-cloud serve`` on SQLite), a Mosquitto with dynamic security and an ingest
worker are started first (not timed: they run before the installer arrives). Then, timed, for
each of ROUNDS gate positions: a manager's token over the API, ``gatectl enrol`` as a process
(identity key made and encrypted, bundle fetched and verified, node built), the node started
(state opened, identity key decrypted, lane built on mock GPIO), and a ticket bought online
beforehand shown at the lane until it is admitted and the visitor has passed.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.report import report
from gate_node.state import NodeState
from keys.clock import SYSTEM
from simulators.enrolled_site import enrolled_site
from simulators.site import Gate, _buy

PASSPHRASE = b"a long bench passphrase"
ROUNDS = 3


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder, enrolled_site(Path(folder), PASSPHRASE) as site:
        fingerprint = site.fingerprint()  # read off the cloud's console before the ladder
        for number in range(1, ROUNDS + 1):
            node = f"G{number}"
            _, (ticket,) = _buy(site.api, site.stock, f"bench-enrol-{number:04d}")
            state_dir = Path(folder) / f"gate-{node}"
            started = SYSTEM.monotonic()
            token = site.token(node)
            done = site.gatectl(
                "enrol",
                *("--token", token, "--state-dir", str(state_dir)),
                *("--expect-fingerprint", fingerprint, "--json"),
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
            enrolled = SYSTEM.monotonic()
            state = NodeState.open(state_dir)
            gate = Gate(state, state.identity(PASSPHRASE))
            running = SYSTEM.monotonic()
            try:
                decision = gate.visit(ticket["text"], 1)
            finally:
                gate.close()
            admitted = SYSTEM.monotonic()
            if not decision.grant:
                raise RuntimeError(f"the ticket was refused: {decision}")
            rows.append(
                {
                    "gate": node,
                    "token + gatectl enrol s": round(enrolled - started, 2),
                    "node start s": round(running - enrolled, 2),
                    "first admission s": round(admitted - running, 2),
                    "total s": round(admitted - started, 2),
                }
            )
    totals = [row["total s"] for row in rows]
    rows.append({"gate": "median", "total s": round(statistics.median(totals), 2)})
    report(
        "enrol_time",
        "Fresh state directory to first admitted ticket (gatectl enrol, real cloud and broker)",
        rows,
        "gatectl enrol includes Python start-up, Ed25519 key generation and its encryption, "
        "the HTTPS-less local round trip and verification of every document; node start "
        "includes decrypting the identity key.",
    )


if __name__ == "__main__":
    main()
