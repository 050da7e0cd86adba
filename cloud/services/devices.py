"""The gate node registry: which node of which site holds which identity key.

Never: register a node twice (one key per node; a replaced Pi gets its node revoked first), or
store anything but the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import Device
from keys import topics

DEVICE_KINDS = ("tripod", "wing", "swing", "handheld")  # the gate kinds of gate_node/state.py


def check_kind(kind: str) -> None:
    """Refuse a gate kind the node software does not know (422 ``bad_device_kind``)."""
    if kind not in DEVICE_KINDS:
        raise Problem(Code.BAD_DEVICE_KIND, kinds=", ".join(DEVICE_KINDS))


def check_ids(site: str, node: str) -> None:
    """Refuse a site or node id that cannot be an MQTT topic level, or a node id that is the
    cloud's or a bridge's broker username (422 ``bad_node_id``; keys/topics.py)."""
    if not (topics.valid_name(site) and topics.valid_node(node)):
        raise Problem(Code.BAD_NODE_ID)


def register_device(
    session: Session, site: str, node: str, kind: str, zone: int, public_key: bytes
) -> Device:
    """Register node ``node`` of ``site`` with its raw public key; 409 ``duplicate_device`` if
    that node is registered already."""
    check_kind(kind)
    check_ids(site, node)
    device = Device(site=site, node=node, kind=kind, zone=zone, public_key=public_key)
    session.add(device)
    try:
        session.flush()
    except IntegrityError:
        raise Problem(Code.DUPLICATE_DEVICE, site=site, node=node) from None
    return device
