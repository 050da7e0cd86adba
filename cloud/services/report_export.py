"""Report exports: CSV and XLSX written as the rows stream by, never the whole report in memory.

Never: hold more than one chunk of rows, or hand a spreadsheet a live formula. Both formats are
generators of byte chunks that the API streams to the client as they come: CSV in UTF-8 with a
byte-order mark (so Excel shows Chinese product names right), XLSX through the streaming
writer in services/xlsx_stream.py.

A text that starts with = + - @ (or a tab or CR) is what Excel and LibreOffice would run as a
formula when the file is opened (CSV injection: a product name or a cashier's note typed as
``=HYPERLINK(...)``). In CSV, which has no types, such a text gets a leading apostrophe, as
OWASP advises; in XLSX it stays an inline string (text, never a formula) with Excel's
quote-prefix style, so its value is unchanged. Numbers are never prefixed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cloud.services.xlsx_stream import FORMULA_START, xlsx_chunks

CSV_CHUNK = 1000  # rows per yielded chunk
BOM = "\ufeff"

__all__ = ["csv_cell", "csv_chunks", "xlsx_chunks"]


def csv_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The header, then the rows, as UTF-8 CSV in chunks of ``CSV_CHUNK`` rows; empty cells
    for None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([csv_cell(c) for c in columns])
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(row.get(c)) for c in columns])
        if count % CSV_CHUNK == 0:
            yield _utf8(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    yield _utf8(buffer.getvalue())


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: "" for None, a text that would start a formula quoted with an
    apostrophe, anything else as it is."""
    if value is None:
        return ""
    if type(value) is str and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _utf8(chunk: str) -> bytes:
    """UTF-8; a lone surrogate (which no real text holds, but a JSON field can) becomes '?'
    rather than ending the download half-way."""
    return chunk.encode("utf-8", errors="replace")
