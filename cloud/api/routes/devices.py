"""Gate provisioning over HTTP: enrolment tokens, enrolment, the registry, decommissioning.

Thin: parse, authorise, call services/enrolment.py. A token is made by an installer or a
manager; enrolment and a node's own decommissioning carry no staff login (the token, or the
node's signature, is the proof) and are throttled per address by the service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.device_schemas import (
    DecommissionIn,
    EnrolIn,
    EnrolOut,
    RegistryOut,
    RootOut,
    TokenIn,
    TokenOut,
)
from cloud.core.errors import Code, Problem
from cloud.services import enrolment
from keys import keystore
from keys.sealed_box import raw_public

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
Installer = Annotated[Staff, Depends(role("installer"))]
Manager = Annotated[Staff, Depends(role("manager"))]


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(body: TokenIn, ctx: Context, db: DB, who: Installer, where: Source) -> TokenOut:
    """A one-time enrolment token for a gate position (shown once; only its hash is kept)."""
    made = enrolment.create_token(
        db,
        ctx.provisioning,
        site=body.site,
        node=body.node,
        kind=body.kind,
        zone=body.zone,
        direction=body.direction,
        actor=who.username,
        source=where,
        now=ctx.clock.now(),
    )
    return TokenOut(
        token=made.token,
        site=made.site,
        node=made.node,
        expires_at=made.expires_at,
        root_fingerprint=keystore.fingerprint(ctx.root.public_key),
    )


@router.post("/enrol", response_model=EnrolOut)
def enrol(body: EnrolIn, ctx: Context, where: Source) -> EnrolOut:
    """Token and node public key in; the root-signed enrolment bundle out."""
    try:
        public_key = bytes.fromhex(body.public_key)
    except ValueError:
        raise Problem(Code.BAD_NODE_KEY) from None
    cloud = enrolment.Enrolling(
        root=ctx.root,
        issuers=ctx.keyring,
        holder_salt=ctx.issuer.holder_salt,
        settings=ctx.provisioning,
        broker_host=ctx.node_broker[0],
        broker_port=ctx.node_broker[1],
        logins=ctx.broker_logins,
        face_key=raw_public(ctx.face_key.public_key()) if ctx.face_key else None,
    )
    bundle = enrolment.enrol(
        ctx.sessions,
        cloud,
        token=body.token,
        public_key=public_key,
        software_version=body.software_version,
        source=where,
        now=ctx.clock.now(),
    )
    return EnrolOut(**bundle)


@router.post("/decommission", status_code=204)
def decommission_by_node(body: DecommissionIn, ctx: Context, db: DB, where: Source) -> None:
    """A node retires itself, signing with its enrolled identity key."""
    try:
        signature = bytes.fromhex(body.signature)
    except ValueError:
        raise Problem(Code.BAD_NODE_SIGNATURE) from None
    enrolment.decommission(
        db,
        ctx.root,
        ctx.broker_logins,
        site=body.site,
        node=body.node,
        signature=signature,
        actor=f"node:{body.site}/{body.node}",
        source=where,
        now=ctx.clock.now(),
    )


@router.post("/{site}/{node}/decommission", status_code=204)
def decommission_by_manager(
    site: str, node: str, ctx: Context, db: DB, who: Manager, where: Source
) -> None:
    """A manager retires a node (a broken or stolen Pi that cannot sign any more)."""
    enrolment.decommission(
        db,
        ctx.root,
        ctx.broker_logins,
        site=site,
        node=node,
        signature=None,
        actor=who.username,
        source=where,
        now=ctx.clock.now(),
    )


@router.get("", response_model=RegistryOut)
def registry(db: DB, who: Installer, site: str | None = None) -> RegistryOut:
    """Every gate position: its key, state, software version and key history."""
    return RegistryOut(devices=enrolment.registry(db, site))


@router.get("/root", response_model=RootOut)
def root(ctx: Context) -> RootOut:
    """The root public key gates pin, and its fingerprint to read aloud at installation."""
    key = ctx.root.public_key
    return RootOut(fingerprint=keystore.fingerprint(key), public_key=keystore.public_pem(key))
