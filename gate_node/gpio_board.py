"""The firmware HAL on a Raspberry Pi: gpiozero devices behind the board contract (firmware/hal.py).

gpiozero picks the pin backend (lgpio on a Pi 5, RPi.GPIO or pigpio elsewhere, ``mock`` in tests
and the simulator via ``GPIOZERO_PIN_FACTORY=mock`` or an explicit ``pin_factory``), so the same
controller code runs everywhere. Polarity comes from the pin map (gate_node/pin_map.py) and is
handled by gpiozero's ``active_state``/``active_high``: controllers see 1 as "active".

Off a Pi, ``GPIOZERO_PIN_FACTORY=mock`` (no explicit factory) is the simulated board of
``gate-node run``: nothing is wired to its pins, and an unwired normally-closed fire loop reads
as cut, which would hold the lane in fire_alarm and admit nobody. So the simulated board models
an intact loop: the fire-loop pin is driven to its active (intact) level when it is opened. A
test or simulator that passes its own ``MockFactory`` drives every pin itself, the loop included.

No debouncing here (gpiozero's ``bounce_time`` would hide edges from the controller's own,
tick-based debounce in hal.Edge, which behaves the same on a microcontroller).
"""

from __future__ import annotations

from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPin

from gate_node.firmware.hal import ticks_add
from gate_node.pin_map import INPUTS, PinSpec, parse_pin_map
from keys.clock import SYSTEM, Clock


class _Input:
    def __init__(self, device: DigitalInputDevice) -> None:
        self._device = device

    def value(self) -> int:
        return 1 if self._device.value else 0


class _Output:
    def __init__(self, device: DigitalOutputDevice) -> None:
        self._device = device

    def value(self, v: int | None = None) -> int:
        if v is not None:
            self._device.value = bool(v)
        return 1 if self._device.value else 0

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()


class GpiozeroBoard:
    """Pins by part name from a validated pin map; closes its devices on ``close()``.

    ``clock``'s monotonic time is the board's tick source (``ticks_ms``)."""

    def __init__(self, pin_map: dict[str, Any], pin_factory: Any = None, clock: Clock = SYSTEM):
        self.kind, self._specs = parse_pin_map(pin_map)
        self._factory = pin_factory
        self._devices: list[DigitalInputDevice | DigitalOutputDevice] = []
        self._clock = clock
        self._origin = clock.monotonic()

    def pin_in(self, name: str) -> _Input:
        spec = self._spec(name, want_input=True)
        pull_up = None if spec.pull is None else spec.pull == "up"
        active_state = (not spec.active_low) if pull_up is None else None
        device = DigitalInputDevice(
            spec.gpio, pull_up=pull_up, active_state=active_state, pin_factory=self._factory
        )
        self._devices.append(device)
        if name == "fire_loop" and self._factory is None:
            _model_intact_loop(device)
        return _Input(device)

    def pin_out(self, name: str) -> _Output:
        spec = self._spec(name, want_input=False)
        device = DigitalOutputDevice(
            spec.gpio,
            active_high=not spec.active_low,
            initial_value=False,
            pin_factory=self._factory,
        )
        self._devices.append(device)
        return _Output(device)

    def ticks_ms(self) -> int:
        """Milliseconds since the board was made, wrapping like MicroPython's ticks."""
        return ticks_add(0, int((self._clock.monotonic() - self._origin) * 1000))

    def close(self) -> None:
        for device in self._devices:
            device.close()
        self._devices.clear()

    def _spec(self, name: str, *, want_input: bool) -> PinSpec:
        if name not in self._specs:
            raise KeyError(f"pin map for {self.kind} has no part {name}")
        if (name in INPUTS[self.kind]) != want_input:
            raise KeyError(f"{name} is not an {'input' if want_input else 'output'}")
        return self._specs[name]


def _model_intact_loop(device: DigitalInputDevice) -> None:
    """On the environment's mock factory (the simulated board), drive the fire-loop pin to
    the level that reads as intact (active), whatever its polarity or pull."""
    pin = device.pin
    if not isinstance(device.pin_factory, MockFactory) or not isinstance(pin, MockPin):
        return
    pin.drive_high()
    if not device.value:
        pin.drive_low()
