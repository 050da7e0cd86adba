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

from gate_node.assembly import Node


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
