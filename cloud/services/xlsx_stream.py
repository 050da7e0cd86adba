"""A streaming XLSX writer: one sheet of plain cells, written into a zip as the rows come and
handed on in chunks of bytes.

Never: hold the sheet, or write a formula. An XLSX file (ECMA-376 SpreadsheetML) is a zip of a
few fixed XML parts (content types, relationships, the workbook, one style sheet) and one
worksheet; the worksheet is the only part that grows, and here it is written row by row
through ``zipfile`` into a write-only buffer that the caller drains after every batch of rows.
The zip is unseekable, so each part's sizes follow its data (a data descriptor). Parts are not
forced to Zip64 (whose headers on a small part some readers take badly): a sheet holds at most
Excel's 1,048,576 rows, about 250 MB of XML at the reports' row sizes, far under Zip64's 4 GiB;
more rows go on in further sheets.

Why not openpyxl: its ``write_only`` mode builds an element per cell and costs about 9 s per
400,000 cells on this machine under load (bench/reports.py measured it); this writer formats
strings and is several times faster. openpyxl stays in the tests, which read files back.

Cells:
- int and float: numbers (``<v>``), so fen stay integers and sums work in Excel; bool: a
  boolean; None: an empty cell. Anything else (dates, times: the reports already give times as
  ISO text in the site's zone) is written as its text.
- str: an inline string, XML-escaped, so it is text to Excel even if it looks like a formula or
  a number (an order number keeps its leading digits). Characters XML 1.0 forbids (control
  characters other than tab, LF and CR; surrogates; U+FFFE/U+FFFF) become U+FFFD, so a product
  code typed with a stray control character shows that something was there instead of breaking
  the file. A text starting with = + - @ (or a tab or CR) also gets the quote-prefix style
  (Excel's leading apostrophe), so editing the cell in Excel keeps it text and never makes it
  a live formula (CSV-injection guard, as the CSV export's leading apostrophe).
- Texts are cut at 32,767 characters, Excel's limit for a cell.
- A text holding what looks like the format's own escape, ``_xHHHH_`` (ECMA-376 ST_Xstring:
  Excel reads ``_x0041_`` as "A"), has its underscore escaped (``_x005F_x0041_``), so a product
  name or a note typed as ``_x0041_`` shows as typed, not as another character.
"""

from __future__ import annotations

import itertools
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

# Level 3 by measurement (bench/reports.py and a writer-only run, 50,000 entry rows): as fast
# as level 1 (the sheet's XML is repetitive) and the file 8% smaller; level 6 was 10-25% slower
# for 10% less.
COMPRESSLEVEL = 3
ROWS_PER_WRITE = 500  # rows formatted, then written to the zip in one call
CHUNK_BYTES = 64 * 1024  # hand on the zip's bytes once at least this many are waiting
MAX_TEXT = 32_767  # characters in one cell (Excel's limit)
MAX_ROWS = 1_048_576  # rows in one sheet (Excel's limit)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_WORK = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LOOKS_ESCAPED = re.compile("_x[0-9A-Fa-f]{4}_")
_QUOTED = 1  # the style (cellXfs index) with quotePrefix, see _STYLES

_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_ROOT_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
# Two cell formats: 0 the default, 1 the same with quotePrefix (text that must stay text).
_STYLES = (
    _HEAD + f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)  # fmt: skip
_SHEET_START = _HEAD + f'<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"


def xlsx_chunks(
    title: str,
    columns: Sequence[str],
    rows: Iterable[dict[str, Any]],
    compresslevel: int = COMPRESSLEVEL,
    max_rows: int = MAX_ROWS,
) -> Iterator[bytes]:
    """The workbook, as chunks of at least ``CHUNK_BYTES`` (the last may be shorter): a sheet
    called ``title`` (cut to Excel's 31 characters) with the header row, then one row per
    item of ``rows`` (its values for ``columns``, in that order). Past ``max_rows`` rows
    (Excel's limit, the header included) the rows go on in another sheet, "title (2)" and so
    on, each with the header; the parts that list the sheets are written last."""
    spool = _Spool()
    letters = [_column_letter(i) for i in range(len(columns))]
    header = _row(1, letters, list(columns))
    source: Iterator[dict[str, Any]] = iter(rows)
    sheets = 0
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as book:
        book.writestr(_part("xl/styles.xml", compresslevel), _STYLES)
        more = True
        while more:
            sheets += 1
            more = False
            with book.open(_part(f"xl/worksheets/sheet{sheets}.xml", compresslevel), "w") as sheet:
                sheet.write((_SHEET_START + header).encode())
                batch: list[str] = []
                number = 1
                for row in source:
                    number += 1
                    batch.append(_row(number, letters, [row.get(c) for c in columns]))
                    if len(batch) == ROWS_PER_WRITE:
                        sheet.write("".join(batch).encode())
                        batch.clear()
                        if spool.size >= CHUNK_BYTES:
                            yield spool.take()
                    if number == max_rows:
                        following = next(source, None)
                        if following is not None:
                            source, more = itertools.chain([following], source), True
                        break
                sheet.write(("".join(batch) + _SHEET_END).encode())
        book.writestr(_part("xl/workbook.xml", compresslevel), _workbook(title, sheets))
        book.writestr(_part("xl/_rels/workbook.xml.rels", compresslevel), _workbook_rels(sheets))
        book.writestr(_part("[Content_Types].xml", compresslevel), _content_types(sheets))
        book.writestr(_part("_rels/.rels", compresslevel), _ROOT_RELS)
    yield spool.take()


def _part(name: str, compresslevel: int) -> zipfile.ZipInfo:
    """A part of the workbook dated 1980-01-01 (the zip format's first day), not now: zipfile
    would read the machine's clock and zone, and the same rows give the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = compresslevel  # type: ignore[attr-defined]  # its only name in 3.11
    return info


def text(value: str) -> str:
    """``value`` as it can stand in XML 1.0 text: escaped, forbidden characters as U+FFFD."""
    value = _FORBIDDEN.sub("\ufffd", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r", "&#13;")  # a bare CR would be read back as LF


def _row(number: int, letters: list[str], values: list[Any]) -> str:
    cells = []
    for letter, value in zip(letters, values, strict=True):
        kind = type(value)
        if value is None or value == "":
            continue
        if kind is int or (kind is float and math.isfinite(value)):
            cells.append(f'<c r="{letter}{number}"><v>{value!r}</v></c>')
        elif kind is str:
            cells.append(_text_cell(f"{letter}{number}", value))
        elif kind is bool:
            cells.append(f'<c r="{letter}{number}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, int) and not isinstance(value, bool):
            cells.append(f'<c r="{letter}{number}"><v>{int(value)}</v></c>')
        else:
            cells.append(_text_cell(f"{letter}{number}", str(value)))
    return f'<row r="{number}">{"".join(cells)}</row>'


def _text_cell(ref: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT]
    style = f' s="{_QUOTED}"' if value.startswith(FORMULA_START) else ""
    if _NEEDS_WORK.search(value):
        value = text(value)
    if "_x" in value:
        value = _LOOKS_ESCAPED.sub(r"_x005F\g<0>", value)
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'


def _workbook(title: str, sheets: int) -> str:
    """The workbook part naming the sheets. A sheet name may not hold : \\ / ? * [ ] and has
    at most 31 characters (Excel refuses the file otherwise)."""
    name = re.sub(r"[:\\/?*\[\]]", "_", title) or "Sheet"
    names = [name[:31]] + [f"{name[:25]} ({n})" for n in range(2, sheets + 1)]
    listed = "".join(
        f'<sheet name="{text(sheet).replace(chr(34), "&quot;")}" sheetId="{n}" r:id="rId{n}"/>'
        for n, sheet in enumerate(names, 1)
    )
    return (
        _HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{listed}</sheets></workbook>'
    )


def _workbook_rels(sheets: int) -> str:
    listed = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return _HEAD + f'<Relationships xmlns="{_PKG_REL}">{listed}{styles}</Relationships>'


def _content_types(sheets: int) -> str:
    listed = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_SHEETML}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEETML}.sheet.main+xml"/>'
        f"{listed}"
        f'<Override PartName="/xl/styles.xml" ContentType="{_SHEETML}.styles+xml"/>'
        "</Types>"
    )


def _column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


class _Spool:
    """Where the zip is written: a write-only file without ``tell`` or ``seek`` (so zipfile
    streams, writing sizes after data) whose bytes are taken away as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the bytes wait in ``_parts`` until taken."""

    def close(self) -> None:
        """Nothing to close (zipfile leaves a file it was handed open anyway)."""

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return out
