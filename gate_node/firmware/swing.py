"""Swing gate (摆闸): the wide lane for wheelchairs, strollers, groups with luggage and staff.

The same lane logic as the wing barrier (wing.py: presence beams, anti-pinch, tailgating,
reverse direction), with what a heavy leaf and its users need:

- slower travel: ``open_ms`` 1.5 s, ``close_ms`` 2 s (a longer window in which the anti-pinch
  beam reopens the leaf), and a passage timeout of 15 s (a wheelchair takes longer);
- a longer hold: after the last passage the leaf stays open ``hold_ms`` (3 s) before closing,
  so a stroller's back wheels are not caught;
- held-open alarm: a leaf kept from closing by a body in the sweep for ``held_open_ms`` (30 s)
  reports EV_HELD_OPEN once (someone leaning on the leaf, a blocked lane);
- staff override (key switch or button on input ``override``): while active the leaf opens
  and stays open with no grant and no uses recorded (staff, deliveries, emergency services);
  EV_OVERRIDE 1 when switched on, 0 when off, then the normal close (never on a person).

Parts: as wing.py, plus input ``override``.
"""

from .hal import EV_HELD_OPEN, EV_OVERRIDE, Edge, const, ticks_diff
from .wing import Wing

_OVERRIDE = const(6)  # after wing.py's states 0-5


class Swing(Wing):
    """A swing gate's controller: the wing barrier's lane with a heavy leaf's timings, the
    held-open alarm and the staff override (module docstring). Timings in ms, as ``Wing``'s,
    plus ``held_open_ms`` (default 30 s)."""

    def __init__(
        self,
        board,
        now=0,
        open_ms=1500,
        close_ms=2000,
        passage_timeout_ms=15000,
        hold_ms=3000,
        held_open_ms=30000,
        debounce_ms=20,
    ):
        self._override = Edge(board.pin_in("override"), debounce_ms, now)
        self._held_open_ms = held_open_ms
        self._hold_started = 0
        self._held_reported = False
        Wing.__init__(self, board, now, open_ms, close_ms, passage_timeout_ms, hold_ms, debounce_ms)

    @property
    def overridden(self):
        return self._state == _OVERRIDE

    def _step(self, now):
        switched = self._override.update(now)
        if switched == 1:
            self._abandon_grant(now)
            self._open_in.on()
            self._state = _OVERRIDE
            self._open_lamps()
            self.events.push(EV_OVERRIDE, 1)
            return
        if self._state == _OVERRIDE:
            if switched == -1:
                self.events.push(EV_OVERRIDE, 0)
                self._close_when_clear(now)
            return
        was_holding = self.holding
        Wing._step(self, now)
        if not self.holding:
            return
        if not was_holding:
            self._hold_started = now
            self._held_reported = False
        elif not self._held_reported and ticks_diff(now, self._hold_started) >= self._held_open_ms:
            self._held_reported = True
            self._alarm(EV_HELD_OPEN, self._held_open_ms // 1000, now)
