"""A node's configuration: what each field may hold, and what the cloud may change of it.

Never: read or write files (gate_node/state.py keeps the state directory; provisioning/ makes
one). ``validate_config`` checks a configuration document field by field and names the field
an installer got wrong; ``with_settings`` lays a root-signed config document's settings over
the local configuration (only ``CLOUD_SETTINGS``: wiring and identity stay local);
``face_key_of`` reads the cloud's face key the same document publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gate_node.decision.engine import LaneContext, SiteRules
from gate_node.face.settings import FaceSettings
from gate_node.pin_map import DEFAULT_PIN_MAPS, PinMapError, parse_pin_map
from keys import topics
from keys.gate_settings import CLOUD_SETTINGS, GateSettingError, from_document
from keys.gate_settings import check_settings as check_cloud_settings
from keys.rules import SlotGrace
from keys.signed_document import DocumentError, SignedDocument

KINDS = ("tripod", "wing", "swing", "handheld")
# What a signed config document may change (CLOUD_SETTINGS; wiring and identity stay local) and
# the range of each value are keys/gate_settings.py's: the cloud checks with the same rules.


class NodeStateError(Exception):
    """The state directory cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class NodeConfig:
    site: str
    node: str
    kind: str
    zone: int
    direction: str = "in"
    timezone: str = "Asia/Shanghai"
    slot_grace_before: int = 15
    slot_grace_after: int = 30
    min_gap_minutes: int = 0
    exit_requires_entry: bool = False
    real_name_check: str = "none"
    camera: str | None = None
    face_camera: str | None = None  # the camera at face height of a face lane (frames.py spec)
    pin_map: dict[str, Any] | None = None
    readers: tuple[dict[str, Any], ...] = ()
    broker: dict[str, Any] | None = None  # {host, port, username, tls_*}; password in a file
    face: dict[str, Any] | None = None  # the site's face thresholds (gate_node/face/settings.py)

    def face_settings(self) -> FaceSettings:
        return FaceSettings.from_config(self.face)

    def rules(self) -> SiteRules:
        return SiteRules(
            timezone=ZoneInfo(self.timezone),
            slot_grace=SlotGrace(self.slot_grace_before, self.slot_grace_after),
            min_gap=timedelta(minutes=self.min_gap_minutes),
            exit_requires_entry=self.exit_requires_entry,
            real_name_check=self.real_name_check,
        )

    def lane(self) -> LaneContext:
        return LaneContext(self.node, self.zone, self.direction)


def validate_config(doc: dict[str, Any]) -> NodeConfig:
    """Check a configuration document field by field; ``NodeStateError`` names the field."""
    allowed = set(NodeConfig.__dataclass_fields__)
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise NodeStateError(f"unknown configuration field(s): {', '.join(unknown)}")
    # Each is a level of the node's MQTT topics, and the node is its broker username too.
    if not topics.valid_name(doc.get("site")):
        raise NodeStateError("site must be 1-32 letters, digits, - or _")
    if not topics.valid_node(doc.get("node")):
        raise NodeStateError("node must be 1-32 letters, digits, - or _, not cloud or site-...")
    if doc.get("kind") not in KINDS:
        raise NodeStateError(f"kind must be one of {', '.join(KINDS)}")
    if "zone" not in doc:
        raise NodeStateError("zone must be a zone id 0-65535")
    try:  # the settings the cloud may also set, by the rules it checks them with
        cloud_set = {k: v for k, v in doc.items() if k in CLOUD_SETTINGS}
        if cloud_set.get("face", {}) is None:  # no face settings: the defaults
            del cloud_set["face"]
        check_cloud_settings(cloud_set)
    except GateSettingError as exc:
        raise NodeStateError(str(exc)) from None
    readers = doc.get("readers") or ()
    if not isinstance(readers, (list, tuple)):
        raise NodeStateError("readers must be a list of {url, kind[, baudrate]}")
    for reader in readers:
        if (
            not isinstance(reader, dict)
            or set(reader) - {"url", "kind", "baudrate"}
            or not isinstance(reader.get("url"), str)
            or reader.get("kind") not in ("qr", "id_card", "rfid")
            or not isinstance(reader.get("baudrate", 9600), int)
        ):
            raise NodeStateError(f"reader {reader!r}: needs url, kind qr|id_card|rfid, baudrate")
    doc = {**doc, "readers": tuple(readers)}
    broker = doc.get("broker")
    if broker is not None and (
        not isinstance(broker, dict)
        or set(broker) - {"host", "port", "username", "tls_ca", "tls_cert", "tls_key", "resend_s"}
        or not isinstance(broker.get("host"), str)
        or not isinstance(broker.get("port", 1883), int)
    ):
        raise NodeStateError(
            "broker must be {host, port[, username, tls_ca, tls_cert, tls_key, resend_s]}"
        )
    if doc["kind"] != "handheld":
        try:
            kind, _ = parse_pin_map(doc.get("pin_map") or DEFAULT_PIN_MAPS[doc["kind"]])
        except PinMapError as exc:
            raise NodeStateError(f"pin map: {exc}") from None
        if kind != doc["kind"]:
            raise NodeStateError(f"pin map is for a {kind}, this node is a {doc['kind']}")
    return NodeConfig(**doc)


def with_settings(config: NodeConfig, document: SignedDocument) -> NodeConfig:
    """``config`` with the settings of a root-signed config document over it
    (``DocumentError`` ``malformed`` if it sets anything else or an invalid value)."""
    body = document.body if isinstance(document.body, dict) else {}
    settings = body.get("settings", {})
    if not isinstance(settings, dict) or set(settings) - CLOUD_SETTINGS:
        raise DocumentError("malformed", f"config may set only {sorted(CLOUD_SETTINGS)}")
    settings = from_document(settings)  # face fractions travel as thousandths (no CBOR floats)
    try:
        return validate_config({**config_doc(config), **settings})
    except NodeStateError as exc:
        raise DocumentError("malformed", str(exc)) from None


def face_key_of(document: SignedDocument) -> bytes | None:
    """The cloud's face key (X25519, 32 raw bytes) a root-signed config publishes beside its
    settings, or None if it names none (``DocumentError`` ``malformed`` if not 32 bytes)."""
    body = document.body if isinstance(document.body, dict) else {}
    key = body.get("face_key")
    if key is not None and (not isinstance(key, bytes) or len(key) != 32):
        raise DocumentError("malformed", "face_key must be 32 bytes (an X25519 public key)")
    return key


def config_doc(config: NodeConfig) -> dict[str, Any]:
    doc = dict(config.__dict__)
    doc["readers"] = list(config.readers)
    if doc["pin_map"] is None and config.kind in DEFAULT_PIN_MAPS:
        doc["pin_map"] = DEFAULT_PIN_MAPS[config.kind]
    return doc


def parse_salt(raw: bytes) -> bytes:
    """A holder salt from its file's text (hex, at least 16 bytes)."""
    try:
        salt = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise NodeStateError("holder.salt must hold hexadecimal digits") from None
    if len(salt) < 16:
        raise NodeStateError("holder.salt must hold at least 16 bytes")
    return salt
