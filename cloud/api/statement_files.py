"""A daily statement (a channel's, a partner attraction's) as a CSV download: the answer and
how OpenAPI describes it, shared by their routes (routes never import routes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.responses import PlainTextResponse

CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The day's statement as a CSV file",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def csv_download(text: str, code: str, day: date) -> PlainTextResponse:
    """``text`` as a file named after the account and day, for a browser to save."""
    return PlainTextResponse(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}-{day}.csv"'},
    )
