"""What every lane has, whatever moves in it: lamps, buzzer, fire loop and the event ring.

A subclass (Tripod, Wing, Swing) supplies four methods: ``_step(now)`` moves its mechanism one
tick; ``_abandon_grant(now)`` ends a grant in progress, reporting unused passages;
``_release_all(now)`` opens the lane for a fire alarm; ``_secure(now)`` closes it afterwards.
``tick(now)`` returns at once: no sleeps, no threads, no allocation, no exceptions for control
flow.

Fire alarm (fail-safe): the fire loop is a normally-closed circuit, read as 1 while intact. An
open circuit (0), a cut wire or an alarm opens the lane and keeps it open; grants are refused
meanwhile. Any grant in progress first reports its unused passages (EV_TIMEOUT) so the node
rolls those uses back. Recovery needs both the loop restored *and* a ``reset()`` from staff: a
loop that flickers back must not close lanes on an evacuating crowd. A lane powered on with the
loop open starts in fire mode at its first tick.
"""

from .hal import EV_DENIED, EV_FIRE, EV_FIRE_CLEARED, Edge, EventRing, const, ticks_add, ticks_diff

TYPE_CHECKING = False  # mypy treats this name as True; MicroPython has no typing module
if TYPE_CHECKING:
    from collections.abc import Callable

# Buzzer patterns: alternating on/off durations in ms, made once (no allocation when played).
BEEP_OK = (80,)
BEEP_DENY = (150, 100, 150)
BEEP_ALARM = (250, 250, 250, 250, 250, 250, 250, 250)

_QUIET = const(-1)


class Buzzer:
    """Plays a pattern without blocking; ``update(now)`` advances it."""

    def __init__(self, pin):
        self._pin = pin
        self._pattern = BEEP_OK
        self._index = _QUIET
        self._until = 0
        pin.off()

    def play(self, pattern, now):
        self._pattern = pattern
        self._index = 0
        self._until = ticks_add(now, pattern[0])
        self._pin.on()

    def update(self, now):
        if self._index == _QUIET or ticks_diff(now, self._until) < 0:
            return
        self._index += 1
        if self._index >= len(self._pattern):
            self._index = _QUIET
            self._pin.off()
            return
        self._until = ticks_add(self._until, self._pattern[self._index])
        self._pin.value(1 - (self._index & 1))  # even index: on, odd: off


class Lane:
    """What every gate kind shares: lamps, buzzer, the fire loop and the event ring.

    ``board`` supplies pins (hal.py); ``now`` is the current tick. Never blocks, sleeps or
    raises for control flow: ``tick(now_ms)`` returns at once. A fire alarm opens the lane
    whatever it was doing (fail-safe) and reports it."""

    # Supplied by each gate kind (module docstring).
    _step: "Callable[[int], None]"
    _abandon_grant: "Callable[[int], None]"
    _release_all: "Callable[[int], None]"
    _secure: "Callable[[int], None]"

    def __init__(self, board, now=0, debounce_ms=20):
        self._board = board
        self._green = board.pin_out("green")
        self._red = board.pin_out("red")
        self.buzzer = Buzzer(board.pin_out("buzzer"))
        self._fire_loop = Edge(board.pin_in("fire_loop"), debounce_ms, now)
        self.events = EventRing()
        self.in_fire = False
        self._reset_asked = False
        self._debounce = debounce_ms
        self._idle_lamps()

    # -- the node's side ------------------------------------------------------------------------
    def tick(self, now):
        self._fire_loop.update(now)
        if not self.in_fire and not self._fire_loop.level:
            self._enter_fire(now)
        elif self.in_fire:
            if self._reset_asked and self._fire_loop.level:
                self.in_fire = False
                self._secure(now)
                self._idle_lamps()
                self.events.push(EV_FIRE_CLEARED, 0)
            self._reset_asked = False
        else:
            self._step(now)
        self.buzzer.update(now)

    def reset(self):
        """Staff reset after a fire alarm; ignored while the loop is still open."""
        self._reset_asked = True

    def deny(self, now):
        """Show a refusal: deny beep, red lamp. The lane stays as it is."""
        self.buzzer.play(BEEP_DENY, now)
        self.events.push(EV_DENIED, 0)

    def next_event(self):
        """Next event code (hal.EV_*) or 0; its argument is then in ``self.events.arg``."""
        return self.events.pop()

    # -- for subclasses -------------------------------------------------------------------------
    def _enter_fire(self, now):
        self._abandon_grant(now)
        self.in_fire = True
        self._release_all(now)
        self._green.on()
        self._red.off()
        self.events.push(EV_FIRE, 0)

    def _open_lamps(self):
        self._green.on()
        self._red.off()

    def _idle_lamps(self):
        self._green.off()
        self._red.on()

    def _alarm(self, code, arg, now):
        self.events.push(code, arg)
        self.buzzer.play(BEEP_ALARM, now)
