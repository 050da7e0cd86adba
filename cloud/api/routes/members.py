"""Members (会员) over the API: sign-up and sign-in by a code, profile, export and deletion of
one's own data, member checkout (points, coupons), flash sales; staff look-ups (audited) and
offers set up by a manager.

A member proves who they are with ``X-Member-Token`` (from ``POST /api/v1/members/sessions``).
The code sender is ``app.state.member_sender`` if the operator set one (an SMS or mail
gateway: any object with ``send(contact, text_en, text_zh)``), else the console sender
(services/members.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cloud.api.channel_schemas import (
    CodeSent,
    CouponCreated,
    FlashOrder,
    FlashSaleCreated,
    MemberCheckout,
    MemberDeleted,
    MemberExport,
    MemberProfile,
    MemberSignedIn,
    PointsEarned,
)
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
from cloud.api.schemas import Id, LineIn, PathId
from cloud.models import Member
from cloud.services import members, promotions
from cloud.services.orders import LineRequest

router = APIRouter(prefix="/api/v1", tags=["members"])
Manager = Annotated[Staff, Depends(role("manager"))]
_CONSOLE = members.ConsoleSender()


class ContactIn(BaseModel):
    contact: str = Field(min_length=3, max_length=200)


class SignInIn(ContactIn):
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class NameIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)


class MemberOrderIn(BaseModel):
    site: str = Field(min_length=1, max_length=32)
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    coupon: str | None = Field(default=None, max_length=32)
    points: int = Field(default=0, ge=0, le=10_000_000)


class FlashIn(BaseModel):
    quantity: int = Field(default=1, ge=1, le=100)


class FlashSaleIn(BaseModel):
    inventory_id: Id
    price_type: str = Field(default="adult", max_length=16)
    price_fen: int = Field(ge=0, le=10_000_000)
    places: int = Field(ge=1, le=1_000_000)
    per_member_limit: int = Field(default=1, ge=1, le=100)
    starts_at: datetime
    ends_at: datetime


class CouponIn(BaseModel):
    code: str = Field(pattern="^[A-Za-z0-9-]{3,32}$")
    starts_at: datetime
    ends_at: datetime
    total_limit: int = Field(ge=1, le=10_000_000)
    per_member_limit: int = Field(default=1, ge=1, le=100)
    amount_fen: int | None = Field(default=None, ge=1, le=10_000_000)
    percent: int | None = Field(default=None, ge=1, le=100)
    min_total_fen: int = Field(default=0, ge=0, le=10_000_000)
    product_id: Id | None = None


@router.post("/members/codes", response_model=CodeSent)
def send_code(body: ContactIn, request: Request, ctx: Context, db: DB) -> dict[str, str]:
    sender = getattr(request.app.state, "member_sender", None) or _CONSOLE
    members.request_code(db, body.contact, pd=ctx.pd, sender=sender, now=ctx.clock.now())
    return {"status": "sent"}


@router.post("/members/sessions", response_model=MemberSignedIn)
def sign_in(body: SignInIn, ctx: Context) -> dict[str, Any]:
    signed = members.verify(ctx.sessions, body.contact, body.code, pd=ctx.pd, now=ctx.clock.now())
    return {"member_id": signed.member_id, "token": signed.token, "new": signed.new}


@router.get("/members/me", response_model=MemberProfile)
def me(ctx: Context, member: Me) -> dict[str, Any]:
    return members.profile(member, ctx.pd)


@router.put("/members/me", response_model=MemberProfile)
def rename(body: NameIn, ctx: Context, db: DB, member: Me) -> dict[str, Any]:
    members.set_name(db, member, body.name, ctx.pd)
    return members.profile(member, ctx.pd)


@router.get("/members/me/export", response_model=MemberExport)
def export(ctx: Context, db: DB, member: Me) -> dict[str, Any]:
    return members.export(db, member, ctx.pd)


@router.delete("/members/me", response_model=MemberDeleted)
def delete(ctx: Context, db: DB, member: Me) -> dict[str, str]:
    members.delete_member(db, member, ctx.clock.now())
    return {"status": "deleted"}


@router.post("/members/me/orders", response_model=MemberCheckout)
def checkout(
    body: MemberOrderIn,
    ctx: Context,
    member: MeApart,
    idempotency_key: IdempotencyKey = None,
) -> MemberCheckout:
    """A member's order, once per Idempotency-Key: a double tap or a retry after a lost answer
    gets the same order back, and holds its places (and spends its points) once."""

    def produce(db: Session) -> MemberCheckout:
        me = db.get(Member, member.id)
        assert me is not None
        order = members.checkout(
            db,
            me,
            [LineRequest(**line.model_dump()) for line in body.lines],
            site=body.site,
            pd=ctx.pd,
            holder_salt=ctx.issuer.holder_salt,
            now=ctx.clock.now(),
            coupon=body.coupon,
            points=body.points,
        )
        return MemberCheckout(order_no=order.order_no, total_fen=order.total_fen, points=me.points)

    answer, _ = idempotent_answer(
        MemberCheckout,
        ctx,
        idempotency_key,
        "member_checkout",
        body.model_dump(mode="json"),
        produce,
        caller=f"member:{member.id}",
    )
    return answer


@router.post("/members/me/points/{order_no}", response_model=PointsEarned)
def earn(order_no: str, ctx: Context, db: DB, member: Me) -> dict[str, int]:
    earned = members.earn_points(db, member, order_no, ctx.clock.now())
    return {"earned": earned, "points": member.points}


@router.post("/flash-sales/{sale_id}/orders", response_model=FlashOrder)
def flash_buy(sale_id: PathId, body: FlashIn, ctx: Context, db: DB, member: Me) -> dict[str, Any]:
    made = promotions.flash_buy(
        db,
        sale_id,
        member,
        body.quantity,
        pd=ctx.pd,
        holder_salt=ctx.issuer.holder_salt,
        now=ctx.clock.now(),
    )
    return {"order_no": made.order_no, "total_fen": made.total_fen}


@router.get("/members/{member_id}", response_model=MemberProfile)
def staff_view(
    member_id: PathId,
    ctx: Context,
    db: DB,
    who: Annotated[Staff, Depends(role("cashier", "finance"))],
    where: Source,
) -> dict[str, Any]:
    return members.staff_view(
        db, member_id, ctx.pd, actor=who.username, source=where, now=ctx.clock.now()
    )


@router.post("/flash-sales", response_model=FlashSaleCreated)
def create_flash_sale(
    body: FlashSaleIn, ctx: Context, db: DB, who: Manager, where: Source
) -> dict[str, int]:
    sale = promotions.create_flash_sale(
        db, **body.model_dump(), actor=who.username, source=where, now=ctx.clock.now()
    )
    return {"id": sale}


@router.post("/coupons", response_model=CouponCreated)
def create_coupon(
    body: CouponIn, ctx: Context, db: DB, who: Manager, where: Source
) -> dict[str, str]:
    promotions.create_coupon(
        db, **body.model_dump(), actor=who.username, source=where, now=ctx.clock.now()
    )
    return {"code": body.code.upper()}
