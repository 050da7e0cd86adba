"""The firmware's whole view of hardware: pins, wrap-safe milliseconds, edges and an event ring.

Gate controllers (tripod.py, wing.py, swing.py) import only this module, so the same files run
on the Pi under CPython (pins from gpiozero, gate_node/gpio_board.py), on a microcontroller gate
I/O board under MicroPython (machine_board.py) and in tests and the simulator (sim.py).

A *board* is anything with::

    board.pin_in(name)  -> object with value() -> 0 or 1     (logical: 1 = active)
    board.pin_out(name) -> object with on(), off(), value(v) (logical)

Polarity (active-high or active-low) is the board's business, from the pin map: controllers
only ever see "active" as 1. Time is not read here: the caller passes ``now`` (ms ticks) to
``tick()``, so tests step time instead of sleeping, like gpiozero's Factory owns the clock.

Ticks follow MicroPython's ``time.ticks_*``: they wrap (period 2**30 here and on the ports we
target) and are only ever compared through ``ticks_diff``. On MicroPython the native functions
are used; on CPython the same arithmetic in Python.

MicroPython-compatible: no typing, no dataclasses, no ``__future__``, no allocation after
construction in anything called from ``tick()``.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[no-redef,misc]
        return value


import time as _time

_PERIOD = 1 << 30
_HALF = 1 << 29


def _ticks_add(ticks: int, delta: int) -> int:
    return (ticks + delta) % _PERIOD


def _ticks_diff(end: int, start: int) -> int:
    return ((end - start + _HALF) % _PERIOD) - _HALF


# MicroPython's own functions where they exist (their period is the port's), else ours.
ticks_add = getattr(_time, "ticks_add", _ticks_add)
ticks_diff = getattr(_time, "ticks_diff", _ticks_diff)


# Event codes a controller reports to the node (see Lane.next_event). Stable numbers: the node
# maps them to ledger actions and MQTT alarm names (gate_node/lane_driver.py).
EV_PASSAGE = const(1)  # arg: direction; one person passed (commit one use)
EV_TIMEOUT = const(2)  # arg: passages granted but unused (roll those back)
EV_FORCED = const(3)  # arg: direction; passage with no grant
EV_TAILGATE = const(4)  # arg: direction; a second body behind a granted one
EV_PINCH = const(5)  # arg: 0; closing stopped, someone in the flap/leaf zone
EV_REVERSE = const(6)  # arg: direction someone came from, against the grant
EV_FIRE = const(7)  # arg: 0; fire loop open: every lane opened and held open
EV_FIRE_CLEARED = const(8)  # arg: 0; loop restored and reset given
EV_HELD_OPEN = const(9)  # arg: seconds held open
EV_OVERRIDE = const(10)  # arg: 1 on, 0 off; staff override switch
EV_DENIED = const(11)  # arg: 0; the node refused a credential (lamps/buzzer shown)

EVENT_NAMES = {
    EV_PASSAGE: "passage",
    EV_TIMEOUT: "timeout",
    EV_FORCED: "forced",
    EV_TAILGATE: "tailgate",
    EV_PINCH: "pinch",
    EV_REVERSE: "reverse",
    EV_FIRE: "fire_alarm",
    EV_FIRE_CLEARED: "fire_cleared",
    EV_HELD_OPEN: "held_open",
    EV_OVERRIDE: "override",
    EV_DENIED: "denied",
}

DIR_IN = const(1)
DIR_OUT = const(2)


class Edge:
    """A debounced input: ``update(now)`` returns 1 on a rise, -1 on a fall, 0 otherwise.

    A change counts only once it has held for ``debounce_ms`` (default 20 ms: microswitches
    and IR beams chatter for a few ms). ``level`` is the debounced value.
    """

    def __init__(self, pin, debounce_ms=20, now=0):
        self._pin = pin
        self._debounce = debounce_ms
        self.level = pin.value()
        self._candidate = self.level
        self._since = now

    def resync(self):
        """Take the pin's present value as the level, with no edge (after a fire alarm)."""
        self.level = self._pin.value()
        self._candidate = self.level

    def update(self, now):
        raw = self._pin.value()
        if raw != self._candidate:
            self._candidate = raw
            self._since = now
            return 0
        if raw != self.level and ticks_diff(now, self._since) >= self._debounce:
            self.level = raw
            return 1 if raw else -1
        return 0


class EventRing:
    """Fixed-size queue of (code, arg) pairs; allocated once, so tick() never allocates.

    When full, the oldest event is overwritten and ``lost`` counts it: the node drains every
    tick, so this only happens if the node has stopped, and then the count says so.
    """

    def __init__(self, size=16):
        self._codes = [0] * size
        self._args = [0] * size
        self._size = size
        self._head = 0
        self._count = 0
        self.lost = 0
        self.arg = 0

    def push(self, code, arg=0):
        if self._count == self._size:
            self._head = (self._head + 1) % self._size
            self._count -= 1
            self.lost += 1
        tail = (self._head + self._count) % self._size
        self._codes[tail] = code
        self._args[tail] = arg
        self._count += 1

    def pop(self):
        """The next event code, or 0 when empty; its argument is left in ``arg``."""
        if not self._count:
            return 0
        code = self._codes[self._head]
        self.arg = self._args[self._head]
        self._head = (self._head + 1) % self._size
        self._count -= 1
        return code
