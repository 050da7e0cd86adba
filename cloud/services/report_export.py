"""Report exports: CSV and XLSX written as the rows stream by, never the whole report in memory.

Never: hold more than one chunk of rows. CSV is produced as a generator of byte chunks (UTF-8
with a byte-order mark, so Excel shows Chinese product names right); XLSX is written with
openpyxl's ``write_only`` mode, which streams each row to the file's XML as it comes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

CSV_CHUNK = 1000  # rows per yielded chunk
BOM = "\ufeff"


def csv_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The header, then the rows, as UTF-8 CSV in chunks of ``CSV_CHUNK`` rows; empty cells
    for None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
        if count % CSV_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(
    path: Path, title: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> int:
    """One sheet called ``title``: the header row, then the rows (numbers stay numbers);
    how many rows were written."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet name
    sheet.append(list(columns))
    count = 0
    for count, row in enumerate(rows, 1):  # noqa: B007 - the last count is the answer
        sheet.append([_cell(row.get(c)) for c in columns])
    book.save(path)
    return count


def _cell(value: Any) -> Any:
    """A value XLSX can hold: control characters (which a product code typed with one could
    carry) are not allowed in the file's XML, so they become U+FFFD rather than failing."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value
