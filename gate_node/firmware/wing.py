"""Wing (flap) barrier (翼闸): motorised flaps, presence beams either side, anti-pinch beam.

Parts (pin names in the pin map)::

    open_in, open_out   outputs: hold the flaps open toward that direction (drop = close)
    sensor_a            input: body in the lane on the entrance side (side a, where IN starts)
    sensor_b            input: body in the lane on the exit side (side b)
    pinch               input: body in the flaps' sweep (anti-pinch beam)
    green, red, buzzer, fire_loop   (lane.py)

For a grant IN, side a is *near* (where people come from) and side b *far*; for OUT the other
way round. A passage is a body that entered on the near side and then left the far beam.

States::

              grant                        last passage            hold_ms
    CLOSED ----------> OPENING --open_ms--> OPEN -------------> DWELL ---------+
      ^                   |                  |  timeout: EV_TIMEOUT(unused)    |
      |                   +------------------+------------------------------> (sweep clear?)
      |                                                                yes |      | no
      |         close_ms with nobody in the sweep                          v      v
      +------------------------------------------------------------- CLOSING <-- HOLD
                                                       pinch: reopen, EV_PINCH |   ^
                                                                               +---+

Never closes on a person: a close starts only with the sweep clear, and a body entering the
sweep while the flaps travel (``close_ms``) reopens them at once.
Alarms: a body entering beyond the number granted is tailgating (EV_TAILGATE, closes in front
of them if they are not yet in the sweep); a body on the far side before anyone entered is
coming the wrong way (EV_REVERSE); a body in the sweep while CLOSED is a forced entry
(climbing or pushing the flaps, EV_FORCED).
"""

from .hal import (
    DIR_IN,
    DIR_OUT,
    EV_FORCED,
    EV_PASSAGE,
    EV_PINCH,
    EV_REVERSE,
    EV_TAILGATE,
    EV_TIMEOUT,
    Edge,
    const,
    ticks_add,
    ticks_diff,
)
from .lane import BEEP_OK, Lane

_CLOSED = const(0)
_OPENING = const(1)
_OPEN = const(2)
_DWELL = const(3)
_HOLD = const(4)
_CLOSING = const(5)


class Wing(Lane):
    """A wing (flap) barrier's controller: ``grant(now, direction, passages)`` opens the flaps
    and never closes them on a person (module docstring: states, alarms).

    Timings in ms: ``open_ms`` flap travel when opening, ``close_ms`` when closing,
    ``passage_timeout_ms`` (default 8 s) for each person to pass, ``hold_ms`` to stay open
    after the last passage (0: close at once)."""

    def __init__(
        self,
        board,
        now=0,
        open_ms=300,
        close_ms=600,
        passage_timeout_ms=8000,
        hold_ms=0,
        debounce_ms=20,
    ):
        self._open_in = board.pin_out("open_in")
        self._open_out = board.pin_out("open_out")
        self._open_in.off()
        self._open_out.off()
        self._a = Edge(board.pin_in("sensor_a"), debounce_ms, now)
        self._b = Edge(board.pin_in("sensor_b"), debounce_ms, now)
        self._pinch = Edge(board.pin_in("pinch"), debounce_ms, now)
        self._open_ms = open_ms
        self._close_ms = close_ms
        self._timeout_ms = passage_timeout_ms
        self._hold_ms = hold_ms
        self._state = _CLOSED
        self._direction = DIR_IN
        self._granted = 0
        self._entered = 0
        self._passed = 0
        self._tailgated = False
        self._until = 0
        self._deadline = 0
        Lane.__init__(self, board, now, debounce_ms)

    @property
    def closed(self):
        return self._state == _CLOSED and not self.in_fire

    @property
    def holding(self):
        """Kept from closing by a body in the sweep."""
        return self._state == _HOLD

    def grant(self, now, direction=DIR_IN, passages=1):
        """Open for ``passages`` people in ``direction``; False if busy or in fire mode."""
        if self.in_fire or self._state != _CLOSED or passages < 1:
            return False
        self._direction = direction
        self._granted = passages
        self._entered = 0
        self._passed = 0
        self._tailgated = False
        self._motor().on()
        self._state = _OPENING
        self._until = ticks_add(now, self._open_ms)
        self._deadline = ticks_add(now, self._timeout_ms)
        self.buzzer.play(BEEP_OK, now)
        return True

    def _motor(self):
        return self._open_in if self._direction == DIR_IN else self._open_out

    def _step(self, now):
        edge_a = self._a.update(now)
        edge_b = self._b.update(now)
        edge_pinch = self._pinch.update(now)
        state = self._state
        if state == _CLOSED:
            if edge_pinch == 1:
                self._alarm(EV_FORCED, DIR_OUT if self._b.level else DIR_IN, now)
            return
        if state == _OPENING and ticks_diff(now, self._until) >= 0:
            self._state = _OPEN
            self._open_lamps()
        if self._granted and self._state <= _OPEN:  # watching only while open for the grant
            near, far = (edge_a, edge_b) if self._direction == DIR_IN else (edge_b, edge_a)
            self._watch_lane(near, far, now)
        if self._state == _DWELL:
            if ticks_diff(now, self._until) >= 0:
                self._close_when_clear(now)
        elif self._state == _HOLD:
            if not self._pinch.level:
                self._close(now)
        elif self._state == _CLOSING:
            if self._pinch.level:
                self._motor().on()  # reopen: never close on a person
                self._state = _HOLD
                self.events.push(EV_PINCH, 0)
            elif ticks_diff(now, self._until) >= 0:
                self._closed()
        elif self._granted and ticks_diff(now, self._deadline) >= 0:
            self.events.push(EV_TIMEOUT, self._granted - self._passed)
            self._granted = self._passed
            self._end_grant(now)

    def _watch_lane(self, near, far, now):
        if near == 1:
            self._entered += 1
            if self._entered > self._granted and not self._tailgated:
                self._tailgated = True
                self._alarm(EV_TAILGATE, self._direction, now)
                if not self._pinch.level and self._passed == self._granted:
                    self._close(now)
        if far == 1 and self._entered == 0 and self._passed == 0:
            self._alarm(EV_REVERSE, DIR_OUT if self._direction == DIR_IN else DIR_IN, now)
        if far == -1 and self._entered > self._passed and self._passed < self._granted:
            self._passed += 1
            self.events.push(EV_PASSAGE, self._direction)
            self._deadline = ticks_add(now, self._timeout_ms)
            if self._passed == self._granted:
                self._end_grant(now)

    def _end_grant(self, now):
        """All granted passages used (or timed out): close after the dwell, when it is safe."""
        if self._tailgated and self._entered > self._passed and not self._pinch.level:
            self._close(now)  # shut the tailgater out while they are still outside the sweep
        elif self._hold_ms and self._passed:
            self._state = _DWELL
            self._until = ticks_add(now, self._hold_ms)
        else:
            self._close_when_clear(now)

    def _close_when_clear(self, now):
        if self._pinch.level:
            self._state = _HOLD
        else:
            self._close(now)

    def _close(self, now):
        self._open_in.off()
        self._open_out.off()
        self._state = _CLOSING
        self._until = ticks_add(now, self._close_ms)

    def _closed(self):
        self._state = _CLOSED
        self._granted = 0
        self._idle_lamps()

    # -- fire alarm (lane.py) ---------------------------------------------------------------------
    def _abandon_grant(self, now):
        if self._granted and self._passed < self._granted:
            self.events.push(EV_TIMEOUT, self._granted - self._passed)
        self._granted = 0

    def _release_all(self, now):
        self._open_in.on()  # flaps folded away: the lane is free both ways
        self._state = _HOLD

    def _secure(self, now):
        self._a.resync()
        self._b.resync()
        self._pinch.resync()
        self._granted = 0
        self._close_when_clear(now)
