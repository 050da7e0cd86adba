"""The audit viewer: who did what to which object, from where; filtered, paged, exported as
CSV. For managers and auditors; reading the log is itself audited.

Thin: services/audit_view.py reads (the log is append-only, by a database trigger)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from cloud.api.deps import Context, Source, Staff, role
from cloud.api.staff_schemas import AuditPage
from cloud.services import audit_view, report_export
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1", tags=["audit"])
Reader = Annotated[Staff, Depends(role("auditor"))]
# format=csv answers every matching entry as a file instead of a page of JSON (AuditPage).
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of entries as JSON, or with format=csv all of them as a file",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/audit", response_model=AuditPage, responses=CSV)
def read_audit(
    ctx: Context,
    who: Reader,
    where: Source,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    site: Annotated[str | None, Query(max_length=32)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | StreamingResponse:
    """Entries oldest first: by ``actor``, ``action``, ``target`` (exact, or a prefix with a
    trailing ``*``), from ``from`` up to ``to`` (times without an offset are the site's);
    JSON in pages of 500 (``next_after_id`` for the next), CSV all at once, streamed."""
    with ctx.sessions.begin() as db:
        tz = audit_view.site_zone(db, site)
        filters = audit_view.Filters(
            actor, action, target, audit_view.local(since, tz), audit_view.local(until, tz),
            after_id,
        )  # fmt: skip
        audit(db, who.username, where, "read_audit", "audit",
              {"actor": actor, "action": action, "target": target, "format": format},
              at=ctx.clock.now())  # fmt: skip
    if format == "csv":
        rows = (
            {
                **row,
                "detail": json.dumps(row["detail"], ensure_ascii=False) if row["detail"] else None,
            }
            for row in audit_view.stream(ctx.sessions, filters, tz)
        )
        return StreamingResponse(
            report_export.csv_chunks(audit_view.COLUMNS, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    with ctx.sessions() as db:
        page = list(audit_view.entries(db, filters, tz, audit_view.PAGE))
    return {
        "entries": page,
        "next_after_id": page[-1]["id"] if len(page) == audit_view.PAGE else None,
    }
