"""Simulated gate mechanisms and the people who walk through them: the hardware side of a lane.

A mechanism watches what the node drives (unlock relays, flap motors) and drives what the node
reads (rotation switches, presence and anti-pinch beams, the fire loop), through ``Wires``:
parts by name, logical levels (1 = active), polarity handled by the wiring. Three kinds:

- ``TripodMechanism`` (三辊闸): a released arm turns when pushed; one 120-degree turn takes
  0.3-0.8 s (people differ), then the rotation switch closes for 80 ms. A locked arm shoved
  hard enough still turns (a broken or forced lock): that is a forced entry.
- ``FlapMechanism`` for wing (翼闸) and swing (摆闸) lanes: the flaps (or the leaf) travel open
  while a motor output is active and closed when it drops (wing 0.3 s / 0.6 s, swing 1.5 s /
  2 s, the firmware's defaults). Bodies move across the lane: the near presence beam, the
  flaps' sweep (anti-pinch beam), the far beam. A body waits at closed flaps. ``struck``
  counts any moment the flaps were more than half shut on a body in the sweep: it must stay 0.

People (``Visitor.behaviour``): ``walk`` (the usual), ``turn_back`` (steps up, then leaves
without passing), ``tailgate`` (a second adult close behind a granted one), ``child`` (too short
for the presence beams, seen only by the low anti-pinch beam; darts into the sweep as the flaps
close), ``force`` (pushes a locked arm, climbs closed flaps), ``linger`` (stops in the sweep
for two seconds). Fire: with the fire loop cut the lane opens and everyone walks out.

``step(elapsed_ms)`` advances the simulation; a ``MechanismThread`` calls it every 5 ms in real
time beside a node process (gate-sim, the HIL suite, the demo). Nothing here reads a clock.
"""

from __future__ import annotations

import random
import threading
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from gate_node.pin_map import PinSpec, parse_pin_map
from keys.clock import SYSTEM, Clock

BEHAVIOURS = ("walk", "turn_back", "tailgate", "child", "force", "linger")


class Wires(Protocol):
    """The lane's harness seen from the hardware: node outputs read, node inputs driven."""

    def active(self, part: str) -> bool: ...

    def set(self, part: str, active: bool) -> None: ...


class BankWires:
    """Wires over a shared pin bank (simulators/shared_pins.py) and the node's pin map."""

    def __init__(self, bank: Any, pin_map: dict[str, Any]) -> None:
        self.kind, self._specs = parse_pin_map(pin_map)
        self._bank = bank

    def active(self, part: str) -> bool:
        spec: PinSpec = self._specs[part]
        return bool(self._bank.output(spec.gpio)) != spec.active_low

    def set(self, part: str, active: bool) -> None:
        spec = self._specs[part]
        self._bank.drive(spec.gpio, active != spec.active_low)


class MockWires:
    """Wires over gpiozero's ``MockFactory`` pins (node and mechanism in one process) and the
    node's pin map."""

    def __init__(self, factory: Any, pin_map: dict[str, Any]) -> None:
        _, self._specs = parse_pin_map(pin_map)
        self._factory = factory

    def active(self, part: str) -> bool:
        spec = self._specs[part]
        return bool(self._factory.pin(spec.gpio).state) != spec.active_low

    def set(self, part: str, active: bool) -> None:
        spec = self._specs[part]
        pin = self._factory.pin(spec.gpio)
        pin.drive_high() if active != spec.active_low else pin.drive_low()


@dataclass
class Visitor:
    behaviour: str = "walk"
    direction: str = "in"
    patience_ms: int = 10_000  # how long someone waits at a closed lane before giving up


@dataclass
class _Body:
    visitor: Visitor
    x: float  # across the lane from the near side: 0 (near beam) .. 1 (past the far beam)
    speed: float  # lane widths per ms
    waited: int = 0
    paused: int = 0
    tall: bool = True
    counted_far: bool = False
    done: bool = False


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)

    def __call__(self, what: str) -> None:
        self.counts[what] += 1


class Mechanism(ABC):
    """What every simulated lane shares: a queue of visitors, a fire loop, counters. The
    tripod (TripodMechanism) and the flap/swing leaves (FlapMechanism) each say how their lane
    moves, in ``_step``, and when it has nobody in it, in ``_idle``."""

    def __init__(self, wires: Wires, seed: int = 1) -> None:
        self.wires = wires
        self.rng = random.Random(seed)
        self.queue: deque[Visitor] = deque()
        self.tally = _Tally()
        self.fire = False
        self.lock = threading.Lock()  # step() and the callers' arrive()/set_fire() alternate
        wires.set("fire_loop", True)  # a normally-closed loop, intact

    @property
    def counts(self) -> Counter[str]:
        return self.tally.counts

    def arrive(self, behaviour: str = "walk", direction: str = "in", count: int = 1) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}")
        with self.lock:
            for _ in range(count):
                self.queue.append(Visitor(behaviour, direction))

    def set_fire(self, alarm: bool) -> None:
        """Cut (alarm) or restore the fire loop."""
        with self.lock:
            self.fire = alarm
            self.wires.set("fire_loop", not alarm)

    def idle(self) -> bool:
        with self.lock:
            return not self.queue and self._idle()

    def step(self, elapsed_ms: int) -> None:
        with self.lock:
            self._step(elapsed_ms)

    @abstractmethod
    def _idle(self) -> bool:
        """Nobody is in the lane or moving it (the queue aside)."""

    @abstractmethod
    def _step(self, elapsed_ms: int) -> None:
        """Move the lane and its people on by ``elapsed_ms``, under the lock."""


class TripodMechanism(Mechanism):
    def __init__(
        self,
        wires: Wires,
        seed: int = 1,
        rotation_ms: tuple[int, int] = (300, 800),
        pulse_ms: int = 80,
    ) -> None:
        super().__init__(wires, seed)
        self.rotation_ms = rotation_ms
        self.pulse_ms = pulse_ms
        self._current: Visitor | None = None
        self._waited = 0
        self._released = {"in": False, "out": False}  # solenoid pulled in: one turn free
        self._turn: tuple[str, int, int] | None = None  # direction, ms into it, its length

    def _idle(self) -> bool:
        return self._current is None and self._turn is None

    def _step(self, elapsed_ms: int) -> None:
        for direction in ("in", "out"):
            if self.wires.active(f"unlock_{direction}"):
                self._released[direction] = True
        if self._turn is not None:
            self._turning(elapsed_ms)
            return
        if self._current is None:
            if not self.queue:
                return
            self._current, self._waited = self.queue.popleft(), 0
        visitor = self._current
        self._waited += elapsed_ms
        free = self._released[visitor.direction] or self.fire
        if visitor.behaviour == "force" or (free and visitor.behaviour != "turn_back"):
            self._turn = (visitor.direction, 0, self.rng.randint(*self.rotation_ms))
            if not free:
                self.tally("forced")
        elif self._waited >= (1000 if visitor.behaviour == "turn_back" else visitor.patience_ms):
            self.tally("turned_back" if visitor.behaviour == "turn_back" else "gave_up")
            self._current = None

    def _turning(self, elapsed_ms: int) -> None:
        assert self._turn is not None
        direction, into, length = self._turn
        into += elapsed_ms
        switch = f"rotation_{direction}"
        if length <= into < length + self.pulse_ms:
            self.wires.set(switch, True)
            self._turn = (direction, into, length)
            return
        if into < length:
            self._turn = (direction, into, length)
            return
        self.wires.set(switch, False)
        self._turn = None
        self._released[direction] = False
        self._current = None
        self.tally(f"passed_{direction}")


# Where the beams are, as fractions of the lane's length from the near side.
_NEAR = (0.0, 0.35)
_SWEEP = (0.3, 0.7)
_FAR = (0.65, 1.0)
_STOP = 0.28  # where someone stands at closed flaps
_SPACING = 0.45  # the closest one adult follows another (about half a metre)


class FlapMechanism(Mechanism):
    """Wing (``kind="wing"``) or swing (``kind="swing"``) lane."""

    # open_ms, close_ms: the firmware defaults (wing.py, swing.py)
    TIMINGS: ClassVar[dict[str, tuple[int, int]]] = {"wing": (300, 600), "swing": (1500, 2000)}

    def __init__(self, wires: Wires, kind: str = "wing", seed: int = 1, crossing_ms: int = 1200):
        super().__init__(wires, seed)
        self.kind = kind
        self.open_ms, self.close_ms = self.TIMINGS[kind]
        self.crossing_ms = crossing_ms  # an adult crosses the lane's length in about 1.2 s
        self.position = 0.0  # flaps: 0 closed .. 1 open
        self.bodies: list[_Body] = []
        self._gap_ms = 0
        self.struck = 0
        self._was_striking = False
        if kind == "swing":
            wires.set("override", False)

    def set_override(self, on: bool) -> None:
        """The staff key switch of a swing gate."""
        with self.lock:
            self.wires.set("override", on)

    def _idle(self) -> bool:
        return not self.bodies

    def _step(self, elapsed_ms: int) -> None:
        self._move_flaps(elapsed_ms)
        self._admit_next(elapsed_ms)
        for body in self.bodies:
            self._move(body, elapsed_ms)
        self.bodies = [b for b in self.bodies if not b.done]
        self._sense()

    def _move_flaps(self, elapsed_ms: int) -> None:
        opening = self.wires.active("open_in") or self.wires.active("open_out")
        if opening:
            self.position = min(1.0, self.position + elapsed_ms / self.open_ms)
        else:
            self.position = max(0.0, self.position - elapsed_ms / self.close_ms)
        striking = (
            self.position < 0.5
            and not opening
            and any(_SWEEP[0] <= b.x <= _SWEEP[1] for b in self.bodies)
        )
        if striking and not self._was_striking:
            self.struck += 1
        self._was_striking = striking

    def _admit_next(self, elapsed_ms: int) -> None:
        """The next person steps up once the one before is clear of the near beam."""
        self._gap_ms = max(0, self._gap_ms - elapsed_ms)
        # Clear of the near beam by a step, so the beam sees two bodies, not one long one.
        if not self.queue or self._gap_ms or any(b.x < _NEAR[1] + 0.1 for b in self.bodies):
            return
        visitor = self.queue.popleft()
        speed = 1.0 / self.crossing_ms
        if visitor.behaviour == "tailgate":
            # The granted adult, and one more right behind: their own body, half a second later.
            self.bodies.append(_Body(Visitor("walk", visitor.direction), 0.0, speed))
            self.bodies.append(_Body(Visitor("walk", visitor.direction), -0.45, speed))
            return
        if visitor.behaviour == "child":
            # Waits hidden below the presence beams until the flaps start closing, then darts in.
            self.bodies.append(_Body(visitor, 0.1, 2.5 * speed, tall=False))
            return
        self.bodies.append(_Body(visitor, 0.0, speed))
        self._gap_ms = 150

    def _move(self, body: _Body, elapsed_ms: int) -> None:
        behaviour = body.visitor.behaviour
        if body.paused > 0:
            body.paused -= elapsed_ms
            return
        if behaviour == "turn_back":
            body.waited += elapsed_ms
            if body.waited >= 1000:
                body.x -= body.speed * elapsed_ms
                if body.x < 0:
                    body.done = True
                    self.tally("turned_back")
            else:
                body.x = min(_STOP - 0.05, body.x + body.speed * elapsed_ms)
            return
        if behaviour == "child" and body.x < _SWEEP[0]:
            closing = not (self.wires.active("open_in") or self.wires.active("open_out"))
            if not (closing and 0.2 < self.position < 0.95):
                body.waited += elapsed_ms
                if body.waited > body.visitor.patience_ms:
                    body.done = True
                    self.tally("gave_up")
                return
        step = body.speed * elapsed_ms
        ahead = self._ahead(body)
        if ahead is not None and body.tall and body.x + step > ahead.x - _SPACING:
            step = max(0.0, ahead.x - _SPACING - body.x)  # nobody walks through the one ahead
        at_flaps = body.x <= _STOP < body.x + step
        flaps_shut = self.position < 0.9 and not self.fire
        if at_flaps and flaps_shut and behaviour not in ("force", "child"):
            body.x = _STOP
            body.waited += elapsed_ms
            if body.waited > body.visitor.patience_ms:
                body.visitor.behaviour = "turn_back"
                body.waited = 1000
                self.tally("gave_up")
            return
        if at_flaps and flaps_shut and behaviour == "force":
            self.tally("forced")
        before = body.x
        body.x += step
        if behaviour == "linger" and before < 0.5 <= body.x:
            body.paused = 2000
        if body.x > 1.0:
            body.done = True
            self.tally(f"passed_{body.visitor.direction}")

    def _ahead(self, body: _Body) -> _Body | None:
        """The nearest tall body in front of ``body`` going the same way."""
        ahead = [
            b
            for b in self.bodies
            if b is not body
            and b.tall
            and not b.done
            and b.x > body.x
            and b.visitor.direction == body.visitor.direction
        ]
        return min(ahead, key=lambda b: b.x) if ahead else None

    def _sense(self) -> None:
        near, far = ("sensor_a", "sensor_b")
        counts = {near: False, far: False, "pinch": False}
        for body in self.bodies:
            if body.tall and _NEAR[0] <= body.x <= _NEAR[1]:
                counts[near if body.visitor.direction == "in" else far] = True
            if _SWEEP[0] <= body.x <= _SWEEP[1]:
                counts["pinch"] = True
            if body.tall and _FAR[0] <= body.x <= _FAR[1]:
                counts[far if body.visitor.direction == "in" else near] = True
        for part, on in counts.items():
            self.wires.set(part, on)


def make_mechanism(kind: str, wires: Wires, seed: int = 1) -> Mechanism:
    if kind == "tripod":
        return TripodMechanism(wires, seed)
    if kind in FlapMechanism.TIMINGS:
        return FlapMechanism(wires, kind, seed)
    raise ValueError(f"no simulated mechanism for {kind!r} (tripod, wing, swing)")


class MechanismThread:
    """Steps a mechanism every ``tick_ms`` of real time until ``stop()``; ``on_step`` runs
    after each step (a status line, a visitor generator)."""

    def __init__(
        self,
        mechanism: Mechanism,
        tick_ms: int = 5,
        clock: Clock = SYSTEM,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.mechanism = mechanism
        self.tick_ms = tick_ms
        self.clock = clock
        self.on_step = on_step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mechanism", daemon=True)

    def start(self) -> MechanismThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        last = self.clock.monotonic()
        while not self._stop.wait(self.tick_ms / 1000):
            now = self.clock.monotonic()
            self.mechanism.step(max(1, round((now - last) * 1000)))
            last = now
            if self.on_step:
                self.on_step()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
