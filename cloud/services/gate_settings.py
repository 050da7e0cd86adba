"""Per-site gate settings (face thresholds, slot grace, gaps, real-name check), as a manager
sets them: checked, signed into the site's root-signed ``config`` document, kept.

Never: sign a value a gate would refuse. The rules are keys/gate_settings.py's, the ones each
gate applies to a config document (gate_node/config.py), so a refusal happens here, with the
field named (``bad_gate_setting``), not silently at every gate.

Where they are kept: the site's last signed ``config`` document (``site_documents``) is the
record, since it is exactly what the gates hold; no table of its own. The downlink service
publishes each new one (``FROM_DATABASE``), retained, so a gate offline now takes it when it
comes back. Enrolment signs the same settings into a new gate's bundle (``config_settings``).

Only site-wide settings are set here: the time zone is the site's own (``sites.timezone``),
and zone and direction belong to each gate's enrolment. A setting left out is each gate's own
(its node.json value, else the default): a gate lays each config document over its own
configuration afresh (gate_node/state.py), so a setting dropped here returns to that value, not
to an earlier document's; ``face`` is sent whole, so a face figure left out of it returns to
the gate's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.core.errors import Code, Problem
from cloud.models import Site, SiteDocument
from cloud.services import downlink_documents as documents
from keys import keystore
from keys.gate_settings import GateSettingError, check_settings, from_document, to_document
from keys.signed_document import DocumentError, verify_document

SITE_WIDE = (
    "slot_grace_before",
    "slot_grace_after",
    "min_gap_minutes",
    "exit_requires_entry",
    "real_name_check",
    "face",
)
SITE_WIDE_NAMES = ", ".join(SITE_WIDE)


@dataclass(frozen=True)
class Held:
    site: str
    settings: dict[str, Any]  # only those set; the rest are each gate's own
    seq: int | None  # the config document's seq (None: never signed for this site)
    signed_at: datetime | None


def read(db: Session, root: keystore.SigningKey, site: str) -> Held:
    """The settings the site's gates were last sent."""
    _site(db, site)
    row = db.get(SiteDocument, (site, "config"))
    if row is None or row.raw is None:
        return Held(site, {}, None, None)
    return Held(site, _settings_of(bytes(row.raw), root, site), row.seq, row.signed_at)


def put(
    db: Session,
    root: keystore.SigningKey,
    site: str,
    settings: Mapping[str, Any],
    holder_salt: bytes,
    now: datetime,
    face_key: bytes | None = None,
) -> tuple[Held, bytes]:
    """Check ``settings`` (only ``SITE_WIDE`` ones) by the gates' rules, sign the next config
    document with them; the kept settings and the document to publish. ``face_key`` (the
    cloud's, raw) goes in as enrolment puts it; without one, the last document's is kept, so
    a settings change never takes the gates' face key away."""
    place = _site(db, site)
    chosen = {k: v for k, v in settings.items() if v is not None}
    for name in chosen:
        if name not in SITE_WIDE:  # time zone, zone, direction: the site's, each gate's
            raise Problem(Code.BAD_GATE_SETTING, field=name, allowed=SITE_WIDE_NAMES)
    try:
        check_settings(chosen)
    except GateSettingError as exc:
        raise Problem(Code.BAD_GATE_SETTING, field=exc.field, allowed=exc.allowed) from None
    wire = to_document({"timezone": place.timezone, **chosen})
    face_key = face_key or _held_face_key(db, root, site)
    raw = documents.signed_config(db, root, site, wire, holder_salt, now, face_key)
    row = db.get(SiteDocument, (site, "config"))
    kept = {k: v for k, v in from_document(wire).items() if k in SITE_WIDE}
    return Held(site, kept, row.seq if row else None, now), raw


def config_settings(db: Session, root: keystore.SigningKey, site: Site) -> dict[str, Any]:
    """What a config document for ``site`` carries (document form: ``to_document``): its time
    zone and the kept settings."""
    return to_document({"timezone": site.timezone, **read(db, root, site.code).settings})


def _settings_of(raw: bytes, root: keystore.SigningKey, site: str) -> dict[str, Any]:
    held = _body_of(raw, root, site).get("settings", {})
    return {k: v for k, v in from_document(held).items() if k in SITE_WIDE}


def _held_face_key(db: Session, root: keystore.SigningKey, site: str) -> bytes | None:
    raw = documents.held(db, site, "config")
    face_key = _body_of(raw, root, site).get("face_key") if raw is not None else None
    return face_key if isinstance(face_key, bytes) else None


def _body_of(raw: bytes, root: keystore.SigningKey, site: str) -> dict[str, Any]:
    try:
        body = verify_document(raw, root.public_key, doc_type="config", site=site).body
    except DocumentError:  # signed by an earlier root key: nothing kept that this one vouches
        return {}
    return body if isinstance(body, dict) else {}


def _site(db: Session, site: str) -> Site:
    place = db.get(Site, site)
    if place is None:
        raise Problem(Code.UNKNOWN_SITE, site=site)
    return place
