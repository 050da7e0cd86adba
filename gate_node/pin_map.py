"""Pin maps: which Raspberry Pi GPIO drives or reads each named part of a gate, and how.

A pin map is part of the node's configuration (a TinyDB document an installer can read)::

    {"kind": "tripod", "pins": {"unlock_in": {"gpio": 17, "active_low": false}, ...}}

Each entry: ``gpio`` (BCM number 2-27), ``active_low`` (default false: the relay board, sensor
or switch is active when the line is high), and for inputs optionally ``pull`` ("up", "down";
default none: gate I/O boards usually have opto-isolated inputs with their own pull). With a
pull, polarity follows it (pull-up means active low), as gpiozero requires.

``DEFAULT_PIN_MAPS`` are the wirings of the reference harness (README "Wiring"); a site with
another harness gives its own map, checked here: every part the gate kind needs, no GPIO used
twice, no unknown part names. ``PinMapError`` says which entry is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INPUTS = {
    "tripod": ("rotation_in", "rotation_out", "fire_loop"),
    "wing": ("sensor_a", "sensor_b", "pinch", "fire_loop"),
    "swing": ("sensor_a", "sensor_b", "pinch", "override", "fire_loop"),
}
OUTPUTS = {
    "tripod": ("unlock_in", "unlock_out", "green", "red", "buzzer"),
    "wing": ("open_in", "open_out", "green", "red", "buzzer"),
    "swing": ("open_in", "open_out", "green", "red", "buzzer"),
}
KINDS = tuple(INPUTS)
_VALID_GPIO = range(2, 28)


class PinMapError(ValueError):
    """The pin map cannot drive this gate; the message names the entry."""


@dataclass(frozen=True)
class PinSpec:
    gpio: int
    active_low: bool = False
    pull: str | None = None


def _entry(gpio: int, active_low: bool = False, pull: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"gpio": gpio, "active_low": active_low}
    if pull:
        entry["pull"] = pull
    return entry


# The reference harness: relay board on 17/27/22/23/24 (active low, as most relay modules),
# opto-isolated inputs on 5/6/13/19/26 (active high), fire loop on 21 (NC, high when intact).
DEFAULT_PIN_MAPS: dict[str, dict[str, Any]] = {
    "tripod": {
        "kind": "tripod",
        "pins": {
            "unlock_in": _entry(17, True),
            "unlock_out": _entry(27, True),
            "green": _entry(22, True),
            "red": _entry(23, True),
            "buzzer": _entry(24, True),
            "rotation_in": _entry(5),
            "rotation_out": _entry(6),
            "fire_loop": _entry(21),
        },
    },
    "wing": {
        "kind": "wing",
        "pins": {
            "open_in": _entry(17, True),
            "open_out": _entry(27, True),
            "green": _entry(22, True),
            "red": _entry(23, True),
            "buzzer": _entry(24, True),
            "sensor_a": _entry(5),
            "sensor_b": _entry(6),
            "pinch": _entry(13),
            "fire_loop": _entry(21),
        },
    },
}
# The swing gate is wired like the wing barrier, plus the staff key switch (to ground).
DEFAULT_PIN_MAPS["swing"] = {
    "kind": "swing",
    "pins": {**DEFAULT_PIN_MAPS["wing"]["pins"], "override": _entry(19, True, "up")},
}


def parse_pin_map(doc: object) -> tuple[str, dict[str, PinSpec]]:
    """Validate a pin-map document; return the gate kind and the specs by part name."""
    if not isinstance(doc, dict):
        raise PinMapError("pin map must be an object with kind and pins")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise PinMapError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    pins = doc.get("pins")
    if not isinstance(pins, dict):
        raise PinMapError("pins must be an object of part name -> {gpio, active_low}")
    needed = set(INPUTS[kind]) | set(OUTPUTS[kind])
    missing = sorted(needed - set(pins))
    unknown = sorted(set(pins) - needed)
    if missing:
        raise PinMapError(f"{kind} needs pins for: {', '.join(missing)}")
    if unknown:
        raise PinMapError(f"{kind} has no part named: {', '.join(unknown)}")
    specs = {name: _spec(name, entry, name in INPUTS[kind]) for name, entry in pins.items()}
    used: dict[int, str] = {}
    for name, spec in specs.items():
        if spec.gpio in used:
            raise PinMapError(f"GPIO {spec.gpio} is used by both {used[spec.gpio]} and {name}")
        used[spec.gpio] = name
    return kind, specs


def _spec(name: str, entry: object, is_input: bool) -> PinSpec:
    if not isinstance(entry, dict) or set(entry) - {"gpio", "active_low", "pull"}:
        raise PinMapError(f"{name}: entry must be {{gpio, active_low[, pull]}}")
    gpio, active_low, pull = entry.get("gpio"), entry.get("active_low", False), entry.get("pull")
    if not isinstance(gpio, int) or isinstance(gpio, bool) or gpio not in _VALID_GPIO:
        raise PinMapError(f"{name}: gpio must be a BCM number 2-27, got {gpio!r}")
    if not isinstance(active_low, bool):
        raise PinMapError(f"{name}: active_low must be true or false")
    if pull not in (None, "up", "down"):
        raise PinMapError(f"{name}: pull must be up, down or absent")
    if pull and not is_input:
        raise PinMapError(f"{name}: only inputs take a pull")
    if pull and active_low != (pull == "up"):
        level = "low" if pull == "up" else "high"
        raise PinMapError(f"{name}: with pull {pull} the input is active {level}")
    return PinSpec(gpio, active_low, pull)
