"""Reading payment-channel statement files into lines: WeChat Pay's trade bill, Alipay's
business detail (业务明细) and a generic CSV. Pure: bytes in, ``Line``s out, nothing stored.

Never: guess. A file whose header lacks a column we need, a row that does not parse, or a
summary that disagrees with the rows (a truncated download) is refused whole with
``Problem(Code.BAD_STATEMENT, line=N, problem=...)``: a half-read statement would report
every missing row as "missing on the channel's side".

**WeChat Pay trade bill** (交易账单, ``GET /v3/bill/tradebill`` then the download URL; the
``ALL`` type), UTF-8 CSV. The first line names the columns; every value of a data row starts
with a backtick (`` ` ``) so spreadsheets keep long numbers as text; then a summary header
(``总交易单数,...``) and one summary row whose first value is the number of data rows. Columns
are found by name (the v2 bill has fewer of them): 微信订单号 (the transaction id our payments
carry), 商户订单号 (our order number), 交易状态 (``SUCCESS`` paid, ``REFUND`` a refund row,
``REVOKED``...), 订单金额 or else 应结订单金额 (yuan), 商户退款单号 (our refund number), 退款金额,
退款状态 (``SUCCESS``, ``PROCESSING``, ...), 交易时间.

**Alipay business detail** (``{account}_{date}_业务明细.csv`` inside the zip that
``alipay.data.dataservice.bill.downloadurl.query`` points to), GBK. Lines starting with ``#``
are header and footer (account, dates, ``#交易合计：N笔``, ``#退款合计：M笔``); the rest is a
column line and rows whose values often end in a tab. Columns: 支付宝交易号, 商户订单号, 业务类型
(交易 a payment, 退款 a refund), 订单金额（元） (negative on refunds), 退款批次号/请求号 (our refund
number), 完成时间. Alipay lists only finished business, so every row's status is final.

**Generic CSV** (UTF-8, any other channel, e.g. a UnionPay export turned into this shape):
``order_no,channel_txn,amount_fen,status,time`` and optionally ``kind`` (payment | refund,
default payment) and ``refund_no`` (required on refunds). ``status`` is ``SUCCESS`` for money
that moved.

Status words are normalised: a payment that succeeded is ``paid``, a refund that succeeded is
``refunded``; anything else keeps the channel's word in lower case (``processing``,
``revoked``), so it differs from ours and is listed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cloud.core.errors import Code, Problem

FORMATS = ("wechat", "alipay", "generic")


@dataclass(frozen=True)
class Line:
    kind: str  # payment | refund
    key: str  # the channel's transaction id (payment) or our refund number (refund)
    order_no: str
    amount_fen: int  # positive, for refunds too
    status: str  # paid | refunded | the channel's word in lower case
    at: str


def parse(fmt: str, raw: bytes) -> list[Line]:
    """The lines of a statement file in format ``fmt`` (``FORMATS``)."""
    if fmt == "wechat":
        return parse_wechat(raw)
    if fmt == "alipay":
        return parse_alipay(raw)
    if fmt == "generic":
        return parse_generic(raw)
    raise Problem(Code.BAD_STATEMENT, line=0, problem="unknown_format", format=fmt)


def parse_wechat(raw: bytes) -> list[Line]:
    rows = list(_csv_rows(_decode(raw, "utf-8-sig")))
    if not rows:
        raise _bad(1, "empty")
    header = [h.strip() for h in rows[0]]
    summary_at = next(
        (i for i, row in enumerate(rows) if row and row[0].strip().startswith("总交易单数")), None
    )
    if summary_at is None or summary_at + 1 >= len(rows):
        raise _bad(len(rows), "no_summary")
    data = rows[1:summary_at]
    declared = _int(_tick(rows[summary_at + 1][0]), summary_at + 2)
    if declared != len(data):
        raise _bad(summary_at + 2, "count_differs", declared=declared, found=len(data))
    column = _columns(header, 1)
    amount_col = "订单金额" if "订单金额" in header else "应结订单金额"
    lines = []
    for number, row in enumerate(data, start=2):
        value = {name: _tick(row[i]) if i < len(row) else "" for name, i in column.items()}
        need = ("微信订单号", "商户订单号", "交易状态", amount_col, "交易时间")
        _require(value, need, number)
        state = value["交易状态"].upper()
        if state == "REFUND":
            _require(value, ("商户退款单号", "退款金额", "退款状态"), number)
            refunded = value["退款状态"].upper()
            lines.append(
                Line(
                    "refund",
                    value["商户退款单号"],
                    value["商户订单号"],
                    _fen(value["退款金额"], number),
                    "refunded" if refunded == "SUCCESS" else refunded.lower(),
                    value["交易时间"],
                )
            )
        else:
            lines.append(
                Line(
                    "payment",
                    value["微信订单号"],
                    value["商户订单号"],
                    _fen(value[amount_col], number),
                    "paid" if state == "SUCCESS" else state.lower(),
                    value["交易时间"],
                )
            )
    return lines


_ALIPAY_COUNT = re.compile(r"#(交易|退款)合计[:：]\s*(\d+)\s*笔")


def parse_alipay(raw: bytes) -> list[Line]:
    text = _decode(raw, "gb18030")  # GB18030 reads every GBK file, and a few more characters
    declared: dict[str, int] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            found = _ALIPAY_COUNT.match(line.strip())
            if found:
                declared[found.group(1)] = int(found.group(2))
        elif line.strip():
            body.append(line)
    rows = list(_csv_rows(body))
    if not rows:
        raise _bad(1, "no_header")
    if set(declared) != {"交易", "退款"}:
        raise _bad(len(text.splitlines()), "no_summary")
    column = _columns([h.strip() for h in rows[0]], 1)
    lines = []
    counted = {"交易": 0, "退款": 0}
    for number, row in enumerate(rows[1:], start=2):
        value = {name: row[i].strip() if i < len(row) else "" for name, i in column.items()}
        _require(value, ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）"), number)
        business = value["业务类型"]
        amount = abs(_fen(value["订单金额（元）"], number, signed=True))
        at = value.get("完成时间") or value.get("创建时间", "")
        if business == "交易":
            counted["交易"] += 1
            lines.append(
                Line("payment", value["支付宝交易号"], value["商户订单号"], amount, "paid", at)
            )
        elif business == "退款":
            counted["退款"] += 1
            _require(value, ("退款批次号/请求号",), number)
            lines.append(
                Line(
                    "refund",
                    value["退款批次号/请求号"],
                    value["商户订单号"],
                    amount,
                    "refunded",
                    at,
                )
            )
        else:
            raise _bad(number, "unknown_business_type", value=business)
    if counted != declared:
        raise _bad(
            len(text.splitlines()),
            "count_differs",
            declared=declared["交易"] + declared["退款"],
            found=counted["交易"] + counted["退款"],
        )
    return lines


def parse_generic(raw: bytes) -> list[Line]:
    rows = list(_csv_rows(_decode(raw, "utf-8-sig")))
    if not rows:
        raise _bad(1, "empty")
    column = _columns([h.strip().lower() for h in rows[0]], 1)
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        value = {name: row[i].strip() if i < len(row) else "" for name, i in column.items()}
        _require(value, ("order_no", "channel_txn", "amount_fen", "status"), number)
        kind = value.get("kind") or "payment"
        if kind not in ("payment", "refund"):
            raise _bad(number, "bad_kind", value=kind)
        amount = _int(value["amount_fen"], number)
        if amount < 0:
            raise _bad(number, "negative_amount")
        state = value["status"].upper()
        if kind == "refund":
            _require(value, ("refund_no",), number)
            key, status = value["refund_no"], "refunded" if state == "SUCCESS" else state.lower()
        else:
            key, status = value["channel_txn"], "paid" if state == "SUCCESS" else state.lower()
        lines.append(Line(kind, key, value["order_no"], amount, status, value.get("time", "")))
    return lines


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _bad(raw[: exc.start].count(b"\n") + 1, "wrong_encoding", encoding=encoding) from None


def _csv_rows(text: str | list[str]) -> Iterator[list[str]]:
    source = io.StringIO(text) if isinstance(text, str) else iter(text)
    try:
        yield from csv.reader(source)
    except csv.Error:
        raise _bad(0, "not_csv") from None


def _columns(header: list[str], number: int) -> dict[str, int]:
    if len(set(header)) != len(header):
        raise _bad(number, "duplicate_column")
    return {name: i for i, name in enumerate(header) if name}


def _require(value: dict[str, str], names: tuple[str, ...], number: int) -> None:
    missing = [name for name in names if not value.get(name)]
    if missing:
        raise _bad(number, "missing_value", columns=",".join(missing))


def _tick(cell: str) -> str:
    """A WeChat bill value without its leading backtick."""
    cell = cell.strip()
    return cell[1:].strip() if cell.startswith("`") else cell


def _fen(yuan: str, number: int, signed: bool = False) -> int:
    """Yuan text ("88.00", "-88.00") as fen, exactly; more than two decimals is refused."""
    try:
        amount = Decimal(yuan.replace(",", ""))
    except InvalidOperation:
        raise _bad(number, "bad_amount", value=yuan) from None
    fen = amount * 100
    if fen != fen.to_integral_value() or (fen < 0 and not signed):
        raise _bad(number, "bad_amount", value=yuan)
    return int(fen)


def _int(text: str, number: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _bad(number, "bad_number", value=text) from None


def _bad(line: int, problem: str, **details: Any) -> Problem:
    """422 ``bad_statement``: ``problem`` is a token (``no_summary``, ``count_differs``,
    ``missing_value``...), the texts are errors.py's; ``details`` say more."""
    return Problem(Code.BAD_STATEMENT, line=line, problem=problem, **details)
