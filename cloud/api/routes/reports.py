"""Reports for managers, finance and auditors: a summary as JSON, or the summary or every row
as CSV or XLSX (streamed). Every report read is audited (finance data).

Thin: services/reports.py makes the rows and sums, services/report_export.py writes files.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from cloud.api.deps import Context, Source, Staff, role
from cloud.api.staff_schemas import ReportOut
from cloud.services import report_export, reports
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1", tags=["reports"])
Reader = Annotated[Staff, Depends(role("finance", "auditor"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# format=csv and format=xlsx answer a file instead of the JSON (ReportOut).
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or with format=csv or xlsx as a file (attachment)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get("/reports/{name}", response_model=ReportOut, responses=FILES)
def read_report(
    name: str,
    ctx: Context,
    who: Reader,
    where: Source,
    site: Annotated[str, Query(min_length=1, max_length=32)],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    by: Annotated[str | None, Query(max_length=32)] = None,
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
    rows: Annotated[str, Query(pattern="^(summary|detail)$")] = "summary",
) -> dict[str, Any] | StreamingResponse:
    """``sales``, ``entries``, ``refunds``, ``shifts``, ``capacity`` or ``in_park`` for a site
    from ``from`` to ``to`` (site-local days, inclusive), summed ``by`` one column (default the
    report's first), or with ``rows=detail`` every underlying row (CSV or XLSX only)."""
    found = reports.report(name, by)
    group = by or found.by[0]
    with ctx.sessions.begin() as db:
        scope = reports.scope(db, site, start, end)
        audit(db, who.username, where, "read_report", f"report:{name}",
              {"site": site, "from": start.isoformat(), "to": end.isoformat(), "by": group,
               "format": format, "rows": rows}, at=ctx.clock.now())  # fmt: skip
    stream = reports.stream(ctx.sessions, name, scope)
    base = {"site": site, "from": start.isoformat(), "to": end.isoformat()}
    answer: dict[str, Any]
    if rows == "detail" and format != "json":
        columns: tuple[str, ...] = found.columns
        lines: Any = stream
    elif name == "in_park" and group == "hour":
        columns = ("day", "hour", "entries", "exits", "in_park")
        lines = reports.in_park_curve(stream)
        answer = {**base, "report": name, "by": group, "rows": lines}
    else:
        summary = reports.summarise(stream, found, group)
        columns = (group, *found.measures)
        lines = summary["rows"]
        answer = {**base, **summary}
    if format == "json":
        return answer
    filename = f"{name}-{site}-{start.isoformat()}-{end.isoformat()}"
    if format == "csv":
        chunks, media_type = report_export.csv_chunks(columns, lines), "text/csv; charset=utf-8"
    else:
        chunks, media_type = report_export.xlsx_chunks(name, columns, lines), XLSX
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{format}"'},
    )
