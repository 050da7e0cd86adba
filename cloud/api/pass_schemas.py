"""Request and answer shapes of the annual-pass routes (routes/passes.py), and the photo body
that face enrolment shares (routes/faces.py): routes never import routes."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from cloud.core.errors import Code, Problem

# A pass id as the database can hold it (an INTEGER key): a larger number is a 422 naming the
# path, not an overflow in the driver (a 500 on SQLite and PostgreSQL alike).
MAX_PASS_ID = 2_147_483_647
PassId = Annotated[int, Path(ge=1, le=MAX_PASS_ID)]


class FacePhotoIn(BaseModel):
    photo: str = Field(
        description="JPEG or PNG with one face, base64", min_length=4, max_length=1_048_000
    )

    def image(self) -> bytes:
        try:
            return base64.b64decode(self.photo, validate=True)
        except (binascii.Error, ValueError):
            raise Problem(Code.FACE_PHOTO_UNREADABLE) from None


class PassRenewalOut(BaseModel):
    order_no: str
    status: str  # pending | expired (unpaid) | paid | refunded | lost (another renewal won)
    valid_from: date
    valid_until: date


class PassOut(BaseModel):
    """An annual pass (年卡) as its holder and staff see it. ``status``: active, expired (past
    its last day) or refunded. ``ticket_text`` is the QR code of the current ticket."""

    pass_id: int
    site: str
    product: str
    status: str
    valid_from: date
    valid_until: date
    ticket_no: str
    ticket_text: str
    member_id: int | None
    holder_name: str | None
    holder_contact: str | None
    face_enrolled: bool
    card_bound: bool
    renew_from: date  # the renewal window opens
    renew_until: date  # after this, buy a new pass
    renewals: list[PassRenewalOut]


class RenewalOrder(BaseModel):
    """The pending order a renewal is paid with (``POST /api/v1/orders/{order_no}/payments``
    with ``X-Order-Token: access_token``, or cash at the window)."""

    pass_id: int
    order_no: str
    access_token: str
    total_fen: int
    expires_at: datetime
    valid_from: date  # the renewed term, once paid
    valid_until: date


class PassMemberIn(BaseModel):
    contact: str = Field(min_length=3, max_length=200, description="the member's phone or email")


class PassRuleIn(BaseModel):
    """A product's renewal rule, whole: what is left out takes the default (services/
    pass_rules.py checks it; these bounds only keep numbers within what a column holds)."""

    renew_before_days: int = Field(default=30, ge=0, le=3660)
    grace_days: int = Field(default=30, ge=0, le=3660)
    lapse_limit_days: int = Field(default=365, ge=0, le=3660)
    price_fen: int | None = Field(default=None, ge=0, le=10_000_000)
    level_discounts: dict[
        Annotated[str, Field(max_length=16)], Annotated[int, Field(ge=0, le=100)]
    ] = Field(default_factory=dict, max_length=8)


class PassRuleOut(BaseModel):
    product_id: int
    renew_before_days: int
    grace_days: int
    lapse_limit_days: int
    price_fen: int | None
    level_discounts: dict[str, int]
    explicit: bool  # False: the product renews by the defaults
