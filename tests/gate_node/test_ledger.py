"""The ledger keeps what happened at the gate, through crashes and repeated peer deliveries."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime

from gate_node.ledger import Ledger, Use

T = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_sequence_numbers_are_per_node_and_dense(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    assert [ledger.record_use(bytes(7), T) for _ in range(3)] == [1, 2, 3]
    ledger.merge_peer_use(Use("G2", 50, bytes(7), T, "in", 1, 1, 0))
    assert ledger.record_use(bytes(7), T) == 4


def test_peer_uses_merge_once(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    use = Use("G2", 1, bytes(7), T, "in", 1, 1, 0)
    assert ledger.merge_peer_use(use) is True
    assert ledger.merge_peer_use(use) is False
    assert ledger.counts()["peer_uses"] == 1


def test_roll_back_never_gives_back_more_than_was_unused(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", "G1")
    seq = ledger.record_use(bytes(7), T, granted=5)
    for _ in range(3):
        ledger.record_passage(seq)
    ledger.roll_back(seq, unused=9)
    (use,) = ledger.uses("G1")
    assert (use.passed, use.rolled_back, use.counts) == (3, 2, True)


def test_uses_survive_reopening(tmp_path):
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path, "G1")
    ledger.record_use(bytes(7), T)
    ledger.close()
    assert len(Ledger(path, "G1").prior_uses(bytes(7))) == 1


WRITER = """
import sys
from datetime import datetime, UTC
from gate_node.ledger import Ledger
ledger = Ledger(sys.argv[1], "G1")
opened = open(sys.argv[2], "a", buffering=1)
n = 0
while True:
    n += 1
    seq = ledger.record_use(n.to_bytes(8, "big"), datetime(2026, 12, 1, 13, 30, tzinfo=UTC))
    opened.write(f"{seq}\\n")   # "tell the lane to open": only after the use is durable
"""


def test_kill_9_at_random_points_never_leaves_an_opening_without_a_record(tmp_path):
    db, opened_log = tmp_path / "l.sqlite", tmp_path / "opened.log"
    rng = random.Random(1124)
    env = {**os.environ, "PYTHONPATH": str(os.getcwd())}
    for _ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(opened_log)], env=env)
        try:
            writer.wait(timeout=rng.uniform(0.3, 0.9))
        except subprocess.TimeoutExpired:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
    recorded = {use.seq for use in Ledger(db, "G1").uses("G1")}
    opened = {int(line) for line in opened_log.read_text().split()}
    assert opened, "the writer never got going"
    assert opened <= recorded  # every opening has its use on disk
    assert recorded == set(range(1, max(recorded) + 1))  # no gaps, no duplicates
