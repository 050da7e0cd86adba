"""Annual passes (年卡) over the API: a member's own passes and renewal; staff look-up by phone
or pass id (audited), renewal at the window, linking a member, enrolling the holder's face.

Renewal answers a pending order (with its token) to pay like any other; once paid, the pass
moves to a new signed ticket (services/annual_passes.py). Asked again under the same
Idempotency-Key by the same caller, it answers the same order (``_renewal``). A face enrolled
here goes with the pass's current ticket and reaches the gates as a signed delta once
committed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cloud.api.context import CloudContext
from cloud.api.deps import (
    DB,
    Context,
    IdempotencyKey,
    Me,
    MeApart,
    Source,
    Staff,
    idempotent_answer,
    role,
)
from cloud.api.pass_schemas import (
    MAX_PASS_ID,
    FacePhotoIn,
    PassId,
    PassMemberIn,
    PassOut,
    PassRuleIn,
    PassRuleOut,
    RenewalOrder,
)
from cloud.api.schemas import PathId
from cloud.core.security import token_hash
from cloud.models import Member
from cloud.services import annual_passes, face_enrolment, pass_rules
from cloud.services.annual_passes import Asked
from cloud.services.face_enrolment import Who

router = APIRouter(prefix="/api/v1", tags=["annual passes"])
Cashier = Annotated[Staff, Depends(role("cashier"))]
Manager = Annotated[Staff, Depends(role("manager"))]


@router.get("/members/me/passes", response_model=list[PassOut])
def my_passes(ctx: Context, db: DB, member: Me) -> list[dict[str, Any]]:
    now = ctx.clock.now()
    return [annual_passes.view(db, p, ctx.pd, now) for p in annual_passes.of_member(db, member)]


@router.post("/members/me/passes/{pass_id}/renewals", status_code=201, response_model=RenewalOrder)
def renew_mine(
    pass_id: PassId,
    ctx: Context,
    member: MeApart,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> RenewalOrder:
    asker = Asker(member, "web", f"member:{member.id}", where, f"member:{member.id}")
    return _renewal(ctx, idempotency_key, "renew_my_pass", pass_id, asker)


@router.get("/passes", response_model=list[PassOut])
def look_up(
    ctx: Context,
    db: DB,
    who: Cashier,
    where: Source,
    phone: Annotated[str | None, Query(max_length=200)] = None,
    pass_id: Annotated[int | None, Query(ge=1, le=MAX_PASS_ID)] = None,
) -> list[dict[str, Any]]:
    now = ctx.clock.now()
    found = annual_passes.find(
        db, ctx.pd, pass_id=pass_id, phone=phone, actor=who.username, source=where, now=now
    )
    return [annual_passes.view(db, p, ctx.pd, now) for p in found]


@router.post("/passes/{pass_id}/renewals", status_code=201, response_model=RenewalOrder)
def renew_at_window(
    pass_id: PassId,
    ctx: Context,
    who: Cashier,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> RenewalOrder:
    asker = Asker(None, "window", who.username, where, who.scope)
    return _renewal(ctx, idempotency_key, "renew_pass", pass_id, asker)


@router.put("/passes/{pass_id}/member", response_model=PassOut)
def link_member(
    pass_id: PassId, body: PassMemberIn, ctx: Context, db: DB, who: Cashier, where: Source
) -> dict[str, Any]:
    now = ctx.clock.now()
    held = annual_passes.link_member(
        db, pass_id, body.contact, ctx.pd, actor=who.username, source=where, now=now
    )
    return annual_passes.view(db, held, ctx.pd, now)


@router.post("/passes/{pass_id}/face", status_code=201, response_model=PassOut)
def enrol_face(
    pass_id: PassId, body: FacePhotoIn, ctx: Context, who: Cashier, where: Source
) -> dict[str, Any]:
    data = body.image()
    now = ctx.clock.now()
    with ctx.sessions.begin() as db:
        held, ticket = annual_passes.current_ticket(db, pass_id)
        published = face_enrolment.enrol(
            db, ctx.root, ctx.pd, ticket, held.site, data, "window", Who(who.username, where), now
        )
    ctx.publish(published.site, "faces", published.document)
    with ctx.sessions.begin() as db:
        held, _ = annual_passes.current_ticket(db, pass_id)
        return annual_passes.view(db, held, ctx.pd, now)


@dataclass(frozen=True)
class Asker:
    """Who asks for a renewal: a member on their phone (``member``) or a cashier at the window
    (None), with the channel, the audited actor and address, and the idempotency scope."""

    member: Member | None
    channel: str
    actor: str
    source: str
    scope: str


def _renewal(
    ctx: CloudContext, key: str | None, route: str, pass_id: int, asker: Asker
) -> RenewalOrder:
    """Ask once per Idempotency-Key: a double tap or a retry after a lost answer gets the same
    pending order back, not a second one to pay. With a key the order's token is derived from
    its number and the key (as routes/orders.py does), so the stored answer holds no secret;
    the caller is signed in and the key is theirs alone, so a retry gets the token back."""

    def produce(db: Session) -> RenewalOrder:
        asked = annual_passes.ask_renewal(
            db,
            pass_id,
            member=asker.member,
            channel=asker.channel,
            actor=asker.actor,
            source=asker.source,
            now=ctx.clock.now(),
        )
        out = RenewalOrder.model_validate(_order(asked))
        if key is not None:
            asked.order.access_hash = token_hash(_token(ctx, asked.order.order_no, key))
            out.access_token = ""  # recomputed below, never stored
        return out

    out, _ = idempotent_answer(
        RenewalOrder, ctx, key, route, {"pass_id": pass_id}, produce, caller=asker.scope
    )
    if key is not None:
        out.access_token = _token(ctx, out.order_no, key)
    return out


def _token(ctx: CloudContext, order_no: str, key: str) -> str:
    return ctx.pd.derived_token(f"renewal:{order_no}:{key}")


def _order(asked: Asked) -> dict[str, Any]:
    return {
        "pass_id": asked.renewal.pass_id,
        "order_no": asked.order.order_no,
        "access_token": asked.access_token,
        "total_fen": asked.order.total_fen,
        "expires_at": asked.order.expires_at,
        "valid_from": asked.renewal.valid_from,
        "valid_until": asked.renewal.valid_until,
    }


@router.get("/products/{product_id}/pass-rule", response_model=PassRuleOut)
def read_rule(product_id: PathId, db: DB, who: Manager) -> PassRuleOut:
    """How an annual-pass product renews (the defaults until a rule is set)."""
    rule, explicit = pass_rules.read(db, product_id)
    return PassRuleOut(product_id=product_id, explicit=explicit, **asdict(rule))


@router.put("/products/{product_id}/pass-rule", response_model=PassRuleOut)
def set_rule(
    product_id: PathId, body: PassRuleIn, ctx: Context, db: DB, who: Manager, where: Source
) -> PassRuleOut:
    """Replace an annual-pass product's renewal rule (audited); renewals asked from now on
    follow it, orders already made keep their price."""
    rule = pass_rules.put(
        db,
        product_id,
        pass_rules.Rule(**body.model_dump()),
        actor=who.username,
        source=where,
        now=ctx.clock.now(),
    )
    return PassRuleOut(product_id=product_id, explicit=True, **asdict(rule))
