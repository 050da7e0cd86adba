"""Reconciliation with the payment channels (自动对账), for finance: import a statement, list
the mismatches, resolve one with a note, close a day (services/reconciliation/matching.py).

The statement file is the request body as it came from the channel (``text/csv``; an Alipay
file stays GBK): ``POST /api/v1/reconciliation/statements?channel=wechat&day=2026-12-01``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from cloud.api.channel_schemas import DayClosed, MismatchOut, StatementImported
from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.schemas import PathId
from cloud.services.reconciliation import matching
from cloud.services.reconciliation.statements import FORMATS

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"])
Finance = Annotated[Staff, Depends(role("finance"))]


class ResolveIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="What was done about it")


@router.post("/statements", response_model=StatementImported)
def import_statement(
    ctx: Context,
    db: DB,
    who: Finance,
    where: Source,
    channel: Annotated[str, Query(min_length=1, max_length=16)],
    day: date,
    raw: Annotated[bytes, Body(media_type="text/csv")],
    format: Annotated[str | None, Query(description=" | ".join(FORMATS))] = None,
    filename: Annotated[str, Query(max_length=200)] = "statement.csv",
) -> dict[str, Any]:
    done = matching.import_statement(
        db,
        channel=channel,
        day=day,
        fmt=format or channel,
        raw=raw,
        filename=filename,
        actor=who.username,
        source=where,
        now=ctx.clock.now(),
    )
    return {
        "statement_id": done.statement_id,
        "lines": done.lines,
        "total_fen": done.total_fen,
        "mismatches": done.mismatches,
    }


@router.get("/mismatches", response_model=list[MismatchOut])
def mismatches(
    ctx: Context,
    db: DB,
    who: Finance,
    where: Source,
    channel: str | None = None,
    day: date | None = None,
    state: Annotated[str | None, Query(pattern="^(open|resolved)$")] = None,
) -> list[dict[str, Any]]:
    found = matching.list_mismatches(
        db,
        channel=channel,
        day=day,
        state=state,
        seen_by=(who.username, where, ctx.clock.now()),
    )
    return [matching.mismatch_view(m) for m in found]


@router.post("/mismatches/{mismatch_id}/resolve", response_model=MismatchOut)
def resolve(
    mismatch_id: PathId, body: ResolveIn, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    done = matching.resolve(
        db, mismatch_id, body.note, actor=who.username, source=where, now=ctx.clock.now()
    )
    return matching.mismatch_view(done)


@router.post("/days/{channel}/{day}/close", response_model=DayClosed)
def close(
    channel: str, day: date, ctx: Context, db: DB, who: Finance, where: Source
) -> dict[str, Any]:
    closed = matching.close_day(
        db, channel, day, actor=who.username, source=where, now=ctx.clock.now()
    )
    return {
        "channel": closed.channel,
        "day": closed.day.isoformat(),
        "statement_fen": closed.statement_fen,
        "ours_fen": closed.ours_fen,
        "resolved": closed.resolved,
    }
