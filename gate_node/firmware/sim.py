"""A simulated board and clock: pins a test or the simulator drives, time it steps.

Runs under CPython and MicroPython alike (the MicroPython WebAssembly port has no ``machine``
module, so firmware scenarios there use this board). Inputs are set with ``set(name, v)``;
outputs are read back with ``out(name)``; ``advance(ms)`` moves the clock and ticks the lane
in small steps, as the node's 5 ms loop would.
"""

from .hal import ticks_add


class SimPin:
    def __init__(self, value=0):
        self._value = value

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        return self._value

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0


class SimBoard:
    """Pins by name, created on first use; inputs start inactive unless given in ``initial``."""

    def __init__(self, initial=None, start_ms=0):
        self._pins = {}
        for name in initial or {}:
            self._pins[name] = SimPin(initial[name])
        self.now = start_ms

    def pin_in(self, name):
        if name not in self._pins:
            self._pins[name] = SimPin(0)
        return self._pins[name]

    def pin_out(self, name):
        return self.pin_in(name)

    def set(self, name, value):
        self.pin_in(name).value(value)

    def out(self, name):
        return self.pin_in(name).value()

    def advance(self, ms, lane=None, step=5):
        """Move time forward by ``ms``, ticking ``lane`` every ``step`` ms on the way."""
        remaining = ms
        while remaining > 0:
            delta = step if remaining > step else remaining
            self.now = ticks_add(self.now, delta)
            remaining -= delta
            if lane is not None:
                lane.tick(self.now)
