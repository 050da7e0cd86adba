"""Revenue shares with partner attractions in package tickets (套票分账) over the API, for
finance (and managers): the partner attractions, a package's components and shares (the whole
list set at once; past sales keep the split they were sold with), and each partner's daily
statement as JSON or CSV, confirmed once (services/revenue_shares.py,
services/partner_settlement.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field, model_validator

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.revshare_schemas import AttractionOut, ComponentsOut, PartnerStatementOut
from cloud.api.schemas import PathId
from cloud.api.statement_files import CSV, csv_download
from cloud.models import PartnerAttraction, PartnerStatement
from cloud.services import partner_settlement, revenue_shares

router = APIRouter(prefix="/api/v1", tags=["package shares"])
Finance = Annotated[Staff, Depends(role("finance"))]


class AttractionIn(BaseModel):
    code: str = Field(pattern="^[a-z0-9-]{2,32}$")
    name: str = Field(min_length=1, max_length=100)
    site: str = Field(min_length=1, max_length=32)
    settlement_account: str = Field(min_length=1, max_length=64)


class ShareIn(BaseModel):
    partner: str = Field(pattern="^[a-z0-9-]{2,32}$")
    share_fen: int | None = Field(default=None, ge=0, le=10_000_000)
    share_bp: int | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def one_kind(self) -> ShareIn:
        if (self.share_fen is None) == (self.share_bp is None):
            raise ValueError("give exactly one of share_fen and share_bp")
        return self


class ComponentsIn(BaseModel):
    components: list[ShareIn] = Field(max_length=20)


def _attraction(partner: PartnerAttraction) -> dict[str, Any]:
    return {
        "code": partner.code,
        "name": partner.name,
        "site": partner.site,
        "settlement_account": partner.settlement_account,
    }


def _statement(code: str, held: PartnerStatement) -> dict[str, Any]:
    return {
        "partner": code,
        "day": held.day.isoformat(),
        "sales_fen": held.sales_fen,
        "refunds_fen": held.refunds_fen,
        "owed_fen": held.owed_fen,
        "tickets": held.tickets,
        "refunded": held.refunded,
        "confirmed_by": held.confirmed_by,
    }


@router.post("/attractions", status_code=201, response_model=AttractionOut)
def create_attraction(
    body: AttractionIn, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    partner = revenue_shares.create_attraction(
        db, **body.model_dump(), actor=who.username, source=where, now=ctx.clock.now()
    )
    return _attraction(partner)


@router.get("/attractions/{code}", response_model=AttractionOut)
def get_attraction(code: str, db: DB, _: Finance) -> dict[str, Any]:
    return _attraction(revenue_shares.attraction(db, code))


@router.put("/products/{product_id}/shares", response_model=ComponentsOut)
def set_shares(
    product_id: PathId, body: ComponentsIn, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    shares = revenue_shares.set_components(
        db,
        product_id,
        [revenue_shares.Share(**share.model_dump()) for share in body.components],
        actor=who.username,
        source=where,
        now=ctx.clock.now(),
    )
    return {"product_id": product_id, "components": [asdict(s) for s in shares]}


@router.get("/products/{product_id}/shares", response_model=ComponentsOut)
def get_shares(product_id: PathId, db: DB, _: Finance) -> dict[str, Any]:
    shares = revenue_shares.components(db, product_id)
    return {"product_id": product_id, "components": [asdict(s) for s in shares]}


@router.post("/attractions/{code}/statements/{day}", response_model=PartnerStatementOut)
def make_statement(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    held = partner_settlement.make_statement(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return _statement(code, held)


@router.get("/attractions/{code}/statements/{day}/csv", response_class=Response, responses=CSV)
def statement_csv(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> PlainTextResponse:
    text = partner_settlement.export_csv(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return csv_download(text, code, day)


@router.post("/attractions/{code}/statements/{day}/confirm", response_model=PartnerStatementOut)
def confirm(
    code: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    held = partner_settlement.confirm(
        db, code, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return _statement(code, held)
