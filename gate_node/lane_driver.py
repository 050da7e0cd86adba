"""Between the decision and the mechanism: open the lane for a recorded use, settle it after.

The order is the ledger's promise (ledger.py): the node records the use, *then* calls
``open_for``; the controller's events come back through ``tick``: each EV_PASSAGE marks one
passage of that use, EV_TIMEOUT gives the unused ones back (a group of 5 where 3 came: 2 are
rolled back). Alarms (forced, tailgate, fire...) go to ``when_alarm`` for logs and uplink.
A handheld checker has no mechanism: its passages are counted as made when granted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gate_node.firmware.hal import (
    DIR_IN,
    DIR_OUT,
    EV_PASSAGE,
    EV_TIMEOUT,
    EVENT_NAMES,
)
from gate_node.ledger import Ledger

AlarmHandler = Callable[[str, int], None]


class LaneDriver:
    """Opens the lane for a recorded use and settles it from the controller's events.

    Never opens for a use the ledger does not hold (``open_for`` comes after ``record_use``),
    and never lets a passage that did not happen count: EV_TIMEOUT rolls the unused ones back."""

    def __init__(self, lane: Any, ledger: Ledger, when_alarm: AlarmHandler | None = None) -> None:
        self.lane = lane  # a firmware controller (Tripod, Wing, Swing) or None for handheld
        self.ledger = ledger
        self.when_alarm = when_alarm or (lambda name, arg: None)
        self._seq: int | None = None  # the use the lane is open for
        self._remaining = 0  # its passages not yet made

    @property
    def ready(self) -> bool:
        """Free for the next visitor (not open for someone, not in fire mode)."""
        if self.lane is None:
            return True
        return self._seq is None and not self.lane.in_fire and self._mechanism_idle()

    def open_for(self, seq: int, direction: str, passages: int, now_ms: int) -> bool:
        """Open for a use already recorded; if the lane cannot, the use is rolled back."""
        if self.lane is None:
            for _ in range(passages):
                self.ledger.record_passage(seq)
            return True
        code = DIR_IN if direction == "in" else DIR_OUT
        if not self.lane.grant(now_ms, code, passages):
            self.ledger.roll_back(seq, passages)
            return False
        self._seq = seq
        self._remaining = passages
        return True

    def abandon(self) -> int:
        """The node is stopping while the lane is open for a use: the passages not yet made
        never will be (the lane relocks when its power or its process goes), so give them back,
        as a timeout would, and the visitor is not refused as "already used" after a restart.
        Returns how many were given back."""
        if self._seq is None or self._remaining <= 0:
            self._seq = None
            return 0
        unused, self._remaining = self._remaining, 0
        self.ledger.roll_back(self._seq, unused)
        self._seq = None
        return unused

    def deny(self, now_ms: int) -> None:
        if self.lane is not None:
            self.lane.deny(now_ms)

    def tick(self, now_ms: int) -> None:
        if self.lane is None:
            return
        self.lane.tick(now_ms)
        code = self.lane.next_event()
        while code:
            self._settle(code, self.lane.events.arg)
            code = self.lane.next_event()

    def _settle(self, code: int, arg: int) -> None:
        if code == EV_PASSAGE and self._seq is not None:
            self.ledger.record_passage(self._seq)
            self._remaining -= 1
            if self._remaining <= 0:
                self._seq = None
        elif code == EV_TIMEOUT and self._seq is not None:
            if arg:
                self.ledger.roll_back(self._seq, arg)
            self._seq = None
        elif code != EV_PASSAGE:
            self.when_alarm(EVENT_NAMES.get(code, str(code)), arg)

    def _mechanism_idle(self) -> bool:
        """Locked (tripod) or closed (wing, swing): ready for a grant."""
        for attribute in ("locked", "closed"):
            if hasattr(self.lane, attribute):
                return bool(getattr(self.lane, attribute))
        return True
