"""What a root-signed ``config`` document may set on a gate, and the range of each value.

One place for these rules: a gate checks a config document with them before applying it
(gate_node/config.py, gate_node/face/settings.py), and the cloud checks a manager's per-site
gate settings with them before signing (cloud/services/gate_settings.py), so the cloud never
publishes a document its gates would refuse. Never: read a file, a clock or a database.

``check_settings`` refuses the first bad value with ``GateSettingError``, whose ``field`` is
the setting's dotted name (``slot_grace_after``, ``face.max_distance``) and whose message says
the allowed range. Where the face figures come from: gate_node/face/settings.py.

On the wire: signed documents are strict CBOR, which carries no floats (keys/cbor_strict.py:
one value, one encoding), so the face figures that are fractions (``MILLI``) travel in a config
document as integer thousandths (``max_distance`` 0.42 is 420). ``to_document`` and
``from_document`` convert; the rules above always see the figures themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keys.errors import KeysError

# What a signed config document from the cloud may change; wiring and identity stay local.
CLOUD_SETTINGS = frozenset(
    {
        "timezone",
        "slot_grace_before",
        "slot_grace_after",
        "min_gap_minutes",
        "exit_requires_entry",
        "real_name_check",
        "zone",
        "direction",
        "face",
    }
)
REAL_NAME_CHECKS = ("none", "id_card", "face")
DIRECTIONS = ("in", "out")
LIVENESS_MODES = ("blink", "off")
MAX_KEEP_DAYS = 30


class GateSettingError(KeysError, ValueError):
    """A setting a gate would refuse; ``field`` names it, ``allowed`` says what it may be in
    words any language can quote (``0.2-0.8``, ``blink, off``), the message says both."""

    def __init__(self, field: str, message: str, allowed: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.allowed = allowed


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _between(kind: Callable[[object], bool], low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: kind(value) and low <= value <= high


# field -> (is it allowed, what it must be); checked in this order
FACE_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_distance": (_between(_number, 0.2, 0.8), "0.2-0.8"),
    "frames": (_between(_whole, 1, 30), "1-30"),
    "min_face_px": (_between(_whole, 40, 1000), "40-1000"),
    "detect_scale": (_between(_number, 0.25, 1.0), "0.25-1.0"),
    "min_score": (_between(_number, -1.0, 2.0), "-1.0-2.0"),
    "liveness": (lambda v: v in LIVENESS_MODES, ", ".join(LIVENESS_MODES)),
    "blink_ratio": (_between(_number, 0.3, 0.95), "0.3-0.95"),
    "check_timeout_s": (_between(_number, 1.0, 30.0), "1-30"),
    "keep_images_days": (_between(_whole, 0, MAX_KEEP_DAYS), f"0-{MAX_KEEP_DAYS}"),
}


def check_face(face: Mapping[str, Any]) -> None:
    """A ``face`` mapping: only known settings, each in range (absent ones take defaults)."""
    unknown = sorted(set(face) - set(FACE_RULES))
    if unknown:
        raise GateSettingError(
            f"face.{unknown[0]}",
            f"unknown face setting(s): {', '.join(unknown)}",
            ", ".join(FACE_RULES),
        )
    for name, (allowed, what) in FACE_RULES.items():
        if name in face and not allowed(face[name]):
            raise GateSettingError(f"face.{name}", f"face.{name} must be {what}", what)


def _timezone(value: object) -> bool:
    try:
        ZoneInfo(value)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "timezone": (_timezone, "an IANA time zone, e.g. Asia/Shanghai"),
    "slot_grace_before": (_between(_whole, 0, 1440), "0-1440 (min)"),
    "slot_grace_after": (_between(_whole, 0, 1440), "0-1440 (min)"),
    "min_gap_minutes": (_between(_whole, 0, 1440), "0-1440 (min)"),
    "exit_requires_entry": (lambda v: isinstance(v, bool), "true, false"),
    "real_name_check": (lambda v: v in REAL_NAME_CHECKS, ", ".join(REAL_NAME_CHECKS)),
    "zone": (_between(_whole, 0, 65535), "0-65535"),
    "direction": (lambda v: v in DIRECTIONS, ", ".join(DIRECTIONS)),
}


def check_settings(settings: Mapping[str, Any]) -> None:
    """Settings a config document carries: only ``CLOUD_SETTINGS``, each value in range."""
    unknown = sorted(set(settings) - CLOUD_SETTINGS)
    if unknown:
        names = ", ".join(sorted(CLOUD_SETTINGS))
        raise GateSettingError(unknown[0], f"a config document may set only {names}", names)
    for name, (allowed, what) in RULES.items():
        if name in settings and not allowed(settings[name]):
            raise GateSettingError(name, f"{name} must be {what}", what)
    if "face" in settings:
        face = settings["face"]
        if not isinstance(face, Mapping):
            raise GateSettingError("face", "face must be a mapping of face settings", "{...}")
        check_face(face)


MILLI = ("max_distance", "detect_scale", "min_score", "blink_ratio", "check_timeout_s")


def to_document(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as a config document carries them: face fractions in thousandths."""
    out = dict(settings)
    face = out.get("face")
    if isinstance(face, Mapping):
        out["face"] = {
            k: round(v * 1000) if k in MILLI and _number(v) else v for k, v in face.items()
        }
    return out


def from_document(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A config document's settings with face thousandths back as fractions (anything else is
    left for ``check_settings`` to refuse)."""
    out = dict(settings)
    face = out.get("face")
    if isinstance(face, Mapping):
        out["face"] = {k: v / 1000 if k in MILLI and _whole(v) else v for k, v in face.items()}
    return out
