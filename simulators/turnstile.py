"""A simulated tripod turnstile mechanism on gpiozero mock pins: the hardware side of a lane.

It watches the unlock relay outputs the node drives and, when a direction is released and a
visitor is waiting to go that way, turns the arm: after ``walk_ms`` the rotation-complete
switch closes for ``pulse_ms``, as the microswitch on a real tripod does. Visitors who push a
locked arm can be simulated too (forced rotation). The node under test never knows: it sees
only its pins, exactly as on a real lane.
"""

from __future__ import annotations

from typing import Any

from gate_node.pin_map import PinSpec, parse_pin_map


class SimulatedTripod:
    def __init__(
        self, factory: Any, pin_map: dict[str, Any], walk_ms: int = 400, pulse_ms: int = 80
    ) -> None:
        _, self._specs = parse_pin_map(pin_map)
        self._factory = factory
        self.walk_ms = walk_ms
        self.pulse_ms = pulse_ms
        self.waiting = {"in": 0, "out": 0}
        self.rotations = {"in": 0, "out": 0}
        self._turning: dict[str, int] = {}  # direction -> ms into the current turn

    def _pin(self, name: str) -> Any:
        return self._factory.pin(self._specs[name].gpio)

    def _active(self, name: str) -> bool:
        spec: PinSpec = self._specs[name]
        return bool(self._pin(name).state) != spec.active_low

    def _drive(self, name: str, active: bool) -> None:
        spec = self._specs[name]
        level = active != spec.active_low
        pin = self._pin(name)
        pin.drive_high() if level else pin.drive_low()

    def step(self, elapsed_ms: int) -> None:
        """Advance the mechanism by ``elapsed_ms`` (call it with the node's tick)."""
        for direction in ("in", "out"):
            relay, switch = f"unlock_{direction}", f"rotation_{direction}"
            if direction not in self._turning:
                if self.waiting[direction] and self._active(relay):
                    self._turning[direction] = 0
                continue
            self._turning[direction] += elapsed_ms
            into = self._turning[direction]
            if self.walk_ms <= into < self.walk_ms + self.pulse_ms:
                self._drive(switch, True)
            elif into >= self.walk_ms + self.pulse_ms:
                self._drive(switch, False)
                del self._turning[direction]
                self.waiting[direction] -= 1
                self.rotations[direction] += 1

    def force(self, direction: str = "in") -> None:
        """Someone shoves the arm round with no grant (the controller should raise an alarm)."""
        self._turning[direction] = 0
        self.waiting[direction] += 1
