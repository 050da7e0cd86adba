"""Request and answer shapes of the device routes (routes/devices.py): tokens, enrolment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from cloud.api.schemas import SiteCode, Strict, ZoneId

NodeId = Annotated[str, Field(min_length=1, max_length=32)]
Hex = Annotated[str, Field(pattern=r"^[0-9a-f]*$", max_length=256)]


class TokenIn(Strict):
    site: SiteCode
    node: NodeId
    kind: str = Field(default="tripod", max_length=16)
    zone: ZoneId = 0
    direction: str = Field(default="in", max_length=3)


class TokenOut(BaseModel):
    token: str
    site: str
    node: str
    expires_at: datetime
    root_fingerprint: str


class EnrolIn(Strict):
    token: str = Field(min_length=1, max_length=64)
    public_key: Hex = Field(description="The node's Ed25519 public key, 32 bytes in hex")
    software_version: str | None = Field(default=None, max_length=32)


class EnrolOut(BaseModel):
    site: str
    node: str
    root_public_key: str
    root_fingerprint: str
    documents: dict[str, str | None]
    broker_password: str | None


class DecommissionIn(Strict):
    site: SiteCode
    node: NodeId
    signature: Hex = Field(description="Ed25519 over the decommission message, in hex")


class RootOut(BaseModel):
    fingerprint: str
    public_key: str


class RegistryOut(BaseModel):
    devices: list[dict[str, Any]]
