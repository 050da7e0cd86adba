"""Distributors and OTAs (分销 / OTA) over the API.

The channel itself, with its API key (``X-Api-Key``, scope ``channel``), acts on its own
account only: ``GET /api/v1/channel/account``, ``POST /api/v1/channel/orders`` (lines, and
optionally ``ota_codes``: one of its own codes per ticket, which our gates then redeem
offline) and ``POST /api/v1/channel/orders/{order_no}/refunds``. Send an Idempotency-Key when
retrying a sale. Finance manages the accounts: ``/api/v1/channels/...`` (create, terms,
top-ups, daily statements as JSON or CSV, confirm).

After a sale with codes, or a refund, the site's new card index (and the revocation) is
published once the transaction has committed (services/ota_codes.py).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from cloud.api.channel_schemas import (
    ChannelAccountOut,
    ChannelCreated,
    ChannelRefund,
    ChannelSale,
    ChannelStatementOut,
    TermsSet,
    ToppedUp,
)
from cloud.api.deps import DB, Context, IdempotencyKey, Source, Staff, idempotent, partner, role
from cloud.api.schemas import LineIn, PathId
from cloud.api.statement_files import CSV, csv_download
from cloud.models import ApiKey, ChannelStatement
from cloud.services import channel_settlement, channels
from cloud.services.orders import LineRequest

router = APIRouter(prefix="/api/v1", tags=["channels"])
Finance = Annotated[Staff, Depends(role("finance"))]


def _partner_key(ctx: Context, x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:
    """The caller's partner key, looked up in a short session of its own (as deps.staff
    does): the sale then runs in the idempotency transaction, and a request never holds two
    database connections (SQLite's write lock is taken at BEGIN, cloud/db.py)."""
    with ctx.sessions() as db:
        key = partner(db, x_api_key)
        db.expunge(key)
        return key


Partner = Annotated[ApiKey, Depends(_partner_key)]


class ChannelSaleIn(BaseModel):
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    ota_codes: list[str] | None = Field(default=None, max_length=1000)


class ChannelRefundIn(BaseModel):
    tickets: list[str] | None = Field(default=None, max_length=1000)


class AccountIn(BaseModel):
    code: str = Field(pattern="^[a-z0-9-]{2,32}$")
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(ota|distributor)$")
    site: str = Field(min_length=1, max_length=32)
    commission_percent: int = Field(default=0, ge=0, le=100)
    credit_limit_fen: int = Field(default=0, ge=0, le=1_000_000_000)


class TermsIn(BaseModel):
    net_fen: int | None = Field(default=None, ge=0, le=10_000_000)
    commission_percent: int | None = Field(default=None, ge=0, le=100)


class TopUpIn(BaseModel):
    amount_fen: int = Field(gt=0, le=1_000_000_000)


@router.get("/channel/account", response_model=ChannelAccountOut)
def my_account(db: DB, key: Partner) -> dict[str, Any]:
    account = channels.for_key(db, key)
    return {
        "code": account.code,
        "kind": account.kind,
        "site": account.site,
        "balance_fen": account.balance_fen,
        "credit_limit_fen": account.credit_limit_fen,
    }


@router.post("/channel/orders", response_model=ChannelSale)
def sell(
    body: ChannelSaleIn, ctx: Context, key: Partner, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    def produce(db: Any) -> dict[str, Any]:
        account = channels.for_key(db, key)
        sale = channels.sell(
            db,
            account,
            [LineRequest(**line.model_dump()) for line in body.lines],
            issuer=ctx.issuer,
            pd=ctx.pd,
            now=ctx.clock.now(),
            ota_codes_in=body.ota_codes,
        )
        return asdict(sale)

    answer, _ = idempotent(
        ctx, idempotency_key, "channel_sale", body.model_dump(), produce, caller=f"partner:{key.id}"
    )
    return dict(answer)


@router.post("/channel/orders/{order_no}/refunds", response_model=ChannelRefund)
def refund(
    order_no: str,
    body: ChannelRefundIn,
    ctx: Context,
    key: Partner,
    where: Source,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    def produce(db: Any) -> dict[str, Any]:
        account = channels.for_key(db, key)
        outcome, balance = channels.refund(
            db, account, order_no, body.tickets, root=ctx.root, source=where, now=ctx.clock.now()
        )
        return {
            "order_no": order_no,
            "refund_fen": outcome.refund_fen,
            "fee_fen": outcome.fee_fen,
            "revoked": outcome.tickets,
            "balance_fen": balance,
            "site": account.site,
            "revocation": outcome.revocation.hex(),
        }

    payload = {"order": order_no, **body.model_dump()}
    answer, replay = idempotent(
        ctx, idempotency_key, "channel_refund", payload, produce, caller=f"partner:{key.id}"
    )
    answer = dict(answer)
    site, revocation = answer.pop("site"), answer.pop("revocation")
    if not replay:
        ctx.publish(site, "revocations", bytes.fromhex(revocation))
    return answer


@router.post("/channels", response_model=ChannelCreated)
def create_account(body: AccountIn, db: DB, _: Finance) -> dict[str, Any]:
    account, key = channels.create_account(db, **body.model_dump())
    return {"code": account.code, "api_key": key.key, "note": "shown once / 仅显示一次"}


@router.put("/channels/{code}/terms/{product_id}", response_model=TermsSet)
def set_terms(code: str, product_id: PathId, body: TermsIn, db: DB, _: Finance) -> dict[str, str]:
    channels.set_terms(db, code, product_id, **body.model_dump())
    return {"status": "ok"}


@router.post("/channels/{code}/topups", response_model=ToppedUp)
def top_up(
    code: str, body: TopUpIn, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, int]:
    balance = channels.top_up(
        db, code, body.amount_fen, actor=who.username, source=where, now=ctx.clock.now()
    )
    return {"balance_fen": balance}


def _statement(held: ChannelStatement) -> dict[str, Any]:
    return {
        "day": held.day.isoformat(),
        "sales_fen": held.sales_fen,
        "refunds_fen": held.refunds_fen,
        "commission_fen": held.commission_fen,
        "net_fen": held.net_fen,
        "topups_fen": held.topups_fen,
        "balance_fen": held.balance_fen,
        "orders": held.orders,
        "confirmed_by": held.confirmed_by,
    }


@router.post("/channels/{code}/statements/{day}", response_model=ChannelStatementOut)
def make_statement(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    held = channel_settlement.make_statement(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return _statement(held)


@router.get("/channels/{code}/statements/{day}/csv", response_class=Response, responses=CSV)
def statement_csv(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> PlainTextResponse:
    text = channel_settlement.export_csv(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return csv_download(text, code, day)


@router.post("/channels/{code}/statements/{day}/confirm", response_model=ChannelStatementOut)
def confirm(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    held = channel_settlement.confirm(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return _statement(held)
