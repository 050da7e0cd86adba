"""Binding an RFID card to an annual pass (年卡), so the pass holder's card opens the gates.

``POST /api/v1/tickets/{ticket_no}/cards`` ``{"uid": "04A1B2C3"}`` by a cashier or manager:
the card's holder reference enters the site's card index (services/card_index.py) and reaches
the gates with the next card index delta. A refund or date change of the pass removes it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cloud.api.deps import Context, IdempotencyKey, Staff, idempotent, role
from cloud.services.card_index import bind_rfid

router = APIRouter(prefix="/api/v1", tags=["cards"])


class CardIn(BaseModel):
    uid: str = Field(min_length=1, max_length=64, description="the card UID in hex, as read")


class CardOut(BaseModel):
    ticket_no: str
    kind: str
    site: str


@router.post("/tickets/{ticket_no}/cards", status_code=201, response_model=CardOut)
def bind_card(
    ticket_no: str,
    body: CardIn,
    ctx: Context,
    who: Annotated[Staff, Depends(role("cashier"))],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    def produce(db: Any) -> dict[str, Any]:
        entry = bind_rfid(db, ticket_no, body.uid, ctx.issuer.holder_salt)
        return {"ticket_no": entry.ticket_id.hex().upper(), "kind": entry.kind, "site": entry.site}

    answer, _ = idempotent(
        ctx,
        idempotency_key,
        "bind_card",
        {"ticket": ticket_no, "uid": body.uid},
        produce,
        caller=who.scope,
    )
    return answer
