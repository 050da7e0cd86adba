"""The unified verification interface for partners (parking, POS, hotel PMS, OTAs).

A partner system with an API key scoped ``verify`` sends a code it was shown; the answer is
the ticket number, the verification time, and a result with a reason code and zh-CN/English
text (keys/reasons.py). It checks the signature against the cloud's own issuer key, the
ticket's state (refunded, changed) and whether a gate has recorded an entry with it. It does
not record a use: gates do that.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from sqlalchemy import select

from cloud.api.deps import DB, Context, partner
from cloud.api.schemas import VerifyIn
from cloud.core.errors import Code, Problem
from cloud.models import ApiKey, GateEventRecord, Order, Site, Ticket
from keys.keyring import IssuerKey, Keyring
from keys.reasons import Reason
from keys.ticket import verify_ticket

router = APIRouter(prefix="/api/v1", tags=["partners"])


@router.post("/verify")
def verify(
    body: VerifyIn, ctx: Context, db: DB, key: Annotated[ApiKey, Depends(partner)]
) -> dict[str, Any]:
    if "verify" not in key.scopes:
        raise Problem(Code.FORBIDDEN, needs="verify")
    now = ctx.clock.now()
    ring = Keyring(ctx.keyring or [IssuerKey(ctx.issuer.key.kid, ctx.issuer.key.public_key)])
    result = verify_ticket(body.code, ring)
    reason, number, used_at = result.reason, None, None
    if result.claims is not None:
        number = result.claims.ticket_no
        ticket = db.scalar(select(Ticket).where(Ticket.ticket_id == result.claims.ticket_id))
        if ticket is None or ticket.status != "valid":
            reason = Reason.REVOKED
        else:
            site = db.get(Site, db.scalar(select(Order.site).where(Order.id == ticket.order_id)))
            local_day = now.astimezone(ZoneInfo(site.timezone if site else "Asia/Shanghai")).date()
            if local_day < ticket.valid_from:
                reason = Reason.NOT_YET_VALID
            elif local_day > ticket.valid_until:
                reason = Reason.EXPIRED
            used = db.scalar(
                select(GateEventRecord.at)
                .where(
                    GateEventRecord.kind == "use",
                    GateEventRecord.data["ticket"].as_string() == number,
                )
                .order_by(GateEventRecord.at)
            )
            if used is not None:
                used_at = used.isoformat()
                if result.claims.entries == 1 and reason is Reason.OK:
                    reason = Reason.ALREADY_USED
    return {
        "ticket_no": number,
        "verified_at": now.isoformat(),
        "valid": reason is Reason.OK,
        "reason": reason.value,
        "message_en": reason.text.en,
        "message_zh": reason.text.zh,
        "used_at": used_at,
    }
