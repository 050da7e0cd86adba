"""Alipay (支付宝) through python-alipay-sdk: precreate (QR) orders, notifications, refunds.

An Alipay notification is a form POST; the SDK checks its RSA2 signature over the sorted
``key=value`` pairs with the pinned Alipay public key. On top we require our app id, and turn
the yuan amount ("88.00") into fen exactly (anything with more than two decimals is refused).
``debug=True`` selects Alipay's sandbox gateway for orders and refunds.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from alipay import AliPay

from cloud.core.errors import Code, Problem, Thing
from cloud.services.payments.provider import Intent, Notification
from cloud.services.reconciliation import download

PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")


class AlipayProvider:
    name = "alipay"

    def __init__(
        self,
        *,
        appid: str,
        app_private_key: str,
        alipay_public_key: str,
        notify_url: str,
        sandbox: bool = False,
    ) -> None:
        self.appid = appid
        self._client = AliPay(
            appid=appid,
            app_notify_url=notify_url,
            app_private_key_string=app_private_key,
            alipay_public_key_string=alipay_public_key,
            sign_type="RSA2",
            debug=sandbox,
        )

    def create_intent(self, order_no: str, amount_fen: int, description: str) -> Intent:
        result = _accepted(
            self._client.api_alipay_trade_precreate(
                subject=description, out_trade_no=order_no, total_amount=_yuan(amount_fen)
            ),
            Thing.ORDER_REQUEST,
        )
        return Intent(self.name, order_no, amount_fen, pay_url=result.get("qr_code"))

    def verify_notification(self, headers: dict[str, str], body: bytes) -> Notification:
        data: dict[str, Any] = dict(
            parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        )
        signature = data.pop("sign", None)
        try:
            valid = bool(signature) and self._client.verify(dict(data), signature)
        except Exception:  # boundary: the SDK raises on unknown sign types and bad base64
            valid = False
        if not valid:
            raise Problem(Code.BAD_NOTIFICATION_SIGNATURE)
        if data.get("app_id") != self.appid:
            raise Problem(Code.WRONG_MERCHANT)
        try:
            return Notification(
                self.name,
                data["out_trade_no"],
                data["trade_no"],
                _fen(data["total_amount"]),
                data.get("trade_status") in PAID_STATES,
                data,
            )
        except KeyError:
            raise Problem(Code.BAD_NOTIFICATION) from None

    def refund(
        self, order_no: str, provider_txn: str, refund_no: str, amount_fen: int, total_fen: int
    ) -> str:
        _accepted(
            self._client.api_alipay_trade_refund(
                refund_amount=_yuan(amount_fen), out_trade_no=order_no, out_request_no=refund_no
            ),
            Thing.REFUND,
        )
        return refund_no

    def statement(self, day: date) -> bytes:
        """The day's statement file for reconciliation (services/reconciliation/download.py)."""
        return download.alipay_business_detail(self._client, day)


def _accepted(result: dict[str, Any], action: Thing) -> dict[str, Any]:
    """Alipay's answer to a request, if it says success (code 10000), else ``channel_error``
    naming what we asked for and Alipay's code."""
    if result.get("code") != "10000":
        raise Problem(
            Code.CHANNEL_ERROR, channel=Thing.ALIPAY, action=action, channel_code=result.get("code")
        )
    return result


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(yuan: str) -> int:
    try:
        amount = Decimal(yuan)
    except InvalidOperation:
        raise Problem(Code.BAD_NOTIFICATION) from None
    fen = amount * 100
    if fen != fen.to_integral_value() or fen < 0:
        raise Problem(Code.BAD_NOTIFICATION)
    return int(fen)
