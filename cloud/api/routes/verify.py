"""The unified verification interface for partners (parking, POS, hotel PMS, OTAs).

A partner system with an API key scoped ``verify`` sends a code it was shown, and optionally
the zone it stands in; the answer is the ticket number, the verification time, and a result
with a reason code and zh-CN/English text (keys/reasons.py): the answer a gate of the site
would give now, by the same rules (services/verification.py). It does not record a use: gates
do that.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from cloud.api.deps import DB, Context, partner
from cloud.api.schemas import VerifyIn, VerifyOut
from cloud.core.errors import Code, Problem
from cloud.models import ApiKey
from cloud.services.verification import verify_code
from keys.keyring import IssuerKey, Keyring

router = APIRouter(prefix="/api/v1", tags=["partners"])


@router.post("/verify", response_model=VerifyOut)
def verify(
    body: VerifyIn, ctx: Context, db: DB, key: Annotated[ApiKey, Depends(partner)]
) -> VerifyOut:
    if "verify" not in key.scopes:
        raise Problem(Code.FORBIDDEN, needs="verify")
    now = ctx.clock.now()
    ring = Keyring(ctx.keyring or [IssuerKey(ctx.issuer.key.kid, ctx.issuer.key.public_key)])
    answer = verify_code(db, body.code, ring, now, zone=body.zone)
    first_use = answer.first_used_at
    return VerifyOut(
        ticket_no=answer.ticket_no,
        verified_at=now.isoformat(),
        valid=answer.valid,
        reason=answer.reason.value,
        message_en=answer.reason.text.en,
        message_zh=answer.reason.text.zh,
        used_at=first_use.isoformat() if first_use else None,
        entries_used=len(answer.prior),
    )
