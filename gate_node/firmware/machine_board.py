"""Board on a MicroPython microcontroller gate I/O board: ``machine.Pin`` with a pin map.

Pin map: ``{name: (gpio_number, active_low, pull)}`` where pull is ``"up"``, ``"down"`` or
``None``; inputs and outputs are told apart by the controller asking ``pin_in``/``pin_out``.
Active-low pins are inverted here, so controllers only see logical values (1 = active).
Not importable on CPython or the WebAssembly port (no ``machine`` module): tests there use
sim.py, and this file is type-checked against the MicroPython stubs and compiled by mpy-cross.
"""

from machine import Pin


class _Logical:
    """A pin seen through its polarity."""

    def __init__(self, pin: Pin, active_low: bool) -> None:
        self._pin = pin
        self._invert = 1 if active_low else 0

    def value(self, v: int | None = None) -> int:
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if v else 0) ^ self._invert)
        return v

    def on(self) -> None:
        self._pin.value(1 ^ self._invert)

    def off(self) -> None:
        self._pin.value(self._invert)


class MachineBoard:
    def __init__(self, pin_map: dict) -> None:
        self._map = pin_map

    def _spec(self, name: str) -> tuple:
        if name not in self._map:
            raise ValueError("pin map has no " + name)
        return self._map[name]

    def pin_in(self, name: str) -> _Logical:
        number, active_low, pull = self._spec(name)
        if pull is None:
            return _Logical(Pin(number, Pin.IN), active_low)
        return _Logical(
            Pin(number, Pin.IN, Pin.PULL_UP if pull == "up" else Pin.PULL_DOWN), active_low
        )

    def pin_out(self, name: str) -> _Logical:
        number, active_low, _ = self._spec(name)
        logical = _Logical(Pin(number, Pin.OUT), active_low)
        logical.off()
        return logical
