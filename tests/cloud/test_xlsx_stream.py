"""The streaming XLSX writer: openpyxl reads back what was written, with its types; hostile
text is escaped, cleaned of what XML forbids, and never a live formula; the file comes in
chunks and stays a valid zip."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from cloud.services import report_export
from cloud.services.xlsx_stream import CHUNK_BYTES, MAX_TEXT, xlsx_chunks

HOSTILE = {
    "specials": "<b>&amp;</b> \"quoted\" 'single' ]]> <?xml?> <!--",
    "control": "DAY\x07\x00\x1b\x0bEND",
    "surrogate": "a\ud800b",
    "noncharacter": "x\ufffey\uffffz",
    "formula": '=HYPERLINK("http://evil","click")',
    "plus": "+1+1",
    "minus": "-2+3",
    "at": "@SUM(A1:A2)",
    "tab": "\t=1",
    "spaces": "  two each side  ",
    "lines": "one\r\ntwo\nthree",
    "chinese": "景区日票 成人",
    "digits": "0012345678",
    "escape": "_x0041_ and _x005F_ and _x12_",  # the format's escape, typed as text
}


def read(data: bytes) -> list[tuple[object, ...]]:
    """The cells as Excel shows them: openpyxl leaves the format's ``_xHHHH_`` escapes in the
    text, Excel decodes them (ECMA-376 ST_Xstring), so they are decoded here as Excel does."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [
        tuple(unescape(c.value) if isinstance(c.value, str) else c.value for c in row)
        for row in book.active.iter_rows()
    ]


def test_numbers_stay_numbers_fen_stay_integers_and_text_stays_text():
    columns = ("at", "hour", "amount_fen", "use_percent", "stopped", "note", "empty")
    rows = [
        {"at": "2026-12-24T09:15:00+08:00", "hour": 9, "amount_fen": 8000, "use_percent": 12.5,
         "stopped": True, "note": "0012", "empty": None},
        {"at": "2026-12-24T23:59:59+08:00", "hour": 23, "amount_fen": -100, "use_percent": 0,
         "stopped": False, "note": "", "empty": None},
    ]  # fmt: skip
    header, first, second = read(b"".join(xlsx_chunks("sales", columns, rows)))
    assert header == columns
    assert first == ("2026-12-24T09:15:00+08:00", 9, 8000, 12.5, True, "0012", None)
    assert second == ("2026-12-24T23:59:59+08:00", 23, -100, 0, False, None, None)
    assert type(first[2]) is int and type(second[2]) is int and type(first[3]) is float


def test_hostile_text_reads_back_as_written_less_the_characters_xml_forbids():
    data = b"".join(xlsx_chunks("entries", tuple(HOSTILE), [HOSTILE]))
    header, row = read(data)
    got = dict(zip(header, row, strict=True))
    expected = dict(HOSTILE)
    expected["control"] = "DAY\ufffd\ufffd\ufffd\ufffdEND"
    expected["surrogate"] = "a\ufffdb"
    expected["noncharacter"] = "x\ufffdy\ufffdz"
    assert got == expected


def test_text_that_starts_like_a_formula_is_text_with_the_quote_prefix_never_a_formula():
    data = b"".join(xlsx_chunks("entries", tuple(HOSTILE), [HOSTILE]))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    quoted = {c.value for c in sheet[2] if c.quotePrefix}
    assert quoted == {HOSTILE[k] for k in ("formula", "plus", "minus", "at", "tab")}
    assert all(c.data_type == "s" for c in sheet[2])
    raw = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in raw and "<f " not in raw


def test_the_csv_export_quotes_text_that_would_start_a_formula_and_leaves_numbers_alone():
    rows = [{"product": "=1+1", "amount_fen": -100, "note": "-x", "plain": "DAY"}]
    text = b"".join(report_export.csv_chunks(tuple(rows[0]), rows)).decode("utf-8-sig")
    assert text.splitlines()[1] == "'=1+1,-100,'-x,DAY"


def test_a_large_sheet_comes_in_chunks_and_is_one_valid_zip():
    rows = ({"n": i, "text": f"row {i} 景区"} for i in range(30_000))
    chunks = list(xlsx_chunks("big", ("n", "text"), rows))
    assert len(chunks) > 2 and all(len(c) >= CHUNK_BYTES for c in chunks[:-1])
    data = b"".join(chunks)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    lines = list(book.active.iter_rows(values_only=True))
    assert len(lines) == 30_001 and lines[-1] == (29_999, "row 29999 景区")


def test_the_same_rows_give_the_same_bytes_compressed_and_dated_by_no_clock():
    def book() -> bytes:
        rows = ({"n": i, "text": "同一行 same row"} for i in range(2_000))
        return b"".join(xlsx_chunks("same", ("n", "text"), rows))

    first = book()
    assert first == book()
    parts = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert {p.date_time for p in parts} == {(1980, 1, 1, 0, 0, 0)}
    assert all(p.compress_type == zipfile.ZIP_DEFLATED for p in parts)
    sheet = next(p for p in parts if p.filename.startswith("xl/worksheets/"))
    assert sheet.compress_size < sheet.file_size / 5


def test_a_text_longer_than_excel_allows_is_cut_and_a_bad_sheet_name_is_cleaned():
    data = b"".join(xlsx_chunks("a/b:c[d]*?" + "x" * 40, ("t",), [{"t": "y" * (MAX_TEXT + 5)}]))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["a_b_c_d___" + "x" * 21]
    assert book.active["A2"].value == "y" * MAX_TEXT


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_number_xml_cannot_hold_is_written_as_its_text(value):
    (_, row) = read(b"".join(xlsx_chunks("s", ("v",), [{"v": value}])))
    assert row == (str(value),)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(), st.integers(-(2**53), 2**53), st.none()), max_size=6))
def test_any_text_or_integer_reads_back_cleaned_and_never_breaks_the_file(values):
    columns = tuple(f"c{i}" for i in range(len(values)))
    row = dict(zip(columns, values, strict=True))
    lines = read(b"".join(xlsx_chunks("s", columns, [row])))
    back = lines[1] if len(lines) > 1 else (None,) * len(values)
    for value, got in zip(values, back, strict=False):
        if isinstance(value, str):
            cleaned = "".join(
                c
                if c in "\t\n\r"
                or (" " <= c <= "\ud7ff")
                or ("\ue000" <= c <= "\ufffd")
                or c > "\uffff"
                else "\ufffd"
                for c in value
            )[:MAX_TEXT]
            assert got == (cleaned or None)
        else:
            assert got == value


@pytest.mark.parametrize(("count", "sheets"), [(4, 2), (5, 3)])
def test_rows_past_excels_limit_go_on_in_another_sheet_with_the_header(count, sheets):
    rows = [{"n": i} for i in range(count)]
    data = b"".join(xlsx_chunks("entries", ("n",), rows, max_rows=3))  # header + 2 rows a sheet
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["entries", "entries (2)", "entries (3)"][:sheets]
    read_back = [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]
    assert all(lines[0] == ("n",) and len(lines) <= 3 for lines in read_back)
    assert [n for lines in read_back for (n,) in lines[1:]] == list(range(count))


def test_text_that_looks_like_the_formats_escape_is_written_so_excel_shows_it_as_typed():
    data = b"".join(xlsx_chunks("s", ("note",), [{"note": "_x0041_B"}]))
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<t>_x005F_x0041_B</t>" in sheet  # Excel: "_" then "x0041_B"
    assert read(data)[1] == ("_x0041_B",)
