"""A gate node's loop on its own thread, for the demo and benchmarks: as ``gate-node run`` does,
in-process, so several gates can share one machine and be driven from outside.

Calls into the node (recording a use, reading its ledger) go through ``call``, which runs them
on the loop's thread between ticks: the node's SQLite connection is only ever used from there.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory

from gate_node.assembly import Node, build
from gate_node.readers.credentials import Credential
from gate_node.state import NodeState
from keys import keystore
from keys.clock import SYSTEM
from simulators.mechanisms import MockWires, TripodMechanism


class NodeThread:
    def __init__(self, node: Node, on_tick: Callable[[int], None] | None = None) -> None:
        """``on_tick(elapsed_ms)`` runs after every tick: a simulated mechanism, for instance."""
        self.node = node
        self.on_tick = on_tick
        self.commands: queue.Queue[Callable[[], Any]] = queue.Queue()
        self.results: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        now_ms = 0
        while not self.stop.is_set():
            while not self.commands.empty():
                self.results.put(self.commands.get()())
            now_ms += 5
            self.node.service.step(now_ms)
            if self.on_tick:
                self.on_tick(5)
            time.sleep(0.005)

    def call(self, command: Callable[[], Any]) -> Any:
        self.commands.put(command)
        return self.results.get(timeout=10)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.node.close()


class InProcessGate:
    """A tripod lane in this process: the node on a ``NodeThread``, mock pins with the fire
    loop intact, and the simulated tripod (mechanisms.py) turning for whoever was let through.
    For tests and benches that need one gate without the processes of lane_process.py."""

    def __init__(self, state: NodeState, key: keystore.SigningKey) -> None:
        self.pins = MockFactory()
        self.mechanism = TripodMechanism(MockWires(self.pins, state.config.pin_map or {}))
        self.thread = NodeThread(
            build(state, self.pins, with_camera=False, node_key=key), on_tick=self.mechanism.step
        )

    @property
    def service(self) -> Any:
        return self.thread.node.service

    def visit(self, text: str, walkers: int, timeout_s: float = 10.0) -> Any:
        """A visitor shows a code; ``walkers`` people walk through if the lane opens. The
        gate's decision."""
        before = self.thread.call(lambda: len(self.service.decisions))

        def present() -> None:
            self.service.repeats.hold_s = 0  # a new presentation, even of the same code
            self.service.reads.put(Credential("qr", text))

        self.thread.call(present)
        deadline = SYSTEM.monotonic() + timeout_s
        while self.thread.call(lambda: len(self.service.decisions)) == before:
            if SYSTEM.monotonic() > deadline:
                raise RuntimeError("the gate did not decide")
            SYSTEM.sleep(0.01)
        decision = self.thread.call(lambda: self.service.decisions[before])
        if decision.grant and walkers:
            passed = self.mechanism.counts["passed_in"]
            self.mechanism.arrive("walk", count=walkers)
            deadline = SYSTEM.monotonic() + 15
            while self.mechanism.counts["passed_in"] < passed + walkers:
                if SYSTEM.monotonic() > deadline:
                    break
                SYSTEM.sleep(0.02)
        return decision

    def outbox(self) -> int:
        return int(self.thread.call(lambda: self.service.ledger.counts()["outbox"]))

    def close(self) -> None:
        self.thread.close()
        self.pins.reset()
