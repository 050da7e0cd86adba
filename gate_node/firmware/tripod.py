"""Tripod turnstile (三辊闸): one unlock pulse per person, one rotation-complete pulse back.

Parts (pin names in the pin map)::

    unlock_in, unlock_out     outputs: solenoid release for one rotation in that direction
    rotation_in, rotation_out inputs: the arm completed a 120-degree turn in that direction
    green, red, buzzer        outputs (lane.py)
    fire_loop                 input, normally closed (lane.py)

States::

             grant(dir, n)                         rotation(dir), n-1 left: re-pulse
    LOCKED ----------------> UNLOCKED ----------------------------------+
      ^  ^                    |  |  ^                                    |
      |  |  rotation, 0 left  |  |  +------------------------------------+
      |  +--------------------+  |
      +--------------------------+  no rotation within timeout_ms: EV_TIMEOUT(unused)

    rotation while LOCKED, or against the grant's direction: EV_FORCED(dir) and alarm beep.

A grant pulses the direction's unlock relay for ``pulse_ms`` (>= 100 ms: shorter pulses do not
reliably pull in the solenoids of common mechanisms) and waits up to ``timeout_ms`` (default
5 s) for the rotation. A group grant of N re-pulses after each rotation and restarts the
timeout, so a group of five takes five turns at its own pace (批量检票).
"""

from .hal import (
    DIR_IN,
    DIR_OUT,
    EV_FORCED,
    EV_PASSAGE,
    EV_TIMEOUT,
    Edge,
    const,
    ticks_add,
    ticks_diff,
)
from .lane import BEEP_OK, Lane

_LOCKED = const(0)
_UNLOCKED = const(1)


class Tripod(Lane):
    """A tripod turnstile's controller: ``grant(now, direction, passages)`` unlocks the arm
    for that many turns, one person each.

    Timings in ms: ``pulse_ms`` (at least 100) the unlock pulse, ``timeout_ms`` (default 5 s)
    to wait for each rotation, ``debounce_ms`` for the rotation inputs. Never blocks: ``tick``
    returns at once (module docstring: states)."""

    def __init__(self, board, now=0, pulse_ms=200, timeout_ms=5000, debounce_ms=20):
        if pulse_ms < 100:
            raise ValueError("pulse_ms must be at least 100")
        if timeout_ms <= pulse_ms:
            raise ValueError("timeout_ms must exceed pulse_ms")
        self._unlock_in = board.pin_out("unlock_in")
        self._unlock_out = board.pin_out("unlock_out")
        self._unlock_in.off()
        self._unlock_out.off()
        self._rotation_in = Edge(board.pin_in("rotation_in"), debounce_ms, now)
        self._rotation_out = Edge(board.pin_in("rotation_out"), debounce_ms, now)
        self._pulse_ms = pulse_ms
        self._timeout_ms = timeout_ms
        self._state = _LOCKED
        self._direction = DIR_IN
        self._remaining = 0
        self._pulse_end = 0
        self._pulsing = False
        self._deadline = 0
        Lane.__init__(self, board, now, debounce_ms)

    @property
    def locked(self):
        return self._state == _LOCKED and not self.in_fire

    def grant(self, now, direction=DIR_IN, passages=1):
        """Let ``passages`` people through in ``direction``; False if busy or in fire mode."""
        if self.in_fire or self._state != _LOCKED or passages < 1:
            return False
        self._state = _UNLOCKED
        self._direction = direction
        self._remaining = passages
        self._open_lamps()
        self.buzzer.play(BEEP_OK, now)
        self._pulse(now)
        return True

    def _pulse(self, now):
        self._relay().on()
        self._pulsing = True
        self._pulse_end = ticks_add(now, self._pulse_ms)
        self._deadline = ticks_add(now, self._timeout_ms)

    def _relay(self):
        return self._unlock_in if self._direction == DIR_IN else self._unlock_out

    def _step(self, now):
        if self._pulsing and ticks_diff(now, self._pulse_end) >= 0:
            self._relay().off()
            self._pulsing = False
        if self._rotation_in.update(now) == 1:
            self._rotated(DIR_IN, now)
        if self._rotation_out.update(now) == 1:
            self._rotated(DIR_OUT, now)
        if self._state == _UNLOCKED and ticks_diff(now, self._deadline) >= 0:
            self.events.push(EV_TIMEOUT, self._remaining)
            self._lock()

    def _rotated(self, direction, now):
        if self._state != _UNLOCKED or direction != self._direction:
            self._alarm(EV_FORCED, direction, now)
            return
        self._remaining -= 1
        self.events.push(EV_PASSAGE, direction)
        if self._remaining == 0:
            self._lock()
        else:
            self._pulse(now)

    def _lock(self):
        self._unlock_in.off()
        self._unlock_out.off()
        self._pulsing = False
        self._state = _LOCKED
        self._remaining = 0
        self._idle_lamps()

    # -- fire alarm (lane.py) ---------------------------------------------------------------------
    def _abandon_grant(self, now):
        if self._state == _UNLOCKED:
            self.events.push(EV_TIMEOUT, self._remaining)
            self._lock()

    def _release_all(self, now):
        # Both solenoids held released: the arms turn freely either way (or drop, on drop-arm
        # models wired to the same relay).
        self._unlock_in.on()
        self._unlock_out.on()

    def _secure(self, now):
        self._lock()
        # Rotations seen during the evacuation are not forced entries: forget their edges.
        self._rotation_in.resync()
        self._rotation_out.resync()
