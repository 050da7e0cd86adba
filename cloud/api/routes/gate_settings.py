"""Per-site gate settings: a manager reads and sets the face thresholds and lane rules every
gate of a site applies.

Thin: the checks (the gates' own rules), the signed config document and where it is kept are
services/gate_settings.py. A change is audited, committed, then published to the site's gates
(and the downlink service publishes it too, from the database, retained)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.schemas import GateSettingsIn, GateSettingsOut
from cloud.services import gate_settings
from cloud.services.audit import audit
from keys.sealed_box import raw_public

router = APIRouter(prefix="/api/v1", tags=["gate settings"])
Manager = Annotated[Staff, Depends(role("manager"))]


@router.get("/sites/{site}/gate-settings", response_model=GateSettingsOut)
def read_settings(site: str, db: DB, ctx: Context, who: Manager) -> GateSettingsOut:
    """The settings the site's gates were last sent."""
    return _out(gate_settings.read(db, ctx.root, site))


@router.put("/sites/{site}/gate-settings", response_model=GateSettingsOut)
def set_settings(
    site: str, body: GateSettingsIn, ctx: Context, who: Manager, where: Source
) -> GateSettingsOut:
    """Replace the site's gate settings (those left out keep each gate's own value); the
    gates take them from the next root-signed config document."""
    now = ctx.clock.now()
    with ctx.sessions.begin() as db:  # committed before the gates are told
        face_key = raw_public(ctx.face_key.public_key()) if ctx.face_key else None
        held, raw = gate_settings.put(
            db, ctx.root, site, body.chosen(), ctx.issuer.holder_salt, now, face_key
        )
        audit(db, who.username, where, "set_gate_settings", f"site:{site}",
              {"settings": held.settings, "config_seq": held.seq}, at=now)  # fmt: skip
    ctx.publish(site, "config", raw)
    return _out(held)


def _out(held: gate_settings.Held) -> GateSettingsOut:
    return GateSettingsOut(
        site=held.site, settings=held.settings, config_seq=held.seq, signed_at=held.signed_at
    )
