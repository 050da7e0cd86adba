"""The site calendar: blackout and peak days and what each product costs on them (anyone may
read it, as availability; managers set it), and a product's normal and peak prices.

Thin: the rules are services/calendar.py; every change is audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.schemas import PathId
from cloud.api.staff_schemas import CalendarDayOut, CalendarDaySet, ProductPrice
from cloud.services import calendar
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1", tags=["calendar"])
Manager = Annotated[Staff, Depends(role("manager"))]


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    closed: bool = False  # 闭园: no sales that day
    peak: bool = False  # 高峰日: peak prices that day


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount_fen: int = Field(ge=0, le=10_000_000)
    peak_amount_fen: int | None = Field(default=None, ge=0, le=10_000_000)


@router.get("/sites/{site}/calendar", response_model=list[CalendarDayOut])
def read_calendar(
    site: str,
    db: DB,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> list[dict[str, Any]]:
    """Marked days from ``from`` to ``to`` (inclusive), with each product's price that day."""
    return calendar.days(db, site, start, end)


@router.put("/sites/{site}/calendar/{day}", response_model=CalendarDaySet)
def set_day(
    site: str, day: date, body: DayIn, db: DB, ctx: Context, who: Manager, where: Source
) -> dict[str, Any]:
    """Mark ``day`` closed and/or peak (both false: an ordinary day again)."""
    calendar.set_day(db, site, day, closed=body.closed, peak=body.peak)
    audit(db, who.username, where, "set_calendar_day", f"calendar:{site}:{day.isoformat()}",
          body.model_dump(), at=ctx.clock.now())  # fmt: skip
    return {"site": site, "day": day.isoformat(), **body.model_dump()}


@router.put("/products/{product_id}/prices/{price_type}", response_model=ProductPrice)
def set_price(
    product_id: PathId,
    price_type: Annotated[str, Path(pattern="^(adult|child|concession|senior|group|member)$")],
    body: PriceSet,
    db: DB,
    ctx: Context,
    who: Manager,
    where: Source,
) -> dict[str, Any]:
    """A price type's normal and peak amount (fen); orders placed after this pay it."""
    price = calendar.set_price(db, product_id, price_type, body.amount_fen, body.peak_amount_fen)
    audit(db, who.username, where, "set_price", f"product:{product_id}",
          {"price_type": price_type, **body.model_dump()}, at=ctx.clock.now())  # fmt: skip
    return {
        "product_id": product_id,
        "price_type": price.price_type,
        "amount_fen": price.amount_fen,
        "peak_amount_fen": price.peak_amount_fen,
    }
