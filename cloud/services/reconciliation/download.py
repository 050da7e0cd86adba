"""Fetching a day's statement file from a payment channel through its SDK, unpacked to the
bytes statements.py reads. Never: parse or store anything; never called by tests (no sandbox
bill exists offline): the unpacking below is what they check.

- WeChat Pay (wechatpayv3): ``WeChatPay.trade_bill(bill_date, bill_type="ALL",
  tar_type="GZIP")`` answers ``{"download_url": ...}``; ``WeChatPay.download_bill(url)`` fetches
  it (no signature on the file; its SHA-1 is in the first answer). The file is gzip.
- Alipay (python-alipay-sdk has no bill call of its own): the generic ``AliPay.server_api(
  "alipay.data.dataservice.bill.downloadurl.query", biz_content={"bill_type": "trade",
  "bill_date": "YYYY-MM-DD"})`` answers ``bill_download_url``, a zip holding
  ``{account}_{date}_业务明细.csv`` and its ``(汇总)`` summary; we take the detail. Zip names from
  Alipay are GBK without the UTF-8 flag, so Python reads them as cp437 and they are re-read.
"""

from __future__ import annotations

import gzip
import io
import json
import urllib.request
import zipfile
from datetime import date
from typing import Any

from cloud.core.errors import Code, Problem, Thing

DETAIL = "业务明细.csv"
TIMEOUT_S = 30


def wechat_trade_bill(client: Any, day: date) -> bytes:
    """The ``ALL`` trade bill of ``day`` through a ``wechatpayv3.WeChatPay``."""
    code, message = client.trade_bill(bill_date=day.isoformat(), bill_type="ALL", tar_type="GZIP")
    url = _json(message).get("download_url") if code == 200 else None
    if not url:
        raise Problem(
            Code.CHANNEL_ERROR, channel=Thing.WECHAT_PAY, action=Thing.STATEMENT, channel_code=code
        )
    code, content = client.download_bill(url)
    if code != 200 or not isinstance(content, bytes):
        raise Problem(
            Code.CHANNEL_ERROR, channel=Thing.WECHAT_PAY, action=Thing.STATEMENT, channel_code=code
        )
    return unpack_wechat(content)


def unpack_wechat(content: bytes) -> bytes:
    """The bill's CSV from what the download URL gave (gzip, or plain when asked so)."""
    if content[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(content)
        except (OSError, EOFError):
            raise Problem(Code.BAD_STATEMENT, line=0, problem="bad_gzip") from None
    return content


def alipay_business_detail(client: Any, day: date) -> bytes:
    """The 业务明细 of ``day`` through an ``alipay.AliPay`` (GBK bytes)."""
    try:
        result = client.server_api(
            "alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
        )
    except Exception:  # boundary: the SDK raises bare exceptions on a bad signature
        result = {}
    url = result.get("bill_download_url") if isinstance(result, dict) else None
    if not url or not str(url).startswith("https://"):
        raise Problem(
            Code.CHANNEL_ERROR,
            channel=Thing.ALIPAY,
            action=Thing.STATEMENT,
            channel_code=result.get("code") if isinstance(result, dict) else None,
        )
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:  # https only (checked above)
        return unpack_alipay(answer.read())


def unpack_alipay(archive: bytes) -> bytes:
    """The 业务明细 CSV (not its 汇总) from Alipay's bill zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for info in bundle.infolist():
                name = info.filename
                if not info.flag_bits & 0x800:  # no UTF-8 flag: Alipay wrote GBK
                    name = name.encode("cp437").decode("gbk", "replace")
                if name.endswith(DETAIL):
                    return bundle.read(info)
    except zipfile.BadZipFile:
        raise Problem(Code.BAD_STATEMENT, line=0, problem="bad_zip") from None
    raise Problem(Code.BAD_STATEMENT, line=0, problem="no_detail_file")


def _json(message: Any) -> dict[str, Any]:
    try:
        value = json.loads(message) if isinstance(message, str | bytes) else message
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
