"""Enrolment: one-time tokens, a Pi becoming a gate position, and a gate retired.

Never: keep a token or a broker password in clear (a token is stored as its SHA-256, a broker
password only in Mosquitto), let one token enrol two keys, or hand a gate anything it applies
that the root key has not signed.

A token names the gate position (site, node, kind, zone, direction), lives
``ProvisioningSettings.token_minutes`` and is consumed by one conditional UPDATE: two Pis
racing with one token cannot both win. The Pi that won may ask again with the same key (an
enrolment cut off half way resumes: the bundle is signed again and the broker password made
again), any other key is refused ``enrolment_token_used``. Failed attempts count against the
caller's address (services/login_throttle.py, scope ``enrol``).

The bundle: the root public key and fingerprint, then root-signed documents only: the
``enrolment`` document (this node's identity, position, broker endpoint, and the public key it
sent, so a bundle is useless to any other key), the site's ``config`` (time zone, holder salt),
the keyring, the node registry, the revocation snapshot and card index if the site has them.
The broker password travels beside them unsigned: changing it in transit only breaks the login.

Replacing a Pi at the same position keeps the node id, so its history stays; the old key is
kept as ``replaced`` in ``device_keys``. Decommissioning (by the node, signed with its key, or
by a manager) revokes the key (its later events are refused by ingest), removes the broker
login and re-signs the node registry.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.core.config import ProvisioningSettings
from cloud.core.errors import Code, Problem
from cloud.core.security import token_hash
from cloud.models import Device, DeviceKey, EnrolmentToken, Site
from cloud.models.base import as_utc
from cloud.mqtt.broker_logins import BrokerLoginError, BrokerLogins, client_id
from cloud.services import downlink_documents as documents
from cloud.services import gate_settings, login_throttle
from cloud.services.audit import audit
from cloud.services.devices import check_ids, check_kind, register_device
from keys import keystore
from keys.cose import Signer
from keys.keyring import IssuerKey
from keys.signed_document import sign_document

DOC_ENROLMENT = "enrolment"
DIRECTIONS = ("in", "out")
DECOMMISSION_CONTEXT = b"scenic-decommission/1\x00"


def decommission_message(site: str, node: str) -> bytes:
    """What a node signs to retire itself (keys/keystore.py's Ed25519)."""
    return DECOMMISSION_CONTEXT + f"{site}\x00{node}".encode()


@dataclass(frozen=True)
class NewToken:
    token: str
    site: str
    node: str
    expires_at: datetime


def new_token_text() -> str:
    """24 characters of base32 (120 bits): QR alphanumeric mode, readable over a phone."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii")


def create_token(
    session: Session,
    settings: ProvisioningSettings,
    *,
    site: str,
    node: str,
    kind: str,
    zone: int,
    direction: str,
    actor: str,
    source: str,
    now: datetime,
) -> NewToken:
    """A one-time token for gate position ``site``/``node``; 429 ``too_many_tokens`` when the
    site already has ``settings.open_tokens_per_site`` unused, unexpired ones."""
    check_kind(kind)
    check_ids(site, node)
    if direction not in DIRECTIONS:
        raise Problem(Code.BAD_DIRECTION)
    if session.get(Site, site) is None:
        raise Problem(Code.UNKNOWN_SITE, site=site)
    still_open = session.scalar(
        select(func.count())
        .select_from(EnrolmentToken)
        .where(
            EnrolmentToken.site == site,
            EnrolmentToken.used_at.is_(None),
            EnrolmentToken.expires_at > now,
        )
    )
    if (still_open or 0) >= settings.open_tokens_per_site:
        raise Problem(Code.TOO_MANY_TOKENS, most=settings.open_tokens_per_site)
    text = new_token_text()
    expires = now + timedelta(minutes=settings.token_minutes)
    session.add(
        EnrolmentToken(
            token_hash=token_hash(text),
            site=site,
            node=node,
            kind=kind,
            zone=zone,
            direction=direction,
            created_by=actor[:64],
            created_at=now,
            expires_at=expires,
        )
    )
    audit(
        session,
        actor,
        source,
        "enrolment_token_created",
        f"{site}/{node}",
        {"kind": kind, "zone": zone, "expires_at": expires.isoformat()},
        at=now,
    )
    return NewToken(text, site, node, expires)


@dataclass(frozen=True)
class Enrolling:
    """What ``enrol`` needs of the cloud beside the database."""

    root: keystore.SigningKey
    issuers: list[IssuerKey]
    holder_salt: bytes
    settings: ProvisioningSettings
    broker_host: str
    broker_port: int
    logins: BrokerLogins | None
    face_key: bytes | None = None  # the X25519 public key gates seal face bindings to (raw)


def enrol(
    sessions: sessionmaker[Session],
    cloud: Enrolling,
    *,
    token: str,
    public_key: bytes,
    software_version: str | None,
    source: str,
    now: datetime,
) -> dict[str, Any]:
    """Take ``token`` and the node's raw Ed25519 ``public_key``; the bundle (module doc).

    Three transactions: count the attempt against ``source`` (429 once locked), enrol, and on
    success take the count back, as a correct password does."""
    subjects = {"enrol": source}
    with sessions.begin() as db:
        locked = login_throttle.admit(db, subjects, now)
    if locked:
        wait = login_throttle.wait_seconds(locked, now)
        raise Problem(Code.TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)}, retry_after=wait)
    with sessions.begin() as db:
        bundle = _enrol(db, cloud, token, public_key, software_version, source, now)
    with sessions.begin() as db:
        login_throttle.succeeded(db, subjects, now)
    return bundle


def _enrol(
    db: Session,
    cloud: Enrolling,
    token: str,
    public_key: bytes,
    software_version: str | None,
    source: str,
    now: datetime,
) -> dict[str, Any]:
    try:
        node_key = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        raise Problem(Code.BAD_NODE_KEY) from None
    row = db.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == token_hash(token)))
    if row is None:
        raise Problem(Code.BAD_ENROLMENT_TOKEN)
    resumed = row.used_at is not None and row.used_key == public_key
    if not resumed:
        taken = db.execute(
            update(EnrolmentToken)
            .where(
                EnrolmentToken.id == row.id,
                EnrolmentToken.used_at.is_(None),
                EnrolmentToken.expires_at > now,
            )
            .values(used_at=now, used_key=public_key)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            db.refresh(row)
            if row.used_at is not None:
                raise Problem(Code.ENROLMENT_TOKEN_USED)
            raise Problem(Code.ENROLMENT_TOKEN_EXPIRED)
    elif as_utc(row.expires_at) <= now:
        raise Problem(Code.ENROLMENT_TOKEN_EXPIRED)
    site = db.get(Site, row.site)
    if site is None:
        raise Problem(Code.UNKNOWN_SITE, site=row.site)
    replaced = _register(db, row, public_key, software_version, now)
    password = secrets.token_urlsafe(24) if cloud.logins is not None else None
    bundle = _bundle(db, cloud, row, site, node_key, password, now)
    audit(
        db,
        f"node:{row.site}/{row.node}",
        source,
        "device_enrolled",
        f"{row.site}/{row.node}",
        {
            "key": keystore.fingerprint(node_key),
            "replaced": replaced,
            "resumed": resumed,
            "software_version": software_version,
        },
        at=now,
    )
    if cloud.logins is not None and password is not None:
        try:  # last, so that nothing after it can fail and leave a login for no device
            db.flush()
            cloud.logins.create(row.site, row.node, password)
        except BrokerLoginError as exc:
            raise Problem(Code.BROKER_LOGIN_FAILED, reason=str(exc)) from None
    return bundle


def _register(
    db: Session, row: EnrolmentToken, public_key: bytes, software_version: str | None, now: datetime
) -> bool:
    """Register the key at the token's position; True if it replaced another Pi's key."""
    device = db.scalar(select(Device).where(Device.site == row.site, Device.node == row.node))
    replaced = False
    if device is None:
        device = register_device(db, row.site, row.node, row.kind, row.zone, public_key)
    elif device.public_key != public_key or device.status != "active":
        for old in db.scalars(
            select(DeviceKey).where(
                DeviceKey.site == row.site,
                DeviceKey.node == row.node,
                DeviceKey.state == "enrolled",
            )
        ):
            old.state, old.ended_at = "replaced", now
        replaced = device.public_key != public_key
        device.public_key, device.status = public_key, "active"
        device.kind, device.zone = row.kind, row.zone
    device.software_version = (software_version or "")[:32] or None
    device.last_seen_at = now
    known = db.scalar(
        select(DeviceKey).where(
            DeviceKey.site == row.site,
            DeviceKey.node == row.node,
            DeviceKey.public_key == public_key,
            DeviceKey.state == "enrolled",
        )
    )
    if known is None:
        db.add(
            DeviceKey(
                site=row.site,
                node=row.node,
                public_key=public_key,
                state="enrolled",
                software_version=device.software_version,
                enrolled_at=now,
            )
        )
    db.flush()
    return replaced


def _bundle(
    db: Session,
    cloud: Enrolling,
    row: EnrolmentToken,
    site: Site,
    node_key: Ed25519PublicKey,
    password: str | None,
    now: datetime,
) -> dict[str, Any]:
    root = cloud.root
    broker = (
        {
            "host": cloud.broker_host,
            "port": cloud.broker_port,
            "username": row.node,
            "client_id": client_id(row.site, row.node),
        }
        if password is not None
        else None
    )
    enrolment = sign_document(
        root,
        DOC_ENROLMENT,
        row.site,
        row.id,
        {
            "node": row.node,
            "kind": row.kind,
            "zone": row.zone,
            "direction": row.direction,
            "node_key": keystore.raw_public(node_key),
            "broker": broker,
        },
        issued_at=now,
    )
    keyring = documents.held(db, row.site, "keyring") or documents.signed_keyring(
        db, root, row.site, cloud.issuers, now
    )
    settings = gate_settings.config_settings(db, root, site)  # a manager's, for every gate
    config = documents.signed_config(
        db, root, row.site, settings, cloud.holder_salt, now, cloud.face_key
    )
    nodes = documents.node_registry(db, root, row.site, now)
    revocations = documents.revocation_snapshot(
        db, root, row.site, now.astimezone(ZoneInfo(site.timezone)).date(), now
    )
    cards = documents.held(db, row.site, "cards")

    def b64(raw: bytes | None) -> str | None:
        return base64.b64encode(raw).decode("ascii") if raw is not None else None

    return {
        "site": row.site,
        "node": row.node,
        "root_public_key": keystore.public_pem(root.public_key),
        "root_fingerprint": keystore.fingerprint(root.public_key),
        "documents": {
            "enrolment": b64(enrolment),
            "config": b64(config),
            "keyring": b64(keyring),
            "nodes": b64(nodes),
            "revocations": b64(revocations),
            "cards": b64(cards),
        },
        "broker_password": password,
    }


def decommission(
    session: Session,
    root: Signer,
    logins: BrokerLogins | None,
    *,
    site: str,
    node: str,
    signature: bytes | None,
    actor: str,
    source: str,
    now: datetime,
) -> None:
    """Retire ``site``/``node``: by the node (``signature`` over ``decommission_message`` with
    its enrolled key) or by staff (``signature`` None; the route checked the role)."""
    device = session.scalar(select(Device).where(Device.site == site, Device.node == node))
    if device is None or device.status != "active":
        raise Problem(Code.NOT_ENROLLED, site=site, node=node)
    if signature is not None:
        key = Ed25519PublicKey.from_public_bytes(device.public_key)
        if not keystore.verify_signature(key, signature, decommission_message(site, node)):
            raise Problem(Code.BAD_NODE_SIGNATURE)
    retired = session.execute(
        update(Device)
        .where(Device.id == device.id, Device.status == "active")
        .values(status="revoked", last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    if retired.rowcount != 1:  # type: ignore[attr-defined]
        raise Problem(Code.NOT_ENROLLED, site=site, node=node)
    for key_row in session.scalars(
        select(DeviceKey).where(
            DeviceKey.site == site, DeviceKey.node == node, DeviceKey.state == "enrolled"
        )
    ):
        key_row.state, key_row.ended_at = "decommissioned", now
    session.flush()
    documents.node_registry(session, root, site, now)
    audit(session, actor, source, "device_decommissioned", f"{site}/{node}", at=now)
    if logins is not None:
        try:
            logins.remove(site, node)
        except BrokerLoginError as exc:
            raise Problem(Code.BROKER_LOGIN_FAILED, reason=str(exc)) from None


def registry(session: Session, site: str | None = None) -> list[dict[str, Any]]:
    """Every gate position, with its current key, state and history count."""
    query = select(Device).order_by(Device.site, Device.node)
    if site is not None:
        query = query.where(Device.site == site)
    rows = []
    for device in session.scalars(query):
        keys = session.scalars(
            select(DeviceKey)
            .where(DeviceKey.site == device.site, DeviceKey.node == device.node)
            .order_by(DeviceKey.id)
        ).all()
        rows.append(
            {
                "site": device.site,
                "node": device.node,
                "kind": device.kind,
                "zone": device.zone,
                "state": "enrolled" if device.status == "active" else "decommissioned",
                "key": keystore.fingerprint(Ed25519PublicKey.from_public_bytes(device.public_key)),
                "software_version": device.software_version,
                "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
                "keys": [
                    {
                        "key": keystore.fingerprint(
                            Ed25519PublicKey.from_public_bytes(k.public_key)
                        ),
                        "state": k.state,
                        "enrolled_at": k.enrolled_at.isoformat(),
                    }
                    for k in keys
                ],
            }
        )
    return rows
